package presence

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// Statuses: Chosen is StatusAvailable or StatusAway; Status is any of the three.
const (
	StatusAvailable = "available"
	StatusAway      = "away"
	StatusOffline   = "offline"
)

// Reasons of a State: why its Status is what it is.
const (
	ReasonChosen       = "chosen"       // the rep chose it (SetStatus)
	ReasonIdle         = "idle"         // no console activity for the workspace's idle timeout
	ReasonDisconnected = "disconnected" // no console socket open on any replica
	ReasonActive       = "active"       // connected and using the console
)

// Defaults for zero Options fields.
const (
	DefaultLease          = 30 * time.Second
	DefaultTick           = 5 * time.Second
	DefaultActiveThrottle = 15 * time.Second
	// DefaultIdleTimeout is used when Options.IdleTimeout is nil or answers zero or less; it is
	// workspace.DefaultSettings().IdleMinutes.
	DefaultIdleTimeout = 10 * time.Minute
)

// sweepBatch bounds how many reps one sweep examines per kind of transition; the rest wait for
// the next Tick.
const sweepBatch = 500

// Subject returns the bus subject on which a workspace's presence events are published:
// "presence.<wsID>".
func Subject(wsID string) string { return "presence." + wsID }

// State is a rep's presence, as returned by Get and List and published on Subject(wsID).
type State struct {
	UserID       string    `json:"user_id"`
	Chosen       string    `json:"chosen"` // what the rep picked: "available" or "away"
	Status       string    `json:"status"` // effective: "available", "away" or "offline"
	Reason       string    `json:"reason"` // "chosen", "idle", "disconnected", "active"
	Connections  int       `json:"connections"`
	LastActiveAt time.Time `json:"last_active_at"`
	// UpdatedAt is when the published state last changed; it increases strictly with every
	// published change of a rep, so consumers order events by it (see the package comment).
	UpdatedAt time.Time `json:"updated_at"`
}

// Options configure a Service.
type Options struct {
	// Node is this replica's id, unique per process (e.g. host/pid/random). Default: the host
	// name, the process id and a random suffix.
	Node string
	// Log receives failures of background work and of publishing; nil discards them.
	Log *slog.Logger
	// IdleTimeout returns a workspace's idle timeout (workspace.Settings.IdleMinutes); nil, or an
	// answer of zero or less, means DefaultIdleTimeout.
	IdleTimeout func(ctx context.Context, wsID string) time.Duration
	// Lease is how long a replica's connection rows count without renewal (default 30 s). Keep it
	// several Ticks long.
	Lease time.Duration
	// Tick is the period of lease renewal and of the sweep in Run (default 5 s).
	Tick time.Duration
	// ActiveThrottle is the shortest interval between two stored activities of a rep from this
	// replica (default 15 s, never more than half the workspace's idle timeout). A rep may idle
	// up to this much earlier than the idle timeout after their last activity.
	ActiveThrottle time.Duration
}

// key names a rep.
type key struct{ ws, user string }

// Service keeps reps' presence. It is safe for concurrent use. Any number of replicas may run
// one on the same database and bus, each with its own Node.
type Service struct {
	d   *db.DB
	clk clock.Clock
	bus bus.Bus
	opt Options
	log *slog.Logger

	running atomic.Bool

	mu      sync.Mutex
	conns   map[key]int       // this node's open sockets per rep; no zero entries
	dirty   map[key]struct{}  // reps whose stored count may differ from conns after a failed write
	active  map[key]time.Time // when this node last stored each rep's activity (the throttle)
	stopped bool              // Run has returned: this node writes no more connection rows
}

// New returns a Service on d that reads the time from clk and publishes on b. Call Run for the
// life of the process: without it, this replica's connections lapse after Lease.
func New(d *db.DB, clk clock.Clock, b bus.Bus, opt Options) *Service {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Lease <= 0 {
		opt.Lease = DefaultLease
	}
	if opt.Tick <= 0 {
		opt.Tick = DefaultTick
	}
	if opt.ActiveThrottle <= 0 {
		opt.ActiveThrottle = DefaultActiveThrottle
	}
	if opt.Node == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "beckon"
		}
		opt.Node = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), strings.TrimPrefix(id.New("n"), "n_")[:8])
	}
	return &Service{
		d: d, clk: clk, bus: b, opt: opt,
		log:    opt.Log.With("component", "presence", "node", opt.Node),
		conns:  map[key]int{},
		dirty:  map[key]struct{}{},
		active: map[key]time.Time{},
	}
}

// Options returns the service's options with defaults filled in.
func (s *Service) Options() Options { return s.opt }

// checkIDs answers errs.NotFound for ids that no workspace or user can have, without a query.
func checkIDs(wsID, userID string) error {
	if !id.Valid("ws", wsID) {
		return errs.NotFoundf("no such workspace")
	}
	if !id.Valid("usr", userID) {
		return errs.NotFoundf("no such user")
	}
	return nil
}

