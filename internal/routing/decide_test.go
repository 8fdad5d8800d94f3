package routing_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/cond"
	"github.com/beckonhq/beckon/internal/routing"
)

func compileCfg(t testing.TB, cfg routing.Config, e routing.Env) *routing.Compiled {
	t.Helper()
	c, err := routing.CompileConfig(cfg, e)
	if err != nil {
		t.Fatalf("CompileConfig: %v", err)
	}
	return c
}

func avail(load int) routing.RepState {
	return routing.RepState{Status: routing.StatusAvailable, Load: load, Active: true, Role: routing.RoleRep}
}

func status(s string) routing.RepState {
	return routing.RepState{Status: s, Active: true, Role: routing.RoleRep}
}

// allAvailable is every chat user of env, available with no conversation.
func allAvailable() map[string]routing.RepState {
	reps := map[string]routing.RepState{}
	for id, u := range env.Users {
		reps[id] = routing.RepState{Status: routing.StatusAvailable, Active: u.Active, Role: u.Role}
	}
	return reps
}

func pool(id, strategy string, ids ...string) routing.Pool {
	p := routing.Pool{ID: id, Name: strings.ToUpper(id[:1]) + id[1:] + " sales", Strategy: strategy}
	for _, u := range ids {
		p.Members = append(p.Members, routing.Member{UserID: u})
	}
	return p
}

func to(kind, ref string) routing.Target {
	switch kind {
	case routing.KindPool:
		return routing.Target{Kind: kind, Pool: ref}
	case routing.KindTeam:
		return routing.Target{Kind: kind, Team: ref}
	case routing.KindRep:
		return routing.Target{Kind: kind, User: ref}
	}
	return routing.Target{Kind: kind}
}

func TestDecideSummaryExample(t *testing.T) {
	c := compileCfg(t, routing.Config{
		Territories: []routing.Territory{{Name: "EMEA", Countries: []string{"DE", "FR"}}},
		Pools:       []routing.Pool{{ID: "emea", Name: "EMEA sales", Members: []routing.Member{{UserID: "usr_sam"}, {UserID: "usr_kim"}, {UserID: "usr_dana"}}}},
		Rules: []routing.Rule{
			{ID: "small", Name: "Small companies", When: json.RawMessage(`{"subject": "company.size", "op": "lt", "value": 50}`), Then: to(routing.KindBooker, "")},
			{ID: "emea", Name: "EMEA enterprise", When: json.RawMessage(`{"all": [{"subject": "geo.territory", "op": "in", "value": ["EMEA"]}, {"subject": "company.size", "op": "gte", "value": 200}]}`),
				Then: to(routing.KindPool, "emea")},
			{ID: "later", Name: "Never reached", Then: to(routing.KindCapture, "")},
		},
	}, env)
	reps := map[string]routing.RepState{"usr_sam": status(routing.StatusAway), "usr_kim": avail(3), "usr_dana": avail(1)}
	ledger := routing.Ledger{"emea": {V: 200, Pass: map[string]int64{"usr_sam": 100, "usr_kim": 200, "usr_dana": 300}}}
	in := routing.Input{Facts: &routing.Visitor{Country: "DE", Fields: map[string]string{"company_size": "201-500"}}, Reps: reps, Ledger: ledger}
	d := c.Decide(in)

	want := "Rule “EMEA enterprise” matched. Pool EMEA sales (round robin): Dana Lee was next in turn; Sam Roe skipped (away); Kim Wu skipped (3 of 3 chats)."
	if d.Trace.Summary != want {
		t.Errorf("Summary\n%s\nwant\n%s", d.Trace.Summary, want)
	}
	if d.RuleID != "emea" || d.Outcome != routing.OutcomeOffer || d.Strategy != routing.RoundRobin || d.PoolID != "emea" ||
		!reflect.DeepEqual(d.Offer, []string{"usr_dana"}) || !reflect.DeepEqual(d.Trace.Chosen, []string{"usr_dana"}) {
		t.Errorf("Decision %+v", d)
	}
	if want := []routing.Turn{{PoolID: "emea", UserID: "usr_dana", Pass: 1_000_300, V: 300}}; !reflect.DeepEqual(d.Turns, want) {
		t.Errorf("Turns %+v, want %+v", d.Turns, want)
	}

	// The rules: the first evaluated and failed on company.size, the second matched; the third
	// was not evaluated.
	rt := d.Trace.Rules
	if len(rt) != 2 || rt[0].ID != "small" || rt[0].Matched || rt[1].Name != "EMEA enterprise" || !rt[1].Matched {
		t.Fatalf("rule traces %+v", rt)
	}
	if got := rt[0].Steps[0].String(); got != "company.size 201 lt 50: false" {
		t.Errorf("step %q", got)
	}
	if got := rt[1].Steps[0].String(); got != "geo.country DE in territory EMEA: true" {
		t.Errorf("step %q", got)
	}

	// The candidates, in turn order, each with why.
	want2 := []routing.Candidate{
		{UserID: "usr_sam", Name: "Sam Roe", Skip: "away", Reason: "is away", Cap: 3, Pass: 100},
		{UserID: "usr_kim", Name: "Kim Wu", Skip: "at_cap", Reason: "has 3 of 3 chats open", Load: 3, Cap: 3, Pass: 200},
		{UserID: "usr_dana", Name: "Dana Lee", Reason: "was next in turn", Load: 1, Cap: 3, Pass: 300, Chosen: true},
	}
	tt := d.Trace.Targets
	if len(tt) != 1 || tt[0].Result != routing.ResultPlaced || tt[0].Pool != "emea" || tt[0].Name != "EMEA sales" || tt[0].Strategy != routing.RoundRobin {
		t.Fatalf("targets %+v", tt)
	}
	if !reflect.DeepEqual(tt[0].Candidates, want2) {
		t.Errorf("candidates\n%+v\nwant\n%+v", tt[0].Candidates, want2)
	}

	// The ledger given is not changed.
	if ledger["emea"].Pass["usr_dana"] != 300 || ledger["emea"].V != 200 {
		t.Error("Decide changed the ledger")
	}
}

