package presence

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// Run keeps this replica's part of presence until ctx ends: every Tick it renews the leases of
// its connection rows (Refresh) and looks for transitions that time causes on any replica
// (Sweep). When ctx ends it deletes this replica's connection rows, publishing "offline" for the
// reps connected only here, and returns nil; afterwards Connect answers errs.Unavailable.
// Failures of a tick are logged and retried at the next. Run returns an error only when it is
// already running or has already returned once.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("presence.Run: already running")
	}
	defer s.running.Store(false)
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return errors.New("presence.Run: already stopped")
	}
	t := time.NewTicker(s.opt.Tick)
	defer t.Stop()
	for {
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("presence: renewing leases failed", "err", err)
		}
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("presence: sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			s.shutdown(context.WithoutCancel(ctx))
			return nil
		case <-t.C:
		}
	}
}

// shutdown forgets this node's sockets and deletes its connection rows, publishing the reps who
// go offline.
func (s *Service) shutdown(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s.mu.Lock()
	s.stopped = true
	keys := make(map[key]struct{}, len(s.conns)+len(s.dirty))
	for k := range s.conns {
		keys[k] = struct{}{}
	}
	for k := range s.dirty {
		keys[k] = struct{}{}
	}
	clear(s.conns)
	clear(s.dirty)
	clear(s.active)
	s.mu.Unlock()
	idle := s.idleCache()
	for k := range keys {
		if err := s.change(ctx, k, mutation{sockets: true}, idle(ctx, k.ws)); err != nil {
			s.log.Warn("presence: removing a connection at shutdown failed; its lease will lapse", "workspace", k.ws, "user", k.user, "err", err)
		}
	}
	// Anything left (a write that failed earlier) lapses with its lease anyway; other replicas'
	// sweeps publish those reps' departure.
	if _, err := s.d.ExecContext(ctx, `DELETE FROM presence_connections WHERE node = $1`, s.opt.Node); err != nil {
		s.log.Warn("presence: deleting this node's connections at shutdown failed; their leases will lapse", "err", err)
	}
}

// idleCache returns a lookup of workspaces' idle timeouts that asks Options.IdleTimeout once per
// workspace, for one pass over many reps.
func (s *Service) idleCache() func(ctx context.Context, wsID string) time.Duration {
	m := map[string]time.Duration{}
	return func(ctx context.Context, wsID string) time.Duration {
		d, ok := m[wsID]
		if !ok {
			d = s.idleTimeout(ctx, wsID)
			m[wsID] = d
		}
		return d
	}
}