// idleTimeout returns the workspace's idle timeout.
func (s *Service) idleTimeout(ctx context.Context, wsID string) time.Duration {
	if s.opt.IdleTimeout != nil {
		if d := s.opt.IdleTimeout(ctx, wsID); d > 0 {
			return d
		}
	}
	return DefaultIdleTimeout
}

// Connect records that a console socket of the rep opened on this replica, which is also
// activity, and returns the function to call when it closes. release is idempotent and safe to
// call from any goroutine; it records the close even when the request's ctx is gone. It returns
// errs.NotFound for an id no workspace or user can have or a user that does not exist, and
// errs.Unavailable once Run has returned (the replica is shutting down).
func (s *Service) Connect(ctx context.Context, wsID, userID string) (release func(), err error) {
	if err := checkIDs(wsID, userID); err != nil {
		return nil, err
	}
	k := key{wsID, userID}
	now := s.clk.Now()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, errs.E(errs.Unavailable, "the server is shutting down")
	}
	s.conns[k]++
	s.active[k] = now
	s.mu.Unlock()

	idle := s.idleTimeout(ctx, wsID)
	if err := s.change(ctx, k, mutation{sockets: true, activeAt: now}, idle); err != nil {
		s.mu.Lock()
		s.decr(k)
		if !errs.Is(err, errs.NotFound) {
			s.dirty[k] = struct{}{} // a concurrent write may have stored the count we just took back
		}
		delete(s.active, k)
		s.mu.Unlock()
		return nil, errs.Op("presence.Connect", err)
	}
	var once sync.Once
	return func() { once.Do(func() { s.release(k) }) }, nil
}

// decr takes one socket of k off this node's count; s.mu is held.
func (s *Service) decr(k key) {
	if n := s.conns[k]; n > 1 {
		s.conns[k] = n - 1
	} else {
		delete(s.conns, k)
	}
}

// release records that one of k's sockets on this node closed.
func (s *Service) release(k key) {
	s.mu.Lock()
	if _, ok := s.conns[k]; !ok {
		s.mu.Unlock()
		return // Run has returned and forgotten this node's sockets
	}
	s.decr(k)
	if _, ok := s.conns[k]; !ok {
		delete(s.active, k)
	}
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.change(ctx, k, mutation{sockets: true}, s.idleTimeout(ctx, k.ws)); err != nil {
		s.mu.Lock()
		s.dirty[k] = struct{}{} // Refresh writes the count again
		s.mu.Unlock()
		s.log.Warn("presence: recording a closed socket failed; retrying at the next tick", "workspace", k.ws, "user", k.user, "err", err)
	}
}

// Active records that the rep used the console now. It stores the time at most once per
// ActiveThrottle per rep on this replica (or half the idle timeout, when that is shorter) and
// publishes the rep's return when they were idle. It returns errs.NotFound for an id no
// workspace or user can have or a user that does not exist.
func (s *Service) Active(ctx context.Context, wsID, userID string) error {
	if err := checkIDs(wsID, userID); err != nil {
		return err
	}
	k := key{wsID, userID}
	now := s.clk.Now()
	s.mu.Lock()
	last, seen := s.active[k]
	s.mu.Unlock()
	idle := s.idleTimeout(ctx, wsID)
	if seen && now.Sub(last) < min(s.opt.ActiveThrottle, idle/2) && !now.Before(last) {
		return nil
	}
	s.mu.Lock()
	s.active[k] = now
	s.mu.Unlock()
	if err := s.change(ctx, k, mutation{activeAt: now}, idle); err != nil {
		s.mu.Lock()
		if s.active[k].Equal(now) {
			delete(s.active, k)
		}
		s.mu.Unlock()
		return errs.Op("presence.Active", err)
	}
	return nil
}

// SetStatus sets the rep's chosen status, "available" or "away", which is also activity, and
// returns their state. It returns errs.Invalid about "status" for any other value, and
// errs.NotFound for an id no workspace or user can have or a user that does not exist.
func (s *Service) SetStatus(ctx context.Context, wsID, userID, status string) (State, error) {
	if status != StatusAvailable && status != StatusAway {
		return State{}, errs.Field(errs.Invalid, "status", "must be %q or %q", StatusAvailable, StatusAway)
	}
	if err := checkIDs(wsID, userID); err != nil {
		return State{}, err
	}
	k := key{wsID, userID}
	now := s.clk.Now()
	s.mu.Lock()
	if _, ok := s.active[k]; ok {
		s.active[k] = now
	}
	s.mu.Unlock()
	idle := s.idleTimeout(ctx, wsID)
	if err := s.change(ctx, k, mutation{chosen: status, activeAt: now}, idle); err != nil {
		return State{}, errs.Op("presence.SetStatus", err)
	}
	return s.Get(ctx, wsID, userID)
}