func TestRoundRobinRotation(t *testing.T) {
	c := compileCfg(t, routing.Config{Pools: []routing.Pool{pool("p", "", "usr_sam", "usr_ann", "usr_dana")}, Default: to(routing.KindPool, "p")}, env)
	ledger := routing.Ledger{}
	var got []string
	for range 9 {
		d := c.Decide(routing.Input{Reps: allAvailable(), Ledger: ledger})
		got = append(got, d.Offer...)
		ledger.Apply(d.Turns)
	}
	// Ties at the start go by user id.
	want := strings.Fields(strings.Repeat("usr_ann usr_dana usr_sam ", 3))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("offers %v, want %v", got, want)
	}
	if pl := ledger["p"]; pl.V != 2_000_000 || pl.Pass["usr_sam"] != 3_000_000 {
		t.Errorf("ledger %+v", pl)
	}
}

func TestWeights(t *testing.T) {
	p := pool("p", routing.RoundRobin, "usr_sam", "usr_ann", "usr_dana")
	p.Members[0].Weight, p.Members[1].Weight, p.Members[2].Weight = 1, 3, 6
	c := compileCfg(t, routing.Config{Pools: []routing.Pool{p}, Default: to(routing.KindPool, "p")}, env)
	ledger := routing.Ledger{}
	counts := map[string]int{}
	for range 1000 {
		d := c.Decide(routing.Input{Reps: allAvailable(), Ledger: ledger})
		counts[d.Offer[0]]++
		ledger.Apply(d.Turns)
	}
	if want := map[string]int{"usr_sam": 100, "usr_ann": 300, "usr_dana": 600}; !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
}

func TestSkipReasons(t *testing.T) {
	p := pool("p", routing.RoundRobin, "usr_dana")
	p.MaxChats = 2
	c := compileCfg(t, routing.Config{Pools: []routing.Pool{p}, Default: to(routing.KindPool, "p")}, env)
	tests := []struct {
		name    string
		state   *routing.RepState
		exclude bool
		skip    string
		reason  string
	}{
		{"eligible", &routing.RepState{Status: "available", Load: 1, Active: true, Role: "rep"}, false, "", "was next in turn"},
		{"unknown", nil, false, routing.SkipUnknown, "is not a user of this workspace"},
		{"deactivated", &routing.RepState{Status: "available", Role: "rep"}, false, routing.SkipDeactivated, "is deactivated"},
		{"meetings-only", &routing.RepState{Status: "available", Active: true, Role: "meetings_only"}, false, routing.SkipMeetingsOnly, "is a meetings-only user, who never receives chats"},
		{"no answer", &routing.RepState{Status: "available", Active: true, Role: "rep"}, true, routing.SkipNoAnswer, "was rung for this conversation and did not accept"},
		{"offline", &routing.RepState{Status: "offline", Active: true, Role: "rep"}, false, routing.SkipOffline, "is offline"},
		{"no status", &routing.RepState{Active: true, Role: "rep"}, false, routing.SkipOffline, "is offline"},
		{"odd status", &routing.RepState{Status: "busy", Active: true, Role: "rep"}, false, routing.SkipOffline, "is offline"},
		{"away", &routing.RepState{Status: "away", Active: true, Role: "rep"}, false, routing.SkipAway, "is away"},
		{"at the pool's cap", &routing.RepState{Status: "available", Load: 2, Active: true, Role: "rep"}, false, routing.SkipAtCap, "has 2 of 2 chats open"},
		{"over the cap", &routing.RepState{Status: "available", Load: 7, Active: true, Role: "rep"}, false, routing.SkipAtCap, "has 7 of 2 chats open"},
		{"deactivated wins", &routing.RepState{Status: "away", Load: 9}, true, routing.SkipDeactivated, "is deactivated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := routing.Input{Reps: map[string]routing.RepState{}, Exclude: map[string]bool{"usr_dana": tt.exclude}}
			if tt.state != nil {
				in.Reps["usr_dana"] = *tt.state
			}
			d := c.Decide(in)
			cand := d.Trace.Targets[0].Candidates[0]
			if cand.Skip != tt.skip || cand.Reason != tt.reason || cand.Chosen != (tt.skip == "") || cand.Cap != 2 {
				t.Errorf("candidate %+v", cand)
			}
			if tt.skip == "" {
				if d.Outcome != routing.OutcomeOffer {
					t.Errorf("outcome %s", d.Outcome)
				}
				return
			}
			if d.Outcome != routing.OutcomeCapture || len(d.Offer) != 0 || len(d.Turns) != 0 {
				t.Errorf("decision %+v", d)
			}
		})
	}
}