// Refresh renews the leases of this replica's connection rows for another Lease, and writes again
// any row that is missing, lapsed or wrong (a write that failed, or rows another replica's sweep
// removed while this one could not reach the database), publishing the transitions that causes.
// Run calls it every Tick; it is exported for tests and tools. It returns the first database
// error, after trying every rep.
func (s *Service) Refresh(ctx context.Context) error {
	now := s.clk.Now()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	for k, at := range s.active {
		// The throttle of reps not connected here (activity reported without a socket).
		if _, ok := s.conns[k]; !ok && now.Sub(at) >= s.opt.ActiveThrottle {
			delete(s.active, k)
		}
	}
	live, dirty := len(s.conns), len(s.dirty)
	s.mu.Unlock()
	if live == 0 && dirty == 0 {
		return nil
	}
	check := dirty > 0
	if live > 0 {
		// Only rows whose lease still runs: a lapsed one may be being removed by a sweep, and is
		// written again below.
		res, err := s.d.ExecContext(ctx, `UPDATE presence_connections SET lease_until = $1 WHERE node = $2 AND lease_until > $3`,
			db.Micro(now.Add(s.opt.Lease)), s.opt.Node, db.Micro(now))
		if err != nil {
			return wrap("Refresh", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return wrap("Refresh", err)
		}
		check = check || n != int64(live)
	}
	if !check {
		return nil
	}
	type stored struct {
		k       key
		sockets int
		lease   int64
	}
	rows, err := db.All(ctx, s.d, func(sc db.Scanner) (stored, error) {
		var r stored
		var n int64
		err := sc.Scan(&r.k.ws, &r.k.user, &n, &r.lease)
		r.sockets = int(n)
		return r, err
	}, `SELECT workspace_id, user_id, sockets, lease_until FROM presence_connections WHERE node = $1`, s.opt.Node)
	if err != nil {
		return wrap("Refresh", err)
	}
	fix := map[key]struct{}{}
	s.mu.Lock()
	have := make(map[key]bool, len(rows))
	for _, r := range rows {
		have[r.k] = true
		if s.conns[r.k] != r.sockets || r.lease <= db.Micro(now) {
			fix[r.k] = struct{}{}
		}
	}
	for k := range s.conns {
		if !have[k] {
			fix[k] = struct{}{}
		}
	}
	for k := range s.dirty {
		fix[k] = struct{}{}
	}
	s.mu.Unlock()
	idle := s.idleCache()
	var first error
	for k := range fix {
		if err := s.change(ctx, k, mutation{sockets: true}, idle(ctx, k.ws)); err != nil {
			s.mu.Lock()
			if !s.stopped && !errs.Is(err, errs.NotFound) {
				s.dirty[k] = struct{}{}
			}
			s.mu.Unlock()
			if first == nil {
				first = wrap("Refresh", err)
			}
		}
	}
	return first
}

// Sweep finds the transitions that time causes, on every replica's reps, and publishes each once
// even when several replicas sweep at once: reps with a connection row whose lease has lapsed
// (a crashed replica), reps published as connected without a live connection, available reps
// idle beyond their workspace's idle timeout, and reps away for idling who are within it again
// because the timeout was lengthened. It examines at most a few hundred reps of each kind
// per call. Run calls it every Tick; it is exported for tests and tools. It returns the first
// database error, after trying every rep.
func (s *Service) Sweep(ctx context.Context) error {
	now := db.Micro(s.clk.Now())
	found := map[key]struct{}{}
	lapsed, err := db.All(ctx, s.d, scanKey, `SELECT DISTINCT workspace_id, user_id FROM presence_connections
		WHERE lease_until <= $1 ORDER BY workspace_id, user_id LIMIT $2`, now, sweepBatch)
	if err != nil {
		return wrap("Sweep", err)
	}
	gone, err := db.All(ctx, s.d, scanKey, `SELECT p.workspace_id, p.user_id FROM presence p
		WHERE p.published_status <> 'offline' AND NOT EXISTS (SELECT 1 FROM presence_connections c
			WHERE c.workspace_id = p.workspace_id AND c.user_id = p.user_id AND c.lease_until > $1)
		ORDER BY p.workspace_id, p.user_id LIMIT $2`, now, sweepBatch)
	if err != nil {
		return wrap("Sweep", err)
	}
	for _, k := range append(lapsed, gone...) {
		found[k] = struct{}{}
	}

	// Idling, per workspace: available reps idle beyond the timeout, and reps away for idling
	// who are not idle under the timeout any more (an administrator lengthened it). The summary
	// row per workspace spares a query for each workspace with nothing to do.
	idle := s.idleCache()
	type summary struct {
		ws                      string
		oldestAvail, newestIdle sql.NullInt64
	}
	spaces, err := db.All(ctx, s.d, func(sc db.Scanner) (summary, error) {
		var o summary
		err := sc.Scan(&o.ws, &o.oldestAvail, &o.newestIdle)
		return o, err
	}, `SELECT workspace_id,
			MIN(CASE WHEN published_status = 'available' THEN last_active_at END),
			MAX(CASE WHEN published_status = 'away' AND published_reason = 'idle' THEN last_active_at END)
		FROM presence WHERE published_status IN ('available', 'away')
		GROUP BY workspace_id ORDER BY workspace_id`)
	if err != nil {
		return wrap("Sweep", err)
	}
	for _, o := range spaces {
		cutoff := now - idle(ctx, o.ws).Microseconds()
		if !(o.oldestAvail.Valid && o.oldestAvail.Int64 <= cutoff) && !(o.newestIdle.Valid && o.newestIdle.Int64 > cutoff) {
			continue
		}
		users, err := db.All(ctx, s.d, scanKey, `SELECT workspace_id, user_id FROM presence
			WHERE workspace_id = $1 AND ((published_status = 'available' AND last_active_at <= $2)
				OR (published_status = 'away' AND published_reason = 'idle' AND last_active_at > $2))
			ORDER BY user_id LIMIT $3`, o.ws, cutoff, sweepBatch)
		if err != nil {
			return wrap("Sweep", err)
		}
		for _, k := range users {
			found[k] = struct{}{}
		}
	}

	var first error
	for k := range found {
		// sockets: this node's count is written too, in case the rep is connected here.
		if err := s.change(ctx, k, mutation{sockets: true}, idle(ctx, k.ws)); err != nil && first == nil {
			first = wrap("Sweep", err)
		}
	}
	return first
}
