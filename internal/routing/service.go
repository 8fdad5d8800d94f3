package routing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/jobs"
)

// RingJob is the job kind that reroutes a conversation whose rung reps did not accept in time.
const RingJob = "routing.ring"

// Options wires a Service. The reads of other domains come through the functions the app
// supplies, so that routing imports none of them.
type Options struct {
	DB    *db.DB
	Clock clock.Clock
	Log   *slog.Logger
	Jobs  *jobs.Queue
	// Env returns the workspace's visitor fields and users: what configurations are checked
	// against and reps are named by.
	Env func(ctx context.Context, wsID string) (Env, error)
	// Reps returns, by user id, every user's state for a decision: presence and open load.
	Reps func(ctx context.Context, wsID string) (map[string]RepState, error)
	// Visitor returns what routing knows of a visitor (fields, session, place, target account,
	// previous rep) and the user id of the visitor's account owner ("" when unknown).
	Visitor func(ctx context.Context, wsID, visitorID string) (*Visitor, string, error)
	// Waiting reports whether a conversation still waits for a rep (open, nobody accepted).
	Waiting func(ctx context.Context, wsID, convID string) (bool, error)
	// OnOffer runs after each decision commits, first routing and reroutes alike, on the
	// replica that made it: it rings the offered reps and tells the visitor.
	OnOffer func(ctx context.Context, o Offer)
}

// Offer is a committed decision for a conversation, for OnOffer.
type Offer struct {
	WorkspaceID    string
	ConversationID string
	VisitorID      string
	DecisionID     string
	Attempt        int
	Decision       Decision
	// Position is the visitor's place in line: 1 + the conversations rung before it that still
	// wait for the same pool (or team, or reps); 0 when the outcome is not an offer.
	Position int
}

// Service routes conversations (R1–R5): it keeps the configuration's draft and published
// versions, decides with the published one, keeps the round-robin ledger, stores every
// decision with its trace, rings and reroutes, and simulates and replays without side effects.
type Service struct {
	db   *db.DB
	clk  clock.Clock
	log  *slog.Logger
	jobs *jobs.Queue
	opt  Options

	mu    sync.Mutex
	cache map[string]cached // by workspace: the compiled configuration in force
}

type cached struct {
	version int
	c       *Compiled
	at      time.Time
}

// cacheTTL is how long a compiled configuration is used before the newest version number is
// read again: another replica's publish takes effect here within it.
const cacheTTL = 2 * time.Second

// New returns a Service and registers its ring-timeout job with the queue.
func New(o Options) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Service{db: o.DB, clk: o.Clock, log: o.Log, jobs: o.Jobs, opt: o, cache: map[string]cached{}}
	if o.Jobs != nil {
		o.Jobs.Register(RingJob, s.ringTimeout, 5)
	}
	return s
}

// forget drops a workspace's compiled configuration (after a publish here).
func (s *Service) forget(wsID string) {
	s.mu.Lock()
	delete(s.cache, wsID)
	s.mu.Unlock()
}

// Current returns the configuration in force and its version: the newest published version,
// or (version 0) the built-in default — every rep and admin rung at once — when none is.
func (s *Service) Current(ctx context.Context, wsID string) (*Compiled, int, error) {
	now := time.Now() // a cache's age: wall time
	s.mu.Lock()
	e, ok := s.cache[wsID]
	s.mu.Unlock()
	if ok && now.Sub(e.at) < cacheTTL {
		return e.c, e.version, nil
	}
	v, err := latestNumber(ctx, s.db, wsID)
	if err != nil {
		return nil, 0, errs.Op("routing.Current", err)
	}
	if ok && v == e.version && v > 0 {
		e.at = now
	} else {
		env, err := s.opt.Env(ctx, wsID)
		if err != nil {
			return nil, 0, errs.Op("routing.Current", err)
		}
		var c *Compiled
		if v == 0 {
			c, err = CompileConfig(DefaultConfig(env), env)
		} else {
			var body []byte
			if v, body, err = latestVersion(ctx, s.db, wsID); err == nil {
				c, err = Load(body, env)
			}
		}
		if err != nil {
			return nil, 0, errs.Op("routing.Current", err)
		}
		e = cached{version: v, c: c, at: now}
	}
	s.mu.Lock()
	s.cache[wsID] = e
	s.mu.Unlock()
	return e.c, e.version, nil
}

