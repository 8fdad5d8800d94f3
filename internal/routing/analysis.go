package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// SimulateRequest is a sample visitor to route without side effects (R5).
type SimulateRequest struct {
	// Visitor describes the sample visitor: fields, session, country, company size, flags.
	Visitor Visitor `json:"visitor"`
	// Owner is the user id of the visitor's account owner, if any.
	Owner string `json:"owner"`
	// Config, when set, is a configuration to simulate instead of the one in force (a draft
	// being edited); "draft": true simulates the saved draft.
	Config json.RawMessage `json:"config,omitempty"`
	Draft  bool            `json:"draft,omitempty"`
	// Reps changes reps' state (by user id): to ask "what if Dana were away?". Reps not named,
	// and what an override leaves out, keep their state now.
	Reps map[string]RepOverride `json:"reps,omitempty"`
}

// RepOverride is a rep's state as a simulation pretends it: Status is "available", "away" or
// "offline"; Load, when given, the open conversations they have.
type RepOverride struct {
	Status string `json:"status"`
	Load   *int   `json:"load,omitempty"`
}

// SimulateResult is the decision a simulation reached.
type SimulateResult struct {
	Config   string   `json:"config"` // "published v3", "default", "draft" or "request"
	Decision Decision `json:"decision"`
}

// MaxSimulateBody bounds a simulate request (a configuration included).
const MaxSimulateBody = MaxConfigSize + 64<<10

// Simulate routes a sample visitor with the configuration in force, the draft or the one
// given, on the reps' state and ledger as they are now, and returns the decision with its trace.
// It writes nothing: no ledger turn, no decision, no ring. It returns the configuration's
// errors (with paths) for a bad one, and errs.Invalid for a bad visitor.
func (s *Service) Simulate(ctx context.Context, wsID string, req SimulateRequest) (*SimulateResult, error) {
	c, label, err := s.pick(ctx, wsID, req.Config, req.Draft)
	if err != nil {
		return nil, err
	}
	if err := checkVisitor(&req.Visitor); err != nil {
		return nil, err
	}
	reps, err := s.opt.Reps(ctx, wsID)
	if err != nil {
		return nil, errs.Op("routing.Simulate", err)
	}
	for id, o := range req.Reps {
		r, ok := reps[id]
		if !ok {
			return nil, errs.Field(errs.Invalid, "reps."+id, "no such user in this workspace")
		}
		switch o.Status {
		case StatusAvailable, StatusAway, StatusOffline:
			r.Status = o.Status
		case "":
		default:
			return nil, errs.Field(errs.Invalid, "reps."+id+".status", "must be available, away or offline")
		}
		if o.Load != nil {
			if *o.Load < 0 || *o.Load > 1000 {
				return nil, errs.Field(errs.Invalid, "reps."+id+".load", "must be 0 to 1000")
			}
			r.Load = *o.Load
		}
		reps[id] = r
	}
	ledger, err := readLedger(ctx, s.db, wsID, "")
	if err != nil {
		return nil, errs.Op("routing.Simulate", err)
	}
	v := req.Visitor
	d := c.Decide(Input{Facts: &v, Owner: req.Owner, Reps: reps, Ledger: ledger})
	return &SimulateResult{Config: label, Decision: d}, nil
}

// maxSampleText bounds each text of a sample visitor, in bytes: real URLs and fields fit.
const maxSampleText = 2048

// checkVisitor bounds a sample visitor's size: at most 200 fields, keys of 100 bytes, texts of
// maxSampleText.
func checkVisitor(v *Visitor) error {
	if len(v.Fields) > 200 {
		return errs.Field(errs.Invalid, "visitor.fields", "at most 200 fields")
	}
	for k, val := range v.Fields {
		if len(k) > 100 || len(val) > maxSampleText {
			return errs.Field(errs.Invalid, "visitor.fields."+k, "too long: at most %d bytes", maxSampleText)
		}
	}
	se := &v.Session
	for name, val := range map[string]string{"visitor.session.page_url": se.PageURL, "visitor.session.referrer": se.Referrer,
		"visitor.session.landing_url": se.LandingURL, "visitor.session.utm_source": se.UTMSource, "visitor.session.utm_medium": se.UTMMedium,
		"visitor.session.utm_campaign": se.UTMCampaign, "visitor.session.utm_term": se.UTMTerm, "visitor.session.utm_content": se.UTMContent,
		"visitor.session.device": se.Device, "visitor.session.language": se.Language, "visitor.country": v.Country,
		"visitor.region": v.Region, "visitor.previous_rep": v.PreviousRep} {
		if len(val) > maxSampleText {
			return errs.Field(errs.Invalid, name, "too long: at most %d bytes", maxSampleText)
		}
	}
	return nil
}

