package routing_test

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/beckonhq/beckon/internal/routing"
)

func TestReplay(t *testing.T) {
	p := pool("rr", routing.RoundRobin, "usr_dana", "usr_sam", "usr_ann")
	p.Members[2].Weight = 2
	c := compileCfg(t, routing.Config{
		Teams: []routing.Team{{ID: "support", Name: "Support", Members: []string{"usr_kim", "usr_sam"}}},
		Pools: []routing.Pool{p, pool("all", routing.Broadcast, "usr_kim", "usr_sam")},
		Rules: []routing.Rule{
			{ID: "owned", Name: "Owned", When: json.RawMessage(`{"subject": "account.owner_present", "op": "is", "value": true}`),
				Then: routing.Target{Kind: routing.KindOwner, Pool: "rr", Fallback: &routing.Target{Kind: routing.KindPool, Pool: "rr"}}},
			{ID: "us", Name: "US", When: json.RawMessage(`{"subject": "geo.country", "op": "eq", "value": "US"}`), Then: to(routing.KindPool, "all")},
			{ID: "meet", Name: "Meetings", When: json.RawMessage(`{"subject": "session.page_url", "op": "contains", "value": "demo"}`), Then: to(routing.KindBooker, "")},
			{ID: "help", Name: "Help", When: json.RawMessage(`{"subject": "session.page_url", "op": "contains", "value": "help"}`), Then: to(routing.KindTeam, "support")},
		},
		Default:        to(routing.KindPool, "rr"),
		OwnerTakesTurn: true,
	}, env)

	// The recorded ledger belongs to the configuration that was live; Replay ignores it.
	skewed := routing.Ledger{"rr": {V: 0, Pass: map[string]int64{"usr_dana": 1 << 40, "usr_sam": 1 << 40}}}
	var inputs []routing.Input
	add := func(n int, v *routing.Visitor, owner string, reps map[string]routing.RepState) {
		for range n {
			inputs = append(inputs, routing.Input{Facts: v, Owner: owner, Reps: reps, Ledger: skewed})
		}
	}
	everyone := allAvailable()
	add(40, &routing.Visitor{}, "", everyone)                                                                               // round robin: 10, 10, 20
	add(4, &routing.Visitor{Country: "US"}, "", everyone)                                                                   // broadcast to Kim and Sam
	add(3, &routing.Visitor{Session: routing.Session{PageURL: "https://acme.com/demo"}}, "", everyone)                      // booker
	add(2, &routing.Visitor{OwnerPresent: true}, "usr_dana", everyone)                                                      // the owner, taking her turn in rr
	add(1, &routing.Visitor{Session: routing.Session{PageURL: "https://acme.com/help"}}, "", map[string]routing.RepState{}) // nobody: capture
	add(1, &routing.Visitor{Session: routing.Session{PageURL: "https://acme.com/help"}}, "", everyone)                      // the team

	res := routing.Replay(c, inputs)
	if res.Decisions != 51 {
		t.Errorf("decisions %d", res.Decisions)
	}
	if want := map[string]int{"offer": 47, "booker": 3, "capture": 1}; !reflect.DeepEqual(res.Outcomes, want) {
		t.Errorf("outcomes %v", res.Outcomes)
	}
	if want := map[string]int{"": 40, "us": 4, "meet": 3, "owned": 2, "help": 2}; !reflect.DeepEqual(res.Rules, want) {
		t.Errorf("rules %v", res.Rules)
	}
	if want := map[string]int{"usr_dana": 12, "usr_sam": 15, "usr_ann": 20, "usr_kim": 5}; !reflect.DeepEqual(res.Reps, want) {
		t.Errorf("reps %v", res.Reps)
	}
	rr := res.Pools["rr"]
	if rr.Placed != 42 || rr.Strategy != routing.RoundRobin || rr.Name != "Rr sales" {
		t.Errorf("pool rr %+v", rr)
	}
	// 40 turns by weights 1, 1, 2, and two turns Dana took as the owner.
	wantMembers := []routing.MemberShare{
		{UserID: "usr_dana", Name: "Dana Lee", Weight: 1, Offers: 12, Share: 12.0 / 42, WeightShare: 0.25},
		{UserID: "usr_sam", Name: "Sam Roe", Weight: 1, Offers: 10, Share: 10.0 / 42, WeightShare: 0.25},
		{UserID: "usr_ann", Name: "Ann Ray", Weight: 2, Offers: 20, Share: 20.0 / 42, WeightShare: 0.5},
	}
	if !reflect.DeepEqual(rr.Members, wantMembers) {
		t.Errorf("members\n%+v\nwant\n%+v", rr.Members, wantMembers)
	}
	if _, g := routing.Fairness(map[string]int{"a": 12, "b": 10, "c": 20}); rr.MaxMinusMin != 10 || math.Abs(rr.Gini-g) > 1e-12 || g == 0 {
		t.Errorf("fairness %d %v", rr.MaxMinusMin, rr.Gini)
	}
	all := res.Pools["all"]
	if all.Placed != 4 || all.Members[0].Offers != 4 || all.Members[1].Offers != 4 || all.Members[0].Share != 0.5 || all.MaxMinusMin != 0 || all.Gini != 0 {
		t.Errorf("pool all %+v", all)
	}

	// Replay decides as Decide does with the ledger carried from one decision to the next.
	ledger := routing.Ledger{}
	reps := map[string]int{}
	for _, in := range inputs {
		in.Ledger = ledger
		d := c.Decide(in)
		ledger.Apply(d.Turns)
		for _, u := range d.Offer {
			reps[u]++
		}
	}
	if !reflect.DeepEqual(reps, res.Reps) {
		t.Errorf("Decide in a loop offered %v, Replay %v", reps, res.Reps)
	}

	// Nothing to replay.
	empty := routing.Replay(c, nil)
	if empty.Decisions != 0 || empty.Pools["rr"].Members[0].Share != 0 || len(empty.Pools) != 2 {
		t.Errorf("empty replay %+v", empty)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Error(err)
	}
}