// DefaultConfig is the configuration of a workspace that has published none: one team of every
// active user who takes chats, rung all at once, the first to accept taking the visitor (as a
// small team works before anyone sets routing up); with nobody to ring, email capture.
func DefaultConfig(env Env) Config {
	var members []string
	for id, u := range env.Users {
		if u.Active && u.Role != RoleMeetingsOnly {
			members = append(members, id)
		}
	}
	slices.Sort(members)
	cfg := Config{Default: Target{Kind: KindCapture}}
	if len(members) > 0 {
		cfg.Teams = []Team{{ID: "everyone", Name: "Everyone", Members: members}}
		cfg.Default = Target{Kind: KindTeam, Team: "everyone"}
	}
	return cfg
}

// GetDraft returns the workspace's draft: the saved one, else the newest published version,
// else an empty configuration.
func (s *Service) GetDraft(ctx context.Context, wsID string) (*Draft, error) {
	pub, pubBody, err := latestVersion(ctx, s.db, wsID)
	if err != nil {
		return nil, errs.Op("routing.GetDraft", err)
	}
	d := &Draft{Published: pub}
	var body string
	var at int64
	err = s.db.QueryRowContext(ctx, `SELECT body, updated_by, updated_at FROM routing_drafts WHERE workspace_id = $1`, wsID).
		Scan(&body, &d.UpdatedBy, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if pubBody != nil {
			d.Body = pubBody
		} else {
			d.Body = emptyConfig()
		}
	case err != nil:
		return nil, errs.Op("routing.GetDraft", err)
	default:
		d.Body, d.UpdatedAt = json.RawMessage(body), db.Time(at)
		d.Unpublished = pubBody == nil || string(pubBody) != body
	}
	return d, nil
}

// emptyConfig is the draft of a workspace that never saved nor published one: no rules, the
// default target email capture.
func emptyConfig() json.RawMessage {
	c, _ := CompileConfig(Config{}, Env{})
	b, _ := json.Marshal(stored(c))
	return b
}

// stored is a compiled configuration as drafts and versions keep it: Compile's normalised form
// (defaults filled), its lists empty rather than null in the JSON.
func stored(c *Compiled) Config {
	cfg := c.Config()
	if cfg.Territories == nil {
		cfg.Territories = []Territory{}
	}
	if cfg.Teams == nil {
		cfg.Teams = []Team{}
	}
	if cfg.Pools == nil {
		cfg.Pools = []Pool{}
	}
	if cfg.Rules == nil {
		cfg.Rules = []Rule{}
	}
	return cfg
}

// SaveDraft checks raw and stores it as the workspace's draft (normalised). It returns the
// configuration's errors (errs.Malformed, errs.Invalid naming the JSON path of the bad part,
// errs.TooLarge) and stores nothing then.
func (s *Service) SaveDraft(ctx context.Context, wsID, userID string, raw []byte) (*Draft, error) {
	env, err := s.opt.Env(ctx, wsID)
	if err != nil {
		return nil, errs.Op("routing.SaveDraft", err)
	}
	c, err := Compile(raw, env)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(stored(c))
	if err != nil {
		return nil, errs.Op("routing.SaveDraft", err)
	}
	now := s.clk.Now()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO routing_drafts (workspace_id, body, updated_by, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		wsID, string(body), userID, db.Micro(now)); err != nil {
		return nil, errs.Op("routing.SaveDraft", err)
	}
	return s.GetDraft(ctx, wsID)
}