func TestLeastBusy(t *testing.T) {
	p := pool("p", routing.LeastBusy, "usr_sam", "usr_ann", "usr_dana", "usr_kim")
	c := compileCfg(t, routing.Config{Pools: []routing.Pool{p}, Default: to(routing.KindPool, "p")}, env)
	reps := map[string]routing.RepState{"usr_sam": avail(2), "usr_ann": avail(1), "usr_dana": avail(1), "usr_kim": status(routing.StatusAway)}
	ledger := routing.Ledger{"p": {V: 10, Pass: map[string]int64{"usr_ann": 50, "usr_dana": 20}}}
	d := c.Decide(routing.Input{Reps: reps, Ledger: ledger})
	// Ann and Dana have one chat each; Dana's turn comes first.
	if !reflect.DeepEqual(d.Offer, []string{"usr_dana"}) || d.Strategy != routing.LeastBusy {
		t.Fatalf("decision %+v", d)
	}
	if want := []routing.Turn{{PoolID: "p", UserID: "usr_dana", Pass: 1_000_020, V: 20}}; !reflect.DeepEqual(d.Turns, want) {
		t.Errorf("Turns %+v", d.Turns)
	}
	want := "Pool P sales (least busy): Dana Lee had the fewest open chats (1); Kim Wu skipped (away)."
	if d.Trace.Summary != "There are no rules, so the default target applies. "+want {
		t.Errorf("summary %q", d.Trace.Summary)
	}
	var order []string
	for _, c := range d.Trace.Targets[0].Candidates {
		order = append(order, c.UserID+":"+c.Reason)
	}
	if want := []string{"usr_kim:is away", "usr_dana:had the fewest open chats", "usr_ann:could take it, but was not next in turn",
		"usr_sam:could take it, but had more open chats"}; !reflect.DeepEqual(order, want) {
		t.Errorf("candidates %q", order)
	}
	// A rep at the cap is never the least busy.
	reps["usr_dana"], reps["usr_ann"] = avail(3), avail(3)
	if d := c.Decide(routing.Input{Reps: reps, Ledger: ledger}); !reflect.DeepEqual(d.Offer, []string{"usr_sam"}) {
		t.Errorf("offer %v", d.Offer)
	}
}

func TestBroadcastAndTeam(t *testing.T) {
	c := compileCfg(t, routing.Config{
		Teams:   []routing.Team{{ID: "support", Name: "Support", Members: []string{"usr_kim", "usr_sam", "usr_ann"}}},
		Pools:   []routing.Pool{pool("b", routing.Broadcast, "usr_sam", "usr_ann", "usr_dana", "usr_kim")},
		Rules:   []routing.Rule{{ID: "t", Name: "Customers", When: json.RawMessage(`{"subject": "field.customer", "op": "is", "value": true}`), Then: to(routing.KindTeam, "support")}},
		Default: to(routing.KindPool, "b"),
	}, env)
	reps := allAvailable()
	reps["usr_ann"] = status(routing.StatusAway)
	ledger := routing.Ledger{"b": {V: 5}}
	d := c.Decide(routing.Input{Reps: reps, Ledger: ledger})
	if d.Strategy != routing.Broadcast || d.PoolID != "b" || !reflect.DeepEqual(d.Offer, []string{"usr_sam", "usr_dana", "usr_kim"}) || len(d.Turns) != 0 {
		t.Errorf("broadcast %+v", d)
	}
	if want := "Pool B sales (broadcast): ringing Sam Roe, Dana Lee and Kim Wu; 1 skipped (1 away)."; !strings.HasSuffix(d.Trace.Summary, want) {
		t.Errorf("summary %q", d.Trace.Summary)
	}

	d = c.Decide(routing.Input{Facts: &routing.Visitor{Fields: map[string]string{"customer": "TRUE"}}, Reps: reps, Ledger: ledger})
	if d.Strategy != routing.KindTeam || d.TeamID != "support" || d.PoolID != "" || !reflect.DeepEqual(d.Offer, []string{"usr_kim", "usr_sam"}) || len(d.Turns) != 0 {
		t.Errorf("team %+v", d)
	}
	if want := "Rule “Customers” matched. Team Support: ringing Kim Wu and Sam Roe; 1 skipped (1 away)."; d.Trace.Summary != want {
		t.Errorf("summary %q", d.Trace.Summary)
	}
	// A team with nobody available falls to its end: capture.
	for _, id := range []string{"usr_kim", "usr_sam"} {
		reps[id] = avail(3)
	}
	d = c.Decide(routing.Input{Facts: &routing.Visitor{Fields: map[string]string{"customer": "true"}}, Reps: reps})
	if d.Outcome != routing.OutcomeCapture || !strings.Contains(d.Trace.Summary, "Team Support: nobody could take the visitor (1 away, 2 at their chat limit).") {
		t.Errorf("team nobody %+v", d)
	}
}