// pick returns the configuration a simulation or replay runs: the one given, the saved draft, or
// the one in force.
func (s *Service) pick(ctx context.Context, wsID string, raw json.RawMessage, draft bool) (*Compiled, string, error) {
	if len(raw) > 0 && string(raw) != "null" {
		env, err := s.opt.Env(ctx, wsID)
		if err != nil {
			return nil, "", errs.Op("routing.pick", err)
		}
		c, err := Compile(raw, env)
		if err != nil {
			return nil, "", prefix(err, "config")
		}
		return c, "request", nil
	}
	if draft {
		d, err := s.GetDraft(ctx, wsID)
		if err != nil {
			return nil, "", err
		}
		env, err := s.opt.Env(ctx, wsID)
		if err != nil {
			return nil, "", errs.Op("routing.pick", err)
		}
		c, err := Compile(d.Body, env)
		if err != nil {
			return nil, "", prefix(err, "draft")
		}
		return c, "draft", nil
	}
	c, v, err := s.Current(ctx, wsID)
	if err != nil {
		return nil, "", err
	}
	if v == 0 {
		return c, "default", nil
	}
	return c, fmt.Sprintf("published v%d", v), nil
}

// prefix puts a configuration error's path under name (config.rules[2].when…).
func prefix(err error, name string) error {
	e := errs.As(err)
	if e == nil {
		return err
	}
	out := *e
	if out.Field == "" {
		out.Field = name
	} else {
		out.Field = name + "." + out.Field
	}
	return &out
}

// ReplayRequest asks what a configuration would have done with the last Days of real routing.
type ReplayRequest struct {
	Days   int             `json:"days"`             // 1 to 90; 7 when 0
	Config json.RawMessage `json:"config,omitempty"` // the configuration to try; the saved draft when absent
}

// ReplayReport compares the configuration tried with what routing really did.
type ReplayReport struct {
	From      time.Time    `json:"from"`
	To        time.Time    `json:"to"`
	Decisions int          `json:"decisions"` // first routings replayed (reroutes are not)
	Truncated bool         `json:"truncated"` // more than MaxReplay: the oldest were left out
	Config    string       `json:"config"`
	Tried     ReplayResult `json:"tried"`  // the configuration tried
	Actual    ReplayResult `json:"actual"` // the configuration in force now, over the same inputs
}

// MaxReplay bounds the decisions one replay reads.
const MaxReplay = 50_000

// Replay runs the first routing decisions of the last Days again with the configuration given
// (or the saved draft) and with the one in force, and returns each one's outcomes, rule counts
// and shares per rep and pool with their fairness figures. It writes nothing. It returns the
// configuration's errors and errs.Invalid for days out of range.
func (s *Service) Replay(ctx context.Context, wsID string, req ReplayRequest) (*ReplayReport, error) {
	if req.Days == 0 {
		req.Days = 7
	}
	if req.Days < 1 || req.Days > 90 {
		return nil, errs.Field(errs.Invalid, "days", "must be 1 to 90")
	}
	noConfig := len(req.Config) == 0 || string(req.Config) == "null"
	tried, label, err := s.pick(ctx, wsID, req.Config, noConfig)
	if err != nil {
		return nil, err
	}
	actual, _, err := s.Current(ctx, wsID)
	if err != nil {
		return nil, err
	}
	to := s.clk.Now()
	from := to.Add(-time.Duration(req.Days) * 24 * time.Hour)
	rep := &ReplayReport{From: from, To: to, Config: label}
	// The newest MaxReplay first routings of the period, read oldest first, one at a time: both
	// configurations decide each as it comes, so memory holds one input, not the period.
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM routing_decisions WHERE workspace_id = $1 AND attempt = 1
		AND created_at >= $2 AND created_at <= $3`, wsID, db.Micro(from), db.Micro(to)).Scan(&total); err != nil {
		return nil, errs.Op("routing.Replay", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT input FROM routing_decisions WHERE workspace_id = $1 AND attempt = 1
		AND created_at >= $2 AND created_at <= $3 ORDER BY created_at, id LIMIT $4 OFFSET $5`,
		wsID, db.Micro(from), db.Micro(to), MaxReplay, max(0, total-MaxReplay))
	if err != nil {
		return nil, errs.Op("routing.Replay", err)
	}
	defer rows.Close()
	rt, ra := NewReplayer(tried), NewReplayer(actual)
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, errs.Op("routing.Replay", err)
		}
		var in Input
		if err := json.Unmarshal([]byte(raw), &in); err != nil {
			return nil, errs.Op("routing.Replay", err)
		}
		rt.Add(in)
		ra.Add(in)
		rep.Decisions++
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Op("routing.Replay", err)
	}
	rep.Truncated = total > MaxReplay
	rep.Tried, rep.Actual = rt.Result(), ra.Result()
	return rep, nil
}