// Publish makes the draft the configuration in force, as a new version, and returns it. It
// returns the draft's errors when it no longer passes (a rep it names was deactivated since),
// and errs.Conflict when there is no draft or it equals the published version.
func (s *Service) Publish(ctx context.Context, wsID, userID string) (*Version, error) {
	env, err := s.opt.Env(ctx, wsID)
	if err != nil {
		return nil, errs.Op("routing.Publish", err)
	}
	var out *Version
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var body string
		// The draft's row, locked: two admins publishing at once take turns.
		err := tx.QueryRowContext(ctx, `SELECT body FROM routing_drafts WHERE workspace_id = $1`+s.db.ForUpdate(), wsID).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.Conflict, "there is no draft to publish; save one first")
		}
		if err != nil {
			return err
		}
		if _, err := Compile([]byte(body), env); err != nil {
			return err
		}
		v, pub, err := latestVersion(ctx, tx, wsID)
		if err != nil {
			return err
		}
		if pub != nil && string(pub) == body {
			return errs.E(errs.Conflict, "the draft is the same as version %d, which is in force", v)
		}
		now := s.clk.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO routing_versions (workspace_id, version, body, published_by, published_at)
			VALUES ($1, $2, $3, $4, $5)`, wsID, v+1, body, userID, db.Micro(now)); err != nil {
			return err
		}
		out = &Version{Version: v + 1, Body: json.RawMessage(body), PublishedBy: userID, PublishedAt: now}
		return nil
	})
	if err != nil {
		return nil, errs.Op("routing.Publish", err)
	}
	s.forget(wsID)
	return out, nil
}

// Route decides where a conversation's visitor goes (its first routing), records the decision
// with its trace, rings the offered reps until the ring timeout and tells OnOffer. It returns
// the offer; an error leaves nothing recorded.
func (s *Service) Route(ctx context.Context, wsID, convID, visitorID string) (*Offer, error) {
	o, err := s.decide(ctx, wsID, convID, visitorID, 1, nil)
	if err != nil {
		return nil, errs.Op("routing.Route", err)
	}
	return o, nil
}

// errNotRinging aborts a decision whose conversation stopped ringing meanwhile (accepted,
// closed, or already rerouted by another copy of the job).
var errNotRinging = errors.New("routing: the conversation is no longer ringing")

// decide runs one decision and records it atomically with its ledger turn and the offer. A
// reroute (attempt > 1) is recorded only if the conversation is still ringing at attempt-1 when
// its transaction runs: a rep who accepted in the meantime wins, and no turn is spent. It returns
// nil and no error when that was the case.
func (s *Service) decide(ctx context.Context, wsID, convID, visitorID string, attempt int, exclude map[string]bool) (*Offer, error) {
	c, version, err := s.Current(ctx, wsID)
	if err != nil {
		return nil, err
	}
	facts, owner, err := s.opt.Visitor(ctx, wsID, visitorID)
	if err != nil {
		return nil, fmt.Errorf("the visitor's facts: %w", err)
	}
	reps, err := s.opt.Reps(ctx, wsID)
	if err != nil {
		return nil, fmt.Errorf("the reps' state: %w", err)
	}
	if err := s.addRinging(ctx, wsID, convID, reps); err != nil {
		return nil, fmt.Errorf("the reps being rung: %w", err)
	}
	var note string
	if attempt > MaxAttempts {
		// Rung long enough: every rep counts as tried, so the fallback chain ends in the
		// booker or email capture.
		exclude = make(map[string]bool, len(reps))
		for u := range reps {
			exclude[u] = true
		}
		note = fmt.Sprintf("Nobody accepted in %d rings, so routing stopped ringing.", MaxAttempts)
	}
	ledger, err := readLedger(ctx, s.db, wsID, "")
	if err != nil {
		return nil, fmt.Errorf("the ledger: %w", err)
	}
	in := Input{Facts: facts, Owner: owner, Reps: reps, Ledger: ledger, Exclude: exclude}
	excluded := in.Exclude
	decideNow := func() Decision {
		in.Exclude = excluded
		d := c.Decide(in)
		if d.Outcome != OutcomeOffer && len(excluded) > 0 && attempt <= MaxAttempts {
			// Everyone who could take the visitor was rung once without answering: ring them
			// again, from the top, rather than give up while reps are there.
			again := in
			again.Exclude = nil
			if d2 := c.Decide(again); d2.Outcome == OutcomeOffer {
				d2.Trace.Summary = "Everyone who could take the visitor was rung without an answer, so routing rings them again. " + d2.Trace.Summary
				in.Exclude = nil
				return d2
			}
		}
		return d
	}
	d := decideNow()
	if note != "" {
		d.Trace.Summary = note + " " + d.Trace.Summary
	}
	trimTrace(&d.Trace, maxStoredCandidates)
	rec := Record{ID: id.New("rtd"), ConversationID: convID, VisitorID: visitorID, Version: version, Attempt: attempt}
	now := s.clk.Now()
	ring := c.Config().RingSeconds
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		// Claim the conversation's offer first: a reroute goes on only from the attempt it
		// follows, still ringing; a first routing only if there is none.
		if attempt > 1 {
			res, err := tx.ExecContext(ctx, `UPDATE routing_offers SET status = 'rerouting', updated_at = $4
				WHERE conversation_id = $1 AND workspace_id = $2 AND attempt = $3 AND status = 'ringing'`,
				convID, wsID, attempt-1, db.Micro(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errNotRinging
			}
		} else {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM routing_offers WHERE conversation_id = $1 AND workspace_id = $2`,
				convID, wsID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return errNotRinging
			}
		}
		var turn int64
		if len(d.Turns) > 0 {
			pool := d.Turns[0].PoolID
			turns, err := lockPool(ctx, s.db, tx, wsID, pool)
			if err != nil {
				return err
			}
			// Another replica may have taken a turn of this pool since the snapshot: decide
			// again on the pool's state as locked.
			fresh, err := readLedger(ctx, tx, wsID, pool)
			if err != nil {
				return err
			}
			in.Ledger = ledger.Clone()
			if pl := fresh[pool]; pl != nil {
				in.Ledger[pool] = pl
			} else {
				delete(in.Ledger, pool)
			}
			d = decideNow()
			if note != "" {
				d.Trace.Summary = note + " " + d.Trace.Summary
			}
			trimTrace(&d.Trace, maxStoredCandidates)
			if len(d.Turns) > 0 && d.Turns[0].PoolID == pool {
				if turn, err = applyTurns(ctx, tx, wsID, d.Turns, turns); err != nil {
					return err
				}
			} else if len(d.Turns) > 0 {
				return errs.E(errs.Unavailable, "routing changed under the decision; try again")
			}
		}
		rec.RuleID, rec.PoolID, rec.Strategy, rec.Outcome, rec.Offered, rec.Turn, rec.Trace, rec.CreatedAt =
			d.RuleID, d.PoolID, d.Strategy, d.Outcome, d.Offer, turn, d.Trace, now
		if rec.Offered == nil {
			rec.Offered = []string{}
		}
		input, err := json.Marshal(storedInput(c, in))
		if err != nil {
			return err
		}
		offered, _ := json.Marshal(rec.Offered)
		trace, err := json.Marshal(rec.Trace)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO routing_decisions (id, workspace_id, conversation_id, visitor_id, version, attempt,
			rule_id, pool_id, strategy, outcome, offered, turn, input, trace, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			rec.ID, wsID, convID, visitorID, version, attempt, rec.RuleID, rec.PoolID, rec.Strategy, rec.Outcome,
			string(offered), turn, string(input), string(trace), db.Micro(now)); err != nil {
			return err
		}
		tried := make([]string, 0, len(in.Exclude)+len(rec.Offered))
		for u := range in.Exclude {
			tried = append(tried, u)
		}
		tried = append(tried, rec.Offered...)
		slices.Sort(tried)
		tried = slices.Compact(tried)
		triedJSON, _ := json.Marshal(tried)
		status, expires := "exhausted", int64(0)
		group := ""
		switch {
		case rec.PoolID != "":
			group = "pool:" + rec.PoolID
		case d.TeamID != "":
			group = "team:" + d.TeamID
		case len(rec.Offered) > 0:
			group = "rep:" + rec.Offered[0]
		}
		if d.Outcome == OutcomeOffer {
			status, expires = "ringing", db.Micro(now.Add(time.Duration(ring)*time.Second))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO routing_offers (conversation_id, workspace_id, attempt, offered, tried, pool_id, strategy,
				status, expires_at, started_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
			ON CONFLICT (conversation_id) DO UPDATE SET attempt = excluded.attempt, offered = excluded.offered, tried = excluded.tried,
				pool_id = excluded.pool_id, strategy = excluded.strategy, status = excluded.status, expires_at = excluded.expires_at,
				updated_at = excluded.updated_at`,
			convID, wsID, attempt, string(offered), string(triedJSON), group, d.Strategy, status, expires, db.Micro(now)); err != nil {
			return err
		}
		if d.Outcome == OutcomeOffer && s.jobs != nil {
			if _, err := s.jobs.Enqueue(ctx, tx, jobs.NewJob{WorkspaceID: wsID, Kind: RingJob,
				Payload:   ringPayload{Workspace: wsID, Conversation: convID, Visitor: visitorID, Attempt: attempt},
				RunAt:     now.Add(time.Duration(ring) * time.Second),
				DedupeKey: ringKey(wsID, convID, attempt)}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errNotRinging) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	o := &Offer{WorkspaceID: wsID, ConversationID: convID, VisitorID: visitorID, DecisionID: rec.ID, Attempt: attempt,
		Decision: d}
	if d.Outcome == OutcomeOffer {
		if o.Position, err = s.Position(ctx, wsID, convID); err != nil {
			s.log.WarnContext(ctx, "routing: reading the queue position failed", "err", err.Error())
			o.Position = 1
		}
	}
	if s.opt.OnOffer != nil {
		s.opt.OnOffer(ctx, *o)
	}
	return o, nil
}

// maxStoredCandidates bounds the candidates a stored trace keeps over all its targets.
const maxStoredCandidates = 200

// trimTrace keeps at most max candidates over the trace's targets (the chosen ones always),
// counting the rest in More, so that one decision's record stays small whatever the chain.
func trimTrace(t *Trace, max int) {
	left := max
	for i := range t.Targets {
		tt := &t.Targets[i]
		if len(tt.Candidates) <= left {
			left -= len(tt.Candidates)
			continue
		}
		kept := tt.Candidates[:0:0]
		for j, c := range tt.Candidates {
			if j < left || c.Chosen {
				kept = append(kept, c)
			}
		}
		tt.More += len(tt.Candidates) - len(kept)
		tt.Candidates = kept
		left = 0
	}
}

// storedInput is the part of a decision's input replay needs: the facts, the owner, the
// exclusions, and the state of the reps the configuration could offer the visitor to (its
// pools', teams' and rep targets' members, the owner) — not every user of the workspace, nor
// the ledger (replay keeps its own).
func storedInput(c *Compiled, in Input) Input {
	out := in
	out.Ledger = nil
	reach := c.reach()
	out.Reps = make(map[string]RepState, len(reach)+1)
	for u := range reach {
		if r, ok := in.Reps[u]; ok {
			out.Reps[u] = r
		}
	}
	if r, ok := in.Reps[in.Owner]; ok {
		out.Reps[in.Owner] = r
	}
	return out
}

// addRinging counts, in each rep's load, the conversations ringing them alone now (round robin,
// least busy, owner and rep offers): a rep rung for three visitors at once has no room for a
// fourth under a cap of three. Broadcast and team offers ring many reps for one visitor and
// count for none. convID's own offer is left out (a reroute replaces it).
func (s *Service) addRinging(ctx context.Context, wsID, convID string, reps map[string]RepState) error {
	now := db.Micro(s.clk.Now())
	rows, err := s.db.QueryContext(ctx, `SELECT offered FROM routing_offers WHERE workspace_id = $1 AND status = 'ringing'
		AND strategy IN ('round_robin', 'least_busy', 'owner', 'rep') AND expires_at > $2 AND conversation_id <> $3`,
		wsID, now-staleOffer.Microseconds(), convID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return err
		}
		var offered []string
		if json.Unmarshal([]byte(raw), &offered) != nil || len(offered) != 1 {
			continue
		}
		if r, ok := reps[offered[0]]; ok {
			r.Load++
			reps[offered[0]] = r
		}
	}
	return rows.Err()
}

// staleOffer is how long past its ring timeout an offer still counts as ringing (its job runs
// late when the queue is busy); an older one is one whose job gave up, and counts no more.
const staleOffer = 5 * time.Minute

// Position returns the visitor's place in line for a ringing conversation: 1 + the ringing
// conversations of the same pool, team or rep that began ringing earlier (a reroute keeps its
// place). It returns 0 when the conversation is not ringing.
func (s *Service) Position(ctx context.Context, wsID, convID string) (int, error) {
	var group string
	var started int64
	err := s.db.QueryRowContext(ctx, `SELECT pool_id, started_at FROM routing_offers WHERE conversation_id = $1 AND workspace_id = $2
		AND status = 'ringing'`, convID, wsID).Scan(&group, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var ahead int
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM routing_offers WHERE workspace_id = $1 AND status = 'ringing' AND pool_id = $2
		AND started_at < $3 AND expires_at > $4 AND conversation_id <> $5`,
		wsID, group, started, db.Micro(s.clk.Now())-staleOffer.Microseconds(), convID).Scan(&ahead)
	return ahead + 1, err
}