func TestOwner(t *testing.T) {
	cfg := routing.Config{
		Pools: []routing.Pool{pool("p", routing.RoundRobin, "usr_dana", "usr_sam")},
		Rules: []routing.Rule{{ID: "own", Name: "Owned", Then: routing.Target{Kind: routing.KindOwner, Pool: "p", Fallback: &routing.Target{Kind: routing.KindPool, Pool: "p"}}}},
	}
	cfg.Pools[0].MaxChats = 5
	off := compileCfg(t, cfg, env)
	cfg.OwnerTakesTurn = true
	on := compileCfg(t, cfg, env)
	ledger := routing.Ledger{"p": {V: 1000, Pass: map[string]int64{"usr_dana": 2000, "usr_sam": 1500}}}

	tests := []struct {
		name     string
		c        *routing.Compiled
		owner    string
		state    routing.RepState
		offer    string
		strategy string
		turns    []routing.Turn
		pool     string
		summary  string
	}{
		{"owner, turn kept", off, "usr_dana", avail(0), "usr_dana", routing.KindOwner, nil, "",
			"Rule “Owned” matched. Account owner Dana Lee: offered the visitor; the owner's round-robin turn in pool P sales is kept."},
		{"owner takes turn", on, "usr_dana", avail(0), "usr_dana", routing.KindOwner, []routing.Turn{{PoolID: "p", UserID: "usr_dana", Pass: 1_002_000, V: 1000}}, "p",
			"Rule “Owned” matched. Account owner Dana Lee: offered the visitor; the owner's round-robin turn in pool P sales is used."},
		{"owner outside the pool", on, "usr_kim", avail(0), "usr_kim", routing.KindOwner, nil, "",
			"Rule “Owned” matched. Account owner Kim Wu: offered the visitor."},
		{"owner's cap is the pool's", on, "usr_dana", avail(4), "usr_dana", routing.KindOwner, []routing.Turn{{PoolID: "p", UserID: "usr_dana", Pass: 1_002_000, V: 1000}}, "p", ""},
		{"outside the pool the general cap", on, "usr_kim", avail(4), "usr_sam", routing.RoundRobin, []routing.Turn{{PoolID: "p", UserID: "usr_sam", Pass: 1_001_500, V: 1500}}, "p",
			"Rule “Owned” matched. Account owner Kim Wu: skipped (4 of 3 chats). Fallback to pool P sales (round robin): Sam Roe was next in turn."},
		{"owner away", off, "usr_dana", status(routing.StatusAway), "usr_sam", routing.RoundRobin, []routing.Turn{{PoolID: "p", UserID: "usr_sam", Pass: 1_001_500, V: 1500}}, "p",
			"Rule “Owned” matched. Account owner Dana Lee: skipped (away). Fallback to pool P sales (round robin): Sam Roe was next in turn."},
		{"no owner", off, "", avail(0), "usr_sam", routing.RoundRobin, []routing.Turn{{PoolID: "p", UserID: "usr_sam", Pass: 1_001_500, V: 1500}}, "p",
			"Rule “Owned” matched. Account owner: none known. Fallback to pool P sales (round robin): Sam Roe was next in turn."},
		{"owner not a user", off, "005XX0000012345", avail(0), "usr_sam", routing.RoundRobin, []routing.Turn{{PoolID: "p", UserID: "usr_sam", Pass: 1_001_500, V: 1500}}, "p",
			"Rule “Owned” matched. Account owner 005XX0000012345: skipped (not a user). Fallback to pool P sales (round robin): Sam Roe was next in turn."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reps := allAvailable()
			if tt.owner != "" && tt.owner[0] == 'u' {
				reps[tt.owner] = tt.state
			}
			d := tt.c.Decide(routing.Input{Owner: tt.owner, Reps: reps, Ledger: ledger})
			if !reflect.DeepEqual(d.Offer, []string{tt.offer}) || d.Strategy != tt.strategy || !reflect.DeepEqual(d.Turns, tt.turns) || d.PoolID != tt.pool {
				t.Errorf("decision %+v", d)
			}
			if tt.summary != "" && d.Trace.Summary != tt.summary {
				t.Errorf("summary\n%s\nwant\n%s", d.Trace.Summary, tt.summary)
			}
		})
	}
}

func TestRepTarget(t *testing.T) {
	c := compileCfg(t, routing.Config{
		Rules:   []routing.Rule{{ID: "back", Name: "Back to Dana", When: json.RawMessage(`{"subject": "visitor.previous_rep", "op": "eq", "value": "usr_dana"}`), Then: routing.Target{Kind: routing.KindRep, User: "usr_dana", Fallback: &routing.Target{Kind: routing.KindBooker}}}},
		Default: to(routing.KindCapture, ""),
	}, env)
	v := &routing.Visitor{PreviousRep: "usr_dana"}
	d := c.Decide(routing.Input{Facts: v, Reps: allAvailable()})
	if d.Outcome != routing.OutcomeOffer || d.Strategy != routing.KindRep || !reflect.DeepEqual(d.Offer, []string{"usr_dana"}) || len(d.Turns) != 0 {
		t.Errorf("decision %+v", d)
	}
	d = c.Decide(routing.Input{Facts: v, Reps: allAvailable(), Exclude: map[string]bool{"usr_dana": true}})
	if d.Outcome != routing.OutcomeBooker || d.Trace.Summary != "Rule “Back to Dana” matched. Rep Dana Lee: skipped (rung already, no answer). Fallback to the meeting booker." {
		t.Errorf("decision %+v", d)
	}
	d = c.Decide(routing.Input{Facts: &routing.Visitor{PreviousRep: "usr_sam"}, Reps: allAvailable()})
	if d.Outcome != routing.OutcomeCapture || d.RuleID != "" || d.Trace.Summary != "No rule matched, so the default target applies. Email capture is offered." {
		t.Errorf("decision %+v", d)
	}
}