// stateCols reads a rep's stored presence and their live sockets on every node; $1 is the
// workspace, $2 the current instant.
const stateCols = `p.user_id, p.chosen, p.published_status, p.published_reason, p.last_active_at, p.updated_at,
	COALESCE((SELECT SUM(c.sockets) FROM presence_connections c
		WHERE c.workspace_id = p.workspace_id AND c.user_id = p.user_id AND c.lease_until > $2), 0)`

// row is a rep's stored presence.
type row struct {
	user, chosen, pubStatus, pubReason string
	lastActive, updated                int64
	sockets                            int
}

func scanRow(sc db.Scanner) (row, error) {
	var r row
	var sockets int64
	err := sc.Scan(&r.user, &r.chosen, &r.pubStatus, &r.pubReason, &r.lastActive, &r.updated, &sockets)
	r.sockets = int(sockets)
	return r, err
}

// effective computes a rep's status and its reason at now. availableReason is the reason given
// when the rep is available.
func effective(chosen string, sockets int, lastActive, now time.Time, idle time.Duration, availableReason string) (string, string) {
	switch {
	case sockets <= 0:
		return StatusOffline, ReasonDisconnected
	case chosen == StatusAway:
		return StatusAway, ReasonChosen
	case now.Sub(lastActive) >= idle:
		return StatusAway, ReasonIdle
	default:
		return StatusAvailable, availableReason
	}
}

// state is the State of a stored row at now: the effective status, with the published reason when
// the status is the published one.
func (r row) state(now time.Time, idle time.Duration) State {
	st := State{UserID: r.user, Chosen: r.chosen, Connections: r.sockets,
		LastActiveAt: db.Time(r.lastActive), UpdatedAt: db.Time(r.updated)}
	st.Status, st.Reason = effective(r.chosen, r.sockets, st.LastActiveAt, now, idle, ReasonActive)
	if st.Status == r.pubStatus && st.Status == StatusAvailable {
		st.Reason = r.pubReason
	}
	return st
}

// Get returns the rep's presence now. A rep never seen is offline, with chosen "available". It
// returns errs.NotFound for an id no workspace or user can have.
func (s *Service) Get(ctx context.Context, wsID, userID string) (State, error) {
	if err := checkIDs(wsID, userID); err != nil {
		return State{}, err
	}
	idle := s.idleTimeout(ctx, wsID)
	now := s.clk.Now()
	r, err := scanRow(s.d.QueryRowContext(ctx, `SELECT `+stateCols+` FROM presence p
		WHERE p.workspace_id = $1 AND p.user_id = $3`, wsID, db.Micro(now), userID))
	if errors.Is(err, sql.ErrNoRows) {
		return State{UserID: userID, Chosen: StatusAvailable, Status: StatusOffline, Reason: ReasonDisconnected}, nil
	}
	if err != nil {
		return State{}, errs.Op("presence.Get", err)
	}
	return r.state(now, idle), nil
}

// List returns the presence now of every rep of the workspace ever seen, ordered by user id. Reps
// never seen are offline and not listed. It returns errs.NotFound for an id no workspace can have.
func (s *Service) List(ctx context.Context, wsID string) ([]State, error) {
	if !id.Valid("ws", wsID) {
		return nil, errs.NotFoundf("no such workspace")
	}
	idle := s.idleTimeout(ctx, wsID)
	now := s.clk.Now()
	rows, err := db.All(ctx, s.d, scanRow, `SELECT `+stateCols+` FROM presence p
		WHERE p.workspace_id = $1 ORDER BY p.user_id`, wsID, db.Micro(now))
	if err != nil {
		return nil, errs.Op("presence.List", err)
	}
	out := make([]State, len(rows))
	for i, r := range rows {
		out[i] = r.state(now, idle)
	}
	return out, nil
}

// Available returns the ids of the workspace's reps that routing may offer a conversation to now,
// ordered: chosen "available", at least one live console socket on any replica, and active within
// the workspace's idle timeout. It returns errs.NotFound for an id no workspace can have.
func (s *Service) Available(ctx context.Context, wsID string) ([]string, error) {
	list, err := s.List(ctx, wsID)
	if err != nil {
		return nil, errs.Op("presence.Available", err)
	}
	out := []string{}
	for _, st := range list {
		if st.Status == StatusAvailable {
			out = append(out, st.UserID)
		}
	}
	return out, nil
}

// publish sends st on the workspace's subject. A failure is logged, not returned: the state is
// stored, and consumers read it again when they reconnect.
func (s *Service) publish(ctx context.Context, wsID string, st State) {
	b, err := json.Marshal(st)
	if err == nil {
		err = s.bus.Publish(context.WithoutCancel(ctx), Subject(wsID), b)
	}
	if err != nil {
		s.log.Warn("presence: publishing a change failed", "workspace", wsID, "user", st.UserID, "status", st.Status, "err", err)
	}
}