type ringPayload struct {
	Workspace    string `json:"workspace_id"`
	Conversation string `json:"conversation_id"`
	Visitor      string `json:"visitor_id"`
	Attempt      int    `json:"attempt"`
}

// MaxAttempts bounds the reroutes of one conversation; past it the visitor is offered email
// capture rather than another round of ringing.
const MaxAttempts = 20

// ringTimeout reroutes a conversation whose rung reps did not accept within the ring timeout:
// unless it was accepted, closed or rerouted since, the next decision excludes every rep tried.
func (s *Service) ringTimeout(ctx context.Context, j *jobs.Job) error {
	var p ringPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return jobs.Permanent(fmt.Errorf("routing.ring: payload: %w", err))
	}
	var attempt int
	var status, tried string
	err := s.db.QueryRowContext(ctx, `SELECT attempt, status, tried FROM routing_offers WHERE conversation_id = $1 AND workspace_id = $2`,
		p.Conversation, p.Workspace).Scan(&attempt, &status, &tried)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if status != "ringing" || attempt != p.Attempt {
		return nil // accepted, closed or rerouted since
	}
	waiting, err := s.opt.Waiting(ctx, p.Workspace, p.Conversation)
	if err != nil {
		return err
	}
	if !waiting {
		_, err := s.db.ExecContext(ctx, `UPDATE routing_offers SET status = 'ended', updated_at = $3
			WHERE conversation_id = $1 AND workspace_id = $2 AND attempt = $4`, p.Conversation, p.Workspace, db.Micro(s.clk.Now()), attempt)
		return err
	}
	var ex []string
	if err := json.Unmarshal([]byte(tried), &ex); err != nil {
		return jobs.Permanent(fmt.Errorf("routing.ring: tried: %w", err))
	}
	exclude := make(map[string]bool, len(ex))
	for _, u := range ex {
		exclude[u] = true
	}
	_, err = s.decide(ctx, p.Workspace, p.Conversation, p.Visitor, attempt+1, exclude)
	return err
}