func TestFallbackChains(t *testing.T) {
	cfg := routing.Config{
		Pools: []routing.Pool{
			pool("first", routing.RoundRobin, "usr_dana", "usr_sam"),
			pool("second", routing.LeastBusy, "usr_kim", "usr_ann"),
			pool("third", routing.Broadcast, "usr_ann"),
		},
		Rules: []routing.Rule{
			{ID: "chain", Name: "Chain", When: json.RawMessage(`{"subject": "session.utm_source", "op": "eq", "value": "chain"}`),
				Then: routing.Target{Kind: routing.KindPool, Pool: "first", Fallback: &routing.Target{Kind: routing.KindPool, Pool: "second", Fallback: &routing.Target{Kind: routing.KindBooker}}}},
			{ID: "pools", Name: "Pools' own", When: json.RawMessage(`{"subject": "session.utm_source", "op": "eq", "value": "pools"}`), Then: to(routing.KindPool, "first")},
			{ID: "explicit", Name: "Explicit", When: json.RawMessage(`{"subject": "session.utm_source", "op": "eq", "value": "explicit"}`),
				Then: routing.Target{Kind: routing.KindPool, Pool: "first", Fallback: &routing.Target{Kind: routing.KindBooker}}},
			{ID: "off", Name: "Switched off", Disabled: true, Then: to(routing.KindBooker, "")},
		},
		Default: to(routing.KindPool, "third"),
	}
	cfg.Pools[0].Fallback = &routing.Target{Kind: routing.KindPool, Pool: "second"}
	cfg.Pools[1].Fallback = &routing.Target{Kind: routing.KindPool, Pool: "third"}
	c := compileCfg(t, cfg, env)
	reps := map[string]routing.RepState{"usr_dana": status("away"), "usr_sam": status("offline"), "usr_kim": avail(3), "usr_ann": avail(3)}
	visit := func(src string) routing.Decision {
		return c.Decide(routing.Input{Facts: &routing.Visitor{Session: routing.Session{UTMSource: src}}, Reps: reps})
	}

	// pool → pool → booker, each explicit.
	d := visit("chain")
	if d.Outcome != routing.OutcomeBooker || d.RuleID != "chain" || len(d.Offer) != 0 || d.Strategy != "" {
		t.Errorf("decision %+v", d)
	}
	if got := results(d); got != "pool first nobody|pool second nobody|booker  terminal" {
		t.Errorf("targets %s", got)
	}
	want := "Rule “Chain” matched. Pool First sales (round robin): nobody could take the visitor (1 offline, 1 away). " +
		"Fallback to pool Second sales (least busy): nobody could take the visitor (2 at their chat limit). Fallback to the meeting booker."
	if d.Trace.Summary != want {
		t.Errorf("summary\n%s\nwant\n%s", d.Trace.Summary, want)
	}

	// pool → its pool's fallback → that pool's fallback → the end: capture.
	d = visit("pools")
	if d.Outcome != routing.OutcomeCapture {
		t.Errorf("decision %+v", d)
	}
	if got := results(d); got != "pool first nobody|pool second nobody the fallback of pool First sales|pool third nobody the fallback of pool Second sales|capture  terminal the end of the fallback chain" {
		t.Errorf("targets %s", got)
	}
	if !strings.HasSuffix(d.Trace.Summary, "Nobody could take the visitor, so email capture is offered.") {
		t.Errorf("summary %s", d.Trace.Summary)
	}

	// A pool target's own fallback replaces the pool's.
	d = visit("explicit")
	if got := results(d); d.Outcome != routing.OutcomeBooker || got != "pool first nobody|booker  terminal" {
		t.Errorf("explicit fallback: %s %s", d.Outcome, got)
	}

	// Somebody in the third pool.
	reps["usr_ann"] = avail(0)
	d = visit("pools")
	if d.Outcome != routing.OutcomeOffer || d.PoolID != "second" || !reflect.DeepEqual(d.Offer, []string{"usr_ann"}) {
		t.Errorf("decision %+v", d)
	}

	// The disabled rule is skipped although it would match everyone; the default applies.
	d = visit("other")
	if d.RuleID != "" || d.PoolID != "third" || len(d.Trace.Rules) != 4 || !d.Trace.Rules[3].Disabled || d.Trace.Rules[3].Matched || d.Trace.Rules[3].Steps != nil {
		t.Errorf("decision %+v", d)
	}
	if !strings.HasPrefix(d.Trace.Summary, "No rule matched, so the default target applies. Pool Third sales (broadcast): ringing Ann Ray.") {
		t.Errorf("summary %s", d.Trace.Summary)
	}
}

// results lists a decision's targets: kind, pool, result and note.
func results(d routing.Decision) string {
	var out []string
	for _, t := range d.Trace.Targets {
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", t.Kind, t.Pool, t.Result, t.Note)))
	}
	return strings.Join(out, "|")
}

func TestNoFactsAndNoReps(t *testing.T) {
	c := mustCompile(t, baseJSON)
	d := c.Decide(routing.Input{})
	// Nothing known: no rule matches, the support team has nobody, the chain ends.
	if d.Outcome != routing.OutcomeCapture || d.RuleID != "" || len(d.Trace.Rules) != 2 {
		t.Errorf("decision %+v", d)
	}
	if b, err := json.Marshal(d); err != nil || !strings.Contains(string(b), `"chosen":[]`) {
		t.Errorf("JSON %s %v", b, err)
	}
}

