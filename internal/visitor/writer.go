package visitor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// entry is one queued update: a request at an instant in a session, with its page view if any.
type entry struct {
	ws, visitor, session string
	at                   time.Time
	activity             bool
	view                 *pendingView
}

type pendingView struct {
	id   string
	page Page
}

var (
	errClosed = &errs.Error{Kind: errs.Unavailable, Message: "the server is shutting down; try again", RetryAfter: 1}
	errBusy   = &errs.Error{Kind: errs.Unavailable, Message: "too busy to record visits right now; try again", RetryAfter: 1}
)

// writer is the batch writer: a bounded in-memory queue of entries that Run writes to the
// database in one transaction at least every FlushInterval or whenever BatchSize are queued.
type writer struct {
	s *Service

	mu     sync.Mutex
	buf    []entry
	oldest time.Time     // when the oldest queued entry arrived (monotonic, for the flush deadline)
	closed bool          // Close was called: nothing more is queued
	room   chan struct{} // closed whenever the queue is emptied, to wake callers waiting for room

	wake    chan struct{} // (cap 1) the queue went from empty to not empty, or is full
	sem     chan struct{} // (cap 1) one write at a time
	stop    chan struct{} // closed by Close, to end Run
	stopped sync.Once
	running atomic.Bool
}

func newWriter(s *Service) *writer {
	return &writer{s: s, room: make(chan struct{}), wake: make(chan struct{}, 1), sem: make(chan struct{}, 1),
		stop: make(chan struct{})}
}

func (w *writer) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

func (w *writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// enqueue adds e to the queue, waiting for room while it is full, up to EnqueueTimeout or the end
// of ctx.
func (w *writer) enqueue(ctx context.Context, e entry) error {
	var timeout <-chan time.Time
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return errClosed
		}
		if len(w.buf) < w.s.opt.QueueSize {
			if len(w.buf) == 0 {
				w.oldest = time.Now()
				w.signal()
			}
			w.buf = append(w.buf, e)
			if len(w.buf) == w.s.opt.BatchSize {
				w.signal()
			}
			w.mu.Unlock()
			return nil
		}
		room := w.room
		w.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(w.s.opt.EnqueueTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-room:
		case <-timeout:
			return errBusy
		case <-ctx.Done():
			return errs.Wrap(errs.Unavailable, ctx.Err(), "gave up waiting to record the visit")
		}
	}
}

// take empties the queue and returns what it held.
func (w *writer) take() []entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf
	w.buf = make([]entry, 0, min(len(b), w.s.opt.QueueSize))
	close(w.room)
	w.room = make(chan struct{})
	return b
}

// flush writes everything queued now, one write at a time.
func (w *writer) flush(ctx context.Context) error {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.sem }()
	return w.write(ctx, w.take())
}

// Run runs the batch writer until ctx is cancelled or Close is called: it writes the queue in one
// transaction at least every Options.FlushInterval, or as soon as Options.BatchSize entries are
// queued, and forgets sessions that have ended. When ctx ends, it writes what is still queued
// (allowing 10 s) before returning; the app should rather call Close after its HTTP server has
// stopped, which writes everything and ends Run. Run returns an error only when it is already
// running.
func (s *Service) Run(ctx context.Context) error {
	w := s.w
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("visitor.Run: already running")
	}
	defer w.running.Store(false)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			w.flush(fctx)
			cancel()
			return nil
		case <-w.stop:
			return nil
		case <-sweep.C:
			s.sweep()
			continue
		case <-w.wake:
		case <-timer.C:
		}
		w.mu.Lock()
		n, oldest := len(w.buf), w.oldest
		w.mu.Unlock()
		if n == 0 {
			continue
		}
		if wait := time.Until(oldest.Add(s.opt.FlushInterval)); n < s.opt.BatchSize && wait > 0 {
			timer.Reset(wait)
			continue
		}
		w.flush(ctx) // failures are logged; the entries are retried or, at shutdown, reported lost
	}
}

// Flush writes everything queued now and returns once it is in the database. It returns an error
// when ctx ends first (the entries being written are then lost, and logged).
func (s *Service) Flush(ctx context.Context) error { return errs.Op("visitor.Flush", s.w.flush(ctx)) }