// Report is the distribution of routing over a period (R6).
type Report struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Decisions counts every decision, reroutes included, by outcome.
	Decisions map[string]int `json:"decisions"`
	// Reps counts, by user id, the times routing offered them a visitor (each rep rung by a
	// broadcast counts) and the routed conversations they accepted.
	Reps []RepCount `json:"reps"`
	// Pools are the pools that placed visitors in the period, with their members' shares and
	// fairness (max − min and Gini over the members' offers, those never offered counted 0).
	Pools []PoolCount `json:"pools"`
}

// RepCount is one rep's share of a period's routing: the times routing offered them a visitor,
// and (in Report.Reps) the routed conversations of the period they accepted — their
// assignments, whoever was rung.
type RepCount struct {
	UserID   string `json:"user_id"`
	Name     string `json:"name"`
	Offers   int    `json:"offers"`
	Accepted int    `json:"accepted"`
}

// PoolCount is one pool's share of a period's routing.
type PoolCount struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Strategy    string     `json:"strategy"`
	Placed      int        `json:"placed"`
	Members     []RepCount `json:"members"`
	MaxMinusMin int        `json:"max_minus_min"`
	Gini        float64    `json:"gini"`
}

// MaxReportRange bounds a report's period.
const MaxReportRange = 366 * 24 * time.Hour