// EndOffer marks a conversation's offer accepted (by user) or ended, in the caller's
// transaction (the chat change that accepted or closed it), and cancels its pending ring
// timeout: a busy inbox accepting hundreds of conversations leaves no jobs behind to run for
// nothing. A conversation never routed has no offer: nothing happens.
func (s *Service) EndOffer(ctx context.Context, q db.Queryer, wsID, convID, status, user string) error {
	var attempt int
	var was string
	err := q.QueryRowContext(ctx, `SELECT attempt, status FROM routing_offers WHERE conversation_id = $1 AND workspace_id = $2`+
		s.db.ForUpdate(), convID, wsID).Scan(&attempt, &was)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return errs.Op("routing.EndOffer", err)
	}
	if was != "ringing" && was != "rerouting" && was != "exhausted" {
		return nil
	}
	if _, err := q.ExecContext(ctx, `UPDATE routing_offers SET status = $3, accepted_by = $4, updated_at = $5
		WHERE conversation_id = $1 AND workspace_id = $2`, convID, wsID, status, user, db.Micro(s.clk.Now())); err != nil {
		return errs.Op("routing.EndOffer", err)
	}
	if s.jobs != nil && was == "ringing" {
		if _, err := s.jobs.Cancel(ctx, q, ringKey(wsID, convID, attempt)); err != nil {
			return errs.Op("routing.EndOffer", err)
		}
	}
	return nil
}

// ringKey is the dedupe key of a conversation's ring-timeout job for one attempt.
func ringKey(wsID, convID string, attempt int) string {
	return fmt.Sprintf("%s:%s:%s:%d", RingJob, wsID, convID, attempt)
}