// Close stops the service for shutdown: calls that would record something get errs.Unavailable
// from now on, everything queued is written (waiting for a write in progress), Run returns, and
// the GeoIP database is released. Call it after the HTTP server stopped taking requests. It
// returns an error when ctx ends before the queue is written; what was not written is lost, and
// logged.
func (s *Service) Close(ctx context.Context) error {
	w := s.w
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.room) // callers waiting for room see closed
		w.room = make(chan struct{})
	}
	w.mu.Unlock()
	err := w.flush(ctx)
	w.stopped.Do(func() {
		close(w.stop)
		if gerr := s.geo.Close(); gerr != nil {
			s.log.Warn("closing the GeoIP database failed", "err", gerr)
		}
	})
	return errs.Op("visitor.Close", err)
}

// sweep forgets the sessions that have ended; the database keeps them.
func (s *Service) sweep() {
	now := s.clk.Now()
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	for k, l := range s.live {
		if !s.open(l, now) {
			delete(s.live, k)
		}
	}
}

// writeTimeout bounds one attempt to write a batch when the caller's context has no deadline.
const writeTimeout = 30 * time.Second

// attempt returns the context for one attempt to write: cancelling ctx (Run's, at shutdown) does
// not abort a write under way, so that what was taken from the queue still reaches the database;
// ctx's deadline (Close's) does.
func attempt(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), d)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
}