// Report counts the decisions of [from, to): outcomes, offers per rep, and per pool the
// members' offers with the fairness figures. Members are the pool's in the configuration in
// force, so a member never offered counts as 0. It returns errs.Invalid for a bad period.
func (s *Service) Report(ctx context.Context, wsID string, from, to time.Time) (*Report, error) {
	if !from.Before(to) {
		return nil, errs.Field(errs.Invalid, "from", "must be before to")
	}
	if to.Sub(from) > MaxReportRange {
		return nil, errs.Field(errs.Invalid, "to", "a report covers at most 366 days")
	}
	c, _, err := s.Current(ctx, wsID)
	if err != nil {
		return nil, err
	}
	out := &Report{From: from, To: to, Decisions: map[string]int{OutcomeOffer: 0, OutcomeBooker: 0, OutcomeCapture: 0}}
	reps := map[string]int{}
	pools := map[string]map[string]int{}
	placed := map[string]int{}
	rows, err := s.db.QueryContext(ctx, `SELECT pool_id, outcome, offered FROM routing_decisions
		WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3`, wsID, db.Micro(from), db.Micro(to))
	if err != nil {
		return nil, errs.Op("routing.Report", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pool, outcome, raw string
		if err := rows.Scan(&pool, &outcome, &raw); err != nil {
			return nil, errs.Op("routing.Report", err)
		}
		out.Decisions[outcome]++
		if outcome != OutcomeOffer {
			continue
		}
		var offered []string
		if err := json.Unmarshal([]byte(raw), &offered); err != nil {
			return nil, errs.Op("routing.Report", err)
		}
		for _, u := range offered {
			reps[u]++
		}
		if pool != "" {
			placed[pool]++
			m := pools[pool]
			if m == nil {
				m = map[string]int{}
				pools[pool] = m
			}
			for _, u := range offered {
				m[u]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Op("routing.Report", err)
	}
	accepted := map[string]int{}
	arows, err := s.db.QueryContext(ctx, `SELECT accepted_by, COUNT(*) FROM routing_offers WHERE workspace_id = $1 AND status = 'accepted'
		AND accepted_by <> '' AND started_at >= $2 AND started_at < $3 GROUP BY accepted_by`, wsID, db.Micro(from), db.Micro(to))
	if err != nil {
		return nil, errs.Op("routing.Report", err)
	}
	for arows.Next() {
		var u string
		var n int
		if err := arows.Scan(&u, &n); err != nil {
			arows.Close()
			return nil, errs.Op("routing.Report", err)
		}
		accepted[u] = n
		if _, ok := reps[u]; !ok {
			reps[u] = 0 // accepted without being rung: picked from Waiting for Rep
		}
	}
	arows.Close()
	for u, n := range reps {
		out.Reps = append(out.Reps, RepCount{UserID: u, Name: c.userName(u), Offers: n, Accepted: accepted[u]})
	}
	slices.SortFunc(out.Reps, func(a, b RepCount) int {
		if a.Offers != b.Offers {
			return b.Offers - a.Offers
		}
		return strings.Compare(a.Name, b.Name)
	})
	cfg := c.Config()
	seen := map[string]bool{}
	for _, p := range cfg.Pools {
		seen[p.ID] = true
		pc := PoolCount{ID: p.ID, Name: p.Name, Strategy: p.Strategy, Placed: placed[p.ID]}
		counts := map[string]int{}
		for _, m := range p.Members {
			n := pools[p.ID][m.UserID]
			counts[m.UserID] = n
			pc.Members = append(pc.Members, RepCount{UserID: m.UserID, Name: c.userName(m.UserID), Offers: n})
		}
		pc.MaxMinusMin, pc.Gini = Fairness(counts)
		out.Pools = append(out.Pools, pc)
	}
	for id, m := range pools { // pools no longer in the configuration
		if seen[id] {
			continue
		}
		pc := PoolCount{ID: id, Name: id, Placed: placed[id]}
		for u, n := range m {
			pc.Members = append(pc.Members, RepCount{UserID: u, Name: c.userName(u), Offers: n})
		}
		slices.SortFunc(pc.Members, func(a, b RepCount) int { return strings.Compare(a.UserID, b.UserID) })
		pc.MaxMinusMin, pc.Gini = Fairness(m)
		out.Pools = append(out.Pools, pc)
	}
	if out.Reps == nil {
		out.Reps = []RepCount{}
	}
	if out.Pools == nil {
		out.Pools = []PoolCount{}
	}
	return out, nil
}

// userName returns a user's name as the configuration's Env knew it, or the id.
func (c *Compiled) userName(id string) string {
	if n := c.names[id]; n != "" {
		return n
	}
	return id
}

// Subjects lists what the workspace's conditions may compare (its fields, the session, place,
// company and account facts, the territories of its draft) with each one's operators, for
// editors.
func (s *Service) Subjects(ctx context.Context, wsID string) ([]SubjectInfo, error) {
	env, err := s.opt.Env(ctx, wsID)
	if err != nil {
		return nil, errs.Op("routing.Subjects", err)
	}
	d, err := s.GetDraft(ctx, wsID)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(d.Body)
	if err != nil {
		cfg = Config{}
	}
	return Subjects(env, cfg), nil
}

// reachable returns the users the configuration could offer a visitor to: the members of its
// pools and teams and the users of its rep targets (owner targets add the visitor's owner, whom
// the caller adds).
func (c *Compiled) reachable() map[string]bool {
	out := map[string]bool{}
	for _, p := range c.pools {
		for _, m := range p.members {
			out[m.id] = true
		}
	}
	for _, t := range c.teams {
		for _, u := range t.members {
			out[u] = true
		}
	}
	var walk func(t *ctarget, depth int)
	walk = func(t *ctarget, depth int) {
		for ; t != nil && depth < maxChain; t, depth = t.next, depth+1 {
			if t.user != "" {
				out[t.user] = true
			}
		}
	}
	walk(c.def, 0)
	for i := range c.rules {
		walk(c.rules[i].then, 0)
	}
	return out
}