func TestTraceKeepsChosenInLongPools(t *testing.T) {
	e := routing.Env{Users: map[string]routing.UserInfo{}}
	p := routing.Pool{ID: "big", Name: "Big"}
	reps := map[string]routing.RepState{}
	for i := range 120 {
		id := fmt.Sprintf("usr_%03d", i)
		e.Users[id] = routing.UserInfo{Name: fmt.Sprintf("Rep %d", i), Role: routing.RoleRep, Active: true}
		p.Members = append(p.Members, routing.Member{UserID: id})
		reps[id] = status(routing.StatusOffline)
	}
	reps["usr_100"] = avail(0)
	c := compileCfg(t, routing.Config{Pools: []routing.Pool{p}, Default: to(routing.KindPool, "big")}, e)
	d := c.Decide(routing.Input{Reps: reps})
	tt := d.Trace.Targets[0]
	if len(tt.Candidates) != routing.MaxTraceCandidates || tt.More != 70 {
		t.Fatalf("%d candidates, %d more", len(tt.Candidates), tt.More)
	}
	last := tt.Candidates[len(tt.Candidates)-1]
	if !last.Chosen || last.UserID != "usr_100" || !reflect.DeepEqual(d.Offer, []string{"usr_100"}) {
		t.Errorf("last candidate %+v", last)
	}
	if want := "Pool Big (round robin): Rep 100 was next in turn; Rep 0 skipped (offline); Rep 1 skipped (offline); Rep 2 skipped (offline); 97 more skipped before them."; !strings.HasSuffix(d.Trace.Summary, want) {
		t.Errorf("summary %s", d.Trace.Summary)
	}
	// Broadcast: the first ones as listed.
	p.Strategy = routing.Broadcast
	c = compileCfg(t, routing.Config{Pools: []routing.Pool{p}, Default: to(routing.KindPool, "big")}, e)
	d = c.Decide(routing.Input{Reps: reps})
	if tt := d.Trace.Targets[0]; len(tt.Candidates) != routing.MaxTraceCandidates || tt.More != 70 || !reflect.DeepEqual(d.Trace.Chosen, []string{"usr_100"}) {
		t.Errorf("broadcast trace %d candidates, %d more, chosen %v", len(tt.Candidates), tt.More, d.Trace.Chosen)
	}
}