// write writes a batch, retrying with backoff while the database does not answer. When the
// database answers but refuses the batch twice, the entries are written one at a time and those
// it refuses are dropped with an error in the log. It returns an error only when ctx ends before
// the batch is written; the batch is then lost and logged.
func (w *writer) write(ctx context.Context, batch []entry) error {
	if len(batch) == 0 {
		return nil
	}
	backoff, refusals := 50*time.Millisecond, 0
	for {
		actx, cancel := attempt(ctx)
		err := w.s.writeBatch(actx, batch)
		answers := err != nil && actx.Err() == nil && w.s.db.PingContext(actx) == nil
		cancel()
		if err == nil {
			return nil
		}
		if answers {
			if refusals++; refusals >= 2 {
				w.s.log.Error("the database refused a batch of page views; writing them one by one", "entries", len(batch), "err", err)
				return w.writeEach(ctx, batch)
			}
		} else {
			w.s.log.Warn("writing page views failed; retrying", "entries", len(batch), "err", err)
		}
		if err := sleep(ctx, backoff); err != nil {
			w.s.log.Error("page views and visitor activity lost: the database did not take them before shutdown",
				"entries", len(batch), "err", err)
			return err
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// writeEach writes entries one at a time, dropping those the database refuses while it answers.
func (w *writer) writeEach(ctx context.Context, batch []entry) error {
	for i, e := range batch {
		backoff := 50 * time.Millisecond
		for {
			actx, cancel := attempt(ctx)
			err := w.s.writeBatch(actx, []entry{e})
			answers := err != nil && actx.Err() == nil && w.s.db.PingContext(actx) == nil
			cancel()
			if err == nil {
				break
			}
			if answers {
				w.s.log.Error("dropped a page view or visitor update the database refused", "workspace", e.ws,
					"visitor", e.visitor, "session", e.session, "err", err)
				break
			}
			if err := sleep(ctx, backoff); err != nil {
				w.s.log.Error("page views and visitor activity lost: the database did not take them before shutdown",
					"entries", len(batch)-i, "err", err)
				return err
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pageViewRows is how many page views one INSERT writes (8 parameters each).
const pageViewRows = 100

// writeBatch writes a batch in one transaction: the last-seen and last-activity times of each
// session and live visitor (only ever moved forward), the page view counts, and the page views.
// A visitor that was merged is written as the visitor it was merged into; entries of a visitor
// that no longer exists are dropped.
func (s *Service) writeBatch(ctx context.Context, batch []entry) error {
	type sessAgg struct {
		ws             string
		seen, activity int64
		views          int
	}
	seen := map[vkey]int64{}
	sessions := map[string]*sessAgg{}
	for _, e := range batch {
		at := db.Micro(e.at)
		k := vkey{e.ws, e.visitor}
		seen[k] = max(seen[k], at)
		a := sessions[e.session]
		if a == nil {
			a = &sessAgg{ws: e.ws}
			sessions[e.session] = a
		}
		a.seen = max(a.seen, at)
		if e.activity {
			a.activity = max(a.activity, at)
		}
		if e.view != nil {
			a.views++
		}
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		live, err := s.lockLive(ctx, tx, sortedKeys(seen, func(a, b vkey) int { return strings.Compare(a.id, b.id) }))
		if err != nil {
			return err
		}
		// Visitors: last seen, in id order.
		liveSeen := map[vkey]int64{}
		for k, at := range seen {
			if to, ok := live[k]; ok {
				lk := vkey{k.ws, to}
				liveSeen[lk] = max(liveSeen[lk], at)
			}
		}
		upV, err := tx.PrepareContext(ctx, `UPDATE visitors SET last_seen_at = CASE WHEN last_seen_at < $1 THEN $1 ELSE last_seen_at END,
			updated_at = CASE WHEN updated_at < $1 THEN $1 ELSE updated_at END WHERE workspace_id = $2 AND id = $3`)
		if err != nil {
			return err
		}
		defer upV.Close()
		vkeys := sortedKeys(liveSeen, func(a, b vkey) int { return strings.Compare(a.id, b.id) })
		for _, k := range vkeys {
			if _, err := upV.ExecContext(ctx, liveSeen[k], k.ws, k.id); err != nil {
				return fmt.Errorf("update visitor: %w", err)
			}
		}
		// Sessions, in id order.
		upS, err := tx.PrepareContext(ctx, `UPDATE visitor_sessions SET
			last_seen_at = CASE WHEN last_seen_at < $1 THEN $1 ELSE last_seen_at END,
			last_activity_at = CASE WHEN last_activity_at < $2 THEN $2 ELSE last_activity_at END,
			page_views = page_views + $3 WHERE workspace_id = $4 AND id = $5`)
		if err != nil {
			return err
		}
		defer upS.Close()
		for _, sid := range sortedKeys(sessions, strings.Compare) {
			a := sessions[sid]
			if _, err := upS.ExecContext(ctx, a.seen, a.activity, a.views, a.ws, sid); err != nil {
				return fmt.Errorf("update session: %w", err)
			}
		}
		// Page views: on PostgreSQL many to a statement, to save round trips; on SQLite, which
		// has none to save and binds long statements slowly, one prepared statement each.
		perStmt := pageViewRows
		if s.db.Engine == db.SQLite {
			perStmt = 1
		}
		stmts := map[int]*sql.Stmt{}
		defer func() {
			for _, st := range stmts {
				st.Close()
			}
		}()
		var rows []any
		n := 0
		insert := func() error {
			if n == 0 {
				return nil
			}
			st := stmts[n]
			if st == nil {
				if st, err = tx.PrepareContext(ctx, insertPageViews(n)); err != nil {
					return err
				}
				stmts[n] = st
			}
			if _, err := st.ExecContext(ctx, rows...); err != nil {
				return fmt.Errorf("insert page views: %w", err)
			}
			rows, n = rows[:0], 0
			return nil
		}
		for _, e := range batch {
			if e.view == nil {
				continue
			}
			to, ok := live[vkey{e.ws, e.visitor}]
			if !ok {
				continue
			}
			rows = append(rows, e.view.id, e.ws, to, e.session, e.view.page.URL, e.view.page.Title, e.view.page.Referrer, db.Micro(e.at))
			if n++; n == perStmt {
				if err := insert(); err != nil {
					return err
				}
			}
		}
		return insert()
	})
}

// insertPageViews returns an INSERT of n page views, which a retried batch may repeat harmlessly.
func insertPageViews(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO page_views (id, workspace_id, visitor_id, session_id, url, title, referrer, at) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		b := i * 8
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", b+1, b+2, b+3, b+4, b+5, b+6, b+7, b+8)
	}
	q.WriteString(` ON CONFLICT (id) DO NOTHING`)
	return q.String()
}

// vkey names a visitor of a workspace.
type vkey struct{ ws, id string }

// lockLive resolves each visitor to its live visitor (following merges) and, on PostgreSQL, locks
// the live rows in id order, so that a concurrent merge either commits first (and the entries
// follow it to the surviving visitor) or waits until this transaction is done. Visitors that no
// longer exist are left out of the result.
func (s *Service) lockLive(ctx context.Context, tx *sql.Tx, keys []vkey) (map[vkey]string, error) {
	for range 3 {
		live := map[vkey]string{}
		for _, k := range keys {
			v, err := resolve(ctx, tx, k.ws, k.id, "")
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			live[k] = v.ID
		}
		if s.db.Engine == db.SQLite {
			return live, nil // the transaction is immediate: it already holds the database's write lock
		}
		ids := map[string]bool{}
		for _, to := range live {
			ids[to] = true
		}
		stable := true
		for _, vid := range sortedKeys(ids, strings.Compare) {
			var merged string
			if err := tx.QueryRowContext(ctx, `SELECT merged_into FROM visitors WHERE id = $1`+s.db.ForUpdate(), vid).Scan(&merged); err != nil {
				return nil, err
			}
			stable = stable && merged == ""
		}
		if stable {
			return live, nil
		}
	}
	return nil, errors.New("visitors kept merging while their page views were written")
}

func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp)
	return keys
}