func TestDecisionJSON(t *testing.T) {
	c := mustCompile(t, baseJSON)
	size := 500.0
	in := routing.Input{
		Facts: &routing.Visitor{Country: "FR", CompanySize: &size, Fields: map[string]string{"company": "Initech"}, Session: routing.Session{PageURL: "https://acme.com/pricing"}},
		Reps:  allAvailable(), Ledger: routing.Ledger{"emea": {V: 7, Pass: map[string]int64{"usr_sam": 9}}},
		Exclude: map[string]bool{"usr_dana": true},
	}
	d := c.Decide(in)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"rule_id":"emea"`, `"outcome":"offer"`, `"strategy":"round_robin"`, `"pool_id":"emea"`, `"offer":["usr_sam"]`,
		`"turns":[{"pool_id":"emea","user_id":"usr_sam","pass":500009,"v":9}]`, `"rules":[{"id":"emea","name":"EMEA enterprise","matched":true,"steps":[{"path":"all[0]"`,
		`"candidates":[{"user_id":"usr_dana","name":"Dana Lee","skip":"no_answer"`, `"result":"placed"`, `"summary":"Rule`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s:\n%s", key, b)
		}
	}
	var back routing.Decision
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, d) {
		t.Errorf("decision after JSON %+v, %v", back, err)
	}

	// An Input recorded as JSON decides the same when read back.
	rec, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var again routing.Input
	if err := json.Unmarshal(rec, &again); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, in) {
		t.Errorf("input after JSON\n%+v\nwant\n%+v", again, in)
	}
	if d2 := c.Decide(again); !reflect.DeepEqual(d2, d) {
		t.Errorf("decision from the recorded input differs")
	}
	if err := json.Unmarshal([]byte(`{"facts": 3}`), &again); err == nil {
		t.Error("bad facts accepted")
	}
}

func TestDecideConcurrently(t *testing.T) {
	c := mustCompile(t, baseJSON)
	in := routing.Input{Facts: &routing.Visitor{Country: "DE", Fields: map[string]string{"company_size": "1000+"}}, Reps: allAvailable(), Ledger: routing.Ledger{}}
	want := c.Decide(in)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if d := c.Decide(in); !reflect.DeepEqual(d, want) {
					t.Error("concurrent decisions differ")
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchSetup builds the decision of BenchmarkDecide: 200 rules of mixed conditions of which the
// 190th matches, 500 reps in 10 pools of 50; the matched pool's members are mostly away or busy,
// so round robin looks through all 50, and in the "fallback" case nobody in it can take the
// visitor, so its fallback pool is tried too.
func benchSetup(tb testing.TB) (*routing.Compiled, routing.Input, routing.Input) {
	e := routing.Env{Fields: env.Fields, Users: map[string]routing.UserInfo{}}
	cfg := routing.Config{Territories: []routing.Territory{
		{Name: "EMEA", Countries: []string{"DE", "FR", "GB", "IT", "ES", "NL"}}, {Name: "AMER", Countries: []string{"US", "CA", "MX", "BR"}},
		{Name: "APAC", Countries: []string{"JP", "AU", "SG", "IN"}}, {Name: "DACH", Countries: []string{"DE", "AT", "CH"}},
	}}
	reps := map[string]routing.RepState{}
	ledger := routing.Ledger{}
	for p := range 10 {
		pl := routing.Pool{ID: fmt.Sprintf("pool-%d", p), Name: fmt.Sprintf("Pool %d", p), Strategy: []string{routing.RoundRobin, routing.LeastBusy}[p%2]}
		ledger[pl.ID] = &routing.PoolLedger{V: 40_000_000, Pass: map[string]int64{}}
		for m := range 50 {
			id := fmt.Sprintf("usr_%d_%02d", p, m)
			e.Users[id] = routing.UserInfo{Name: fmt.Sprintf("Rep %d.%d", p, m), Role: routing.RoleRep, Active: true}
			pl.Members = append(pl.Members, routing.Member{UserID: id, Weight: 1 + m%4})
			st := avail(m % 4)
			switch m % 5 {
			case 0, 1:
				st.Status = routing.StatusAway
			case 2:
				st.Load = 3
			}
			reps[id] = st
			ledger[pl.ID].Pass[id] = 40_000_000 + int64(m*7919%50)*10_000
		}
		if p < 9 {
			pl.Fallback = &routing.Target{Kind: routing.KindPool, Pool: fmt.Sprintf("pool-%d", p+1)}
		}
		cfg.Pools = append(cfg.Pools, pl)
	}
	long := make([]string, 40)
	for i := range long {
		long[i] = fmt.Sprintf("Company %d", i)
	}
	longJSON, _ := json.Marshal(long)
	shapes := []string{
		`{"all": [{"subject": "geo.territory", "op": "in", "value": ["AMER"]}, {"subject": "company.size", "op": "gte", "value": %d}]}`,
		`{"all": [{"subject": "session.page_url", "op": "matches", "value": "*/pricing*"}, {"subject": "field.plan", "op": "eq", "value": "Enterprise"}, {"subject": "account.target", "op": "is", "value": true}]}`,
		`{"any": [{"subject": "field.company", "op": "in", "value": ` + string(longJSON) + `}, {"subject": "field.email", "op": "ends_with", "value": "@co%d.example"}]}`,
		`{"all": [{"subject": "session.utm_source", "op": "eq", "value": "google"}, {"not": {"subject": "geo.country", "op": "in", "value": ["US", "CA", "MX"]}}]}`,
		`{"all": [{"subject": "company.size", "op": "between", "value": [1000, %d]}, {"subject": "geo.region", "op": "in", "value": ["EMEA", "APAC"]}]}`,
		`{"all": [{"subject": "visitor.previous_rep", "op": "exists"}, {"subject": "visitor.previous_rep", "op": "neq", "value": "usr_0_07"}]}`,
		`{"any": [{"subject": "session.referrer", "op": "contains", "value": "bing"}, {"subject": "field.company", "op": "starts_with", "value": "Acme %d"}]}`,
		`{"all": [{"subject": "geo.territory", "op": "not_in", "value": ["EMEA"]}, {"subject": "field.company", "op": "not_contains", "value": "test"}]}`,
	}
	for i := range 200 {
		when := shapes[i%len(shapes)]
		if strings.Contains(when, "%d") {
			when = fmt.Sprintf(when, 5000+i)
		}
		if i == 190 {
			when = `{"all": [{"subject": "geo.territory", "op": "in", "value": ["DACH"]}, {"subject": "company.size", "op": "between", "value": [100, 1000]}, {"subject": "session.page_url", "op": "matches", "value": "*/pricing*"}]}`
		}
		cfg.Rules = append(cfg.Rules, routing.Rule{ID: fmt.Sprintf("r%d", i), Name: fmt.Sprintf("Rule %d", i), When: json.RawMessage(when),
			Then: routing.Target{Kind: routing.KindPool, Pool: fmt.Sprintf("pool-%d", i%10)}})
	}
	c := compileCfg(tb, cfg, e)
	v := &routing.Visitor{
		Fields:  map[string]string{"company": "Initech GmbH", "email": "peter@initech.example", "plan": "Pro", "company_size": "201-500"},
		Session: routing.Session{PageURL: "https://acme.com/pricing/enterprise", Referrer: "https://www.google.de/", UTMSource: "linkedin"},
		Country: "DE", PreviousRep: "usr_0_07",
	}
	in := routing.Input{Facts: v, Reps: reps, Ledger: ledger, Owner: "usr_0_01"}
	// The fallback case: nobody in the matched pool (pool-0) can take the visitor.
	busy := map[string]routing.RepState{}
	for id, st := range reps {
		if strings.HasPrefix(id, "usr_0_") {
			st.Status = routing.StatusOffline
		}
		busy[id] = st
	}
	fb := in
	fb.Reps = busy
	return c, in, fb
}

// BenchmarkDecide measures one decision with its full trace over 200 rules and 500 reps, and
// reports the 50th and 99th percentiles of single decisions as p50-ns and p99-ns.
func BenchmarkDecide(b *testing.B) {
	c, in, fb := benchSetup(b)
	for _, bc := range []struct {
		name string
		in   routing.Input
	}{{"placed", in}, {"fallback", fb}} {
		b.Run(bc.name, func(b *testing.B) {
			d := c.Decide(bc.in)
			if d.RuleID != "r190" || d.Outcome != routing.OutcomeOffer {
				b.Fatalf("decision %+v", d.Trace.Summary)
			}
			b.ReportAllocs()
			times := make([]time.Duration, 0, 1<<16)
			for b.Loop() {
				start := time.Now()
				c.Decide(bc.in)
				if len(times) < cap(times) {
					times = append(times, time.Since(start))
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// BenchmarkReplay replays 1,000 decisions of the benchmark's kind, as Replay makes them (no
// trace), and reports the time per decision as ns/decision.
func BenchmarkReplay(b *testing.B) {
	c, in, fb := benchSetup(b)
	inputs := make([]routing.Input, 1000)
	for i := range inputs {
		inputs[i] = in
		if i%2 == 1 {
			inputs[i] = fb
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		routing.Replay(c, inputs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(inputs)), "ns/decision")
}

// TestDecideLatency makes 10,000 decisions of the benchmark's kind and logs their percentiles
// (go test -v -run TestDecideLatency); it fails only if a decision is wrong, never on time.
func TestDecideLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	c, in, fb := benchSetup(t)
	for name, in := range map[string]routing.Input{"placed": in, "fallback": fb} {
		times := make([]time.Duration, 10_000)
		for i := range times {
			start := time.Now()
			d := c.Decide(in)
			times[i] = time.Since(start)
			if d.Outcome != routing.OutcomeOffer {
				t.Fatal(d.Trace.Summary)
			}
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		t.Logf("%s: p50 %v, p90 %v, p99 %v, max %v", name, times[5000], times[9000], times[9900], times[9999])
	}
}

func TestSummaryOfRules(t *testing.T) {
	off := routing.Rule{ID: "off", Name: "Off", Disabled: true, Then: to(routing.KindBooker, "")}
	tests := []struct {
		rules []routing.Rule
		want  string
	}{
		{nil, "There are no rules, so the default target applies. Email capture is offered."},
		{[]routing.Rule{off}, "No rule is enabled, so the default target applies. Email capture is offered."},
		{[]routing.Rule{off, {ID: "de", Name: "Germany", When: json.RawMessage(`{"subject": "geo.country", "op": "eq", "value": "DE"}`), Then: to(routing.KindBooker, "")}},
			"No rule matched, so the default target applies. Email capture is offered."},
		{[]routing.Rule{off, {ID: "all", Name: "Everyone", Then: to(routing.KindBooker, "")}}, "Rule “Everyone” matched. The meeting booker is offered."},
	}
	for _, tt := range tests {
		c := compileCfg(t, routing.Config{Rules: tt.rules}, env)
		if d := c.Decide(routing.Input{Facts: &routing.Visitor{Country: "FR"}}); d.Trace.Summary != tt.want {
			t.Errorf("summary %q, want %q", d.Trace.Summary, tt.want)
		}
	}
}

func TestNewMemberJoinsAtVirtualTime(t *testing.T) {
	c := compileCfg(t, routing.Config{Pools: []routing.Pool{pool("p", routing.RoundRobin, "usr_ann", "usr_dana", "usr_sam")}, Default: to(routing.KindPool, "p")}, env)
	// Ann and Dana have had many turns (Dana hers in this round already); Sam is new to the pool.
	// He joins level with Ann, who is due, not with a backlog of turns to catch up.
	ledger := routing.Ledger{"p": {V: 50_000_000, Pass: map[string]int64{"usr_ann": 50_000_000, "usr_dana": 51_000_000}}}
	got := run(c, ledger, 9, []string{"usr_ann", "usr_dana", "usr_sam"})
	if want := strings.Fields("usr_ann usr_sam usr_ann usr_dana usr_sam usr_ann usr_dana usr_sam usr_ann"); !reflect.DeepEqual(got, want) {
		t.Errorf("offers %v, want %v", got, want)
	}
}

// BenchmarkDecideBaseline is the reference BenchmarkDecide is read against, in the same run: the
// bare work of the same decision, brute force and without explaining anything — each of the 200
// conditions evaluated in turn until one matches, then a scan of the matched pool's 50 members
// for the available one under its cap with the lowest pass. Decide does this plus the trace,
// the fallback chain and the ledger's turn.
func BenchmarkDecideBaseline(b *testing.B) {
	c, in, _ := benchSetup(b)
	cfg := c.Config()
	e := routing.Env{Fields: env.Fields, Users: map[string]routing.UserInfo{}}
	for id, st := range in.Reps {
		e.Users[id] = routing.UserInfo{Name: st.Name, Role: st.Role, Active: st.Active}
	}
	schema := routing.Schema(e, cfg)
	exprs := make([]*cond.Expr, len(cfg.Rules))
	for i, r := range cfg.Rules {
		x, err := cond.Compile(r.When, "when", schema)
		if err != nil {
			b.Fatal(err)
		}
		exprs[i] = x
	}
	pools := map[string]routing.Pool{}
	for _, p := range cfg.Pools {
		pools[p.ID] = p
	}
	decide := func() string {
		for i, x := range exprs {
			if !x.Eval(in.Facts) {
				continue
			}
			p := pools[cfg.Rules[i].Then.Pool]
			best, bestPass := "", int64(0)
			for _, m := range p.Members {
				st := in.Reps[m.UserID]
				if st.Status != routing.StatusAvailable || st.Load >= cfg.MaxChats {
					continue
				}
				if pass := in.Ledger[p.ID].Pass[m.UserID]; best == "" || pass < bestPass {
					best, bestPass = m.UserID, pass
				}
			}
			return best
		}
		return ""
	}
	if decide() == "" {
		b.Fatal("the baseline placed nobody")
	}
	b.ReportAllocs()
	times := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		start := time.Now()
		decide()
		if len(times) < cap(times) {
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}
