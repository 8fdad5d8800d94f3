package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// logRecorder is a slog handler that keeps every message, so tests can wait for one.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }
func (r *logRecorder) has(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// start runs q until the test ends (or stop is called) and checks that Run returned nil.
func start(t *testing.T, q *Queue) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10 s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustGet(t *testing.T, q *Queue, ws, id string) *Job {
	t.Helper()
	j, err := q.Get(context.Background(), ws, id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return j
}

func waitState(t *testing.T, q *Queue, ws, id string, want State) *Job {
	t.Helper()
	var j *Job
	waitFor(t, 10*time.Second, fmt.Sprintf("job %s to be %s", id, want), func() bool {
		j = mustGet(t, q, ws, id)
		return j.State == want
	})
	return j
}

func fastOpts(worker string) Options {
	return Options{Workers: 2, Lease: time.Minute, PollInterval: 10 * time.Millisecond,
		BackoffBase: 10 * time.Second, BackoffMax: 25 * time.Second, WorkerID: worker}
}

func TestEnqueueTransactional(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := New(d, clock.System{}, testLogger(t), fastOpts("w1"))
		var mu sync.Mutex
		runs := map[string]int{}
		payloads := map[string]string{}
		q.Register("email.send", func(ctx context.Context, j *Job) error {
			mu.Lock()
			runs[j.ID]++
			payloads[j.ID] = string(j.Payload)
			mu.Unlock()
			return nil
		}, 3)

		// Rolled back: the job never existed.
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		rolledBack, err := q.Enqueue(ctx, tx, NewJob{WorkspaceID: "ws_a", Kind: "email.send", Payload: map[string]string{"to": "a@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Get(ctx, "ws_a", rolledBack); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Get of rolled-back job: err = %v, want NotFound", err)
		}

		start(t, q)
		var committed string
		err = d.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			committed, err = q.Enqueue(ctx, tx, NewJob{WorkspaceID: "ws_a", Kind: "email.send", Payload: map[string]string{"to": "b@example.com"}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		q.Notify()
		j := waitState(t, q, "ws_a", committed, Succeeded)
		if j.Attempts != 1 || j.FinishedAt.IsZero() || string(j.Payload) != `{}` {
			t.Errorf("job = %+v, want 1 attempt, finished, payload cleared", j)
		}
		time.Sleep(100 * time.Millisecond) // ten more polls: nothing may run again
		mu.Lock()
		defer mu.Unlock()
		if payloads[committed] != `{"to":"b@example.com"}` {
			t.Errorf("handler got payload %q", payloads[committed])
		}
		if len(runs) != 1 || runs[committed] != 1 {
			t.Errorf("runs = %v, want only %s once", runs, committed)
		}
		counts, err := q.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[State]int{Queued: 0, Running: 0, Retrying: 0, Succeeded: 1, Failed: 0}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("Counts = %v, want %v", counts, want)
		}
	})
}

func TestEnqueueInvalid(t *testing.T) {
	d := testkit.SQLite(t)
	q := New(d, clock.System{}, nil, Options{})
	q.Register("known", func(context.Context, *Job) error { return nil }, 0)
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, d, NewJob{Kind: "unknown"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("unknown kind: err = %v, want Invalid", err)
	}
	if _, err := q.Enqueue(ctx, d, NewJob{Kind: "known", Payload: make(chan int)}); !errs.Is(err, errs.Invalid) {
		t.Errorf("unmarshallable payload: err = %v, want Invalid", err)
	}
	id, err := q.Enqueue(ctx, d, NewJob{Kind: "known"})
	if err != nil {
		t.Fatal(err)
	}
	j := mustGet(t, q, "", id)
	if string(j.Payload) != "{}" || j.MaxAttempts != DefaultMaxAttempts || j.State != Queued || j.DedupeKey != "" {
		t.Errorf("defaults: %+v", j)
	}
}

// TestOutcomes drives a job through its attempts with a fake clock, checking the backoff of each
// retry and the final state.
func TestOutcomes(t *testing.T) {
	longErr := strings.Repeat("é", 1500) + "\x00\xff tail"
	tests := []struct {
		name         string
		maxAttempts  int
		handler      func(ctx context.Context, attempt int) error
		wantState    State
		wantAttempts int
		wantErr      string // substring of last_error
	}{
		{"retries then succeeds", 5, func(_ context.Context, n int) error {
			if n < 3 {
				return fmt.Errorf("smtp busy %d", n)
			}
			return nil
		}, Succeeded, 3, "smtp busy 2"},
		{"max attempts", 4, func(_ context.Context, n int) error { return fmt.Errorf("boom %d", n) }, Failed, 4, "boom 4"},
		{"permanent", 5, func(context.Context, int) error { return Permanent(errors.New("address rejected")) }, Failed, 1, "address rejected"},
		{"panic", 2, func(context.Context, int) error { panic("kaboom") }, Failed, 2, "panic: kaboom"},
		{"timeout", 1, func(ctx context.Context, _ int) error { <-ctx.Done(); return ctx.Err() }, Failed, 1, "timed out after"},
		{"long invalid error", 1, func(context.Context, int) error { return Permanent(errors.New(longErr)) }, Failed, 1, "éé"},
	}
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				clk := clock.NewFake(t0)
				opts := fastOpts("w1")
				opts.Timeout = 100 * time.Millisecond
				q := New(d, clk, testLogger(t), opts)
				kind := "k." + strings.ReplaceAll(tt.name, " ", "_")
				q.Register(kind, func(ctx context.Context, j *Job) error { return tt.handler(ctx, j.Attempts) }, tt.maxAttempts)
				id, err := q.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_a", Kind: kind})
				if err != nil {
					t.Fatal(err)
				}
				start(t, q)
				q.Notify()
				var j *Job
				for attempt := 1; ; attempt++ {
					waitFor(t, 10*time.Second, fmt.Sprintf("attempt %d to end", attempt), func() bool {
						j = mustGet(t, q, "ws_a", id)
						return j.Attempts == attempt && j.State != Running
					})
					if j.State != Retrying {
						break
					}
					// Backoff: 10 s · 2^(attempt−1), capped at 25 s, ±20 %.
					nominal := min(10*time.Second<<(attempt-1), 25*time.Second)
					delay := j.RunAt.Sub(clk.Now())
					if delay < nominal*8/10 || delay > nominal*12/10 {
						t.Errorf("attempt %d: retry in %s, want %s ±20%%", attempt, delay, nominal)
					}
					if j.LastError == "" || !j.FinishedAt.IsZero() || !j.LeaseUntil.IsZero() {
						t.Errorf("attempt %d: retrying job %+v", attempt, j)
					}
					// Not due before its time…
					clk.Advance(delay - time.Second)
					q.Notify()
					time.Sleep(30 * time.Millisecond)
					if j2 := mustGet(t, q, "ws_a", id); j2.Attempts != attempt {
						t.Fatalf("attempt %d: retried %s early", attempt, delay-time.Second)
					}
					// …due after.
					clk.Advance(2 * time.Second)
					q.Notify()
				}
				if j.State != tt.wantState || j.Attempts != tt.wantAttempts {
					t.Errorf("final: state %s after %d attempts, want %s after %d", j.State, j.Attempts, tt.wantState, tt.wantAttempts)
				}
				if !strings.Contains(j.LastError, tt.wantErr) {
					t.Errorf("last_error = %.80q, want it to contain %q", j.LastError, tt.wantErr)
				}
				if len(j.LastError) > MaxErrorLen || !utf8.ValidString(j.LastError) || strings.Contains(j.LastError, "\x00") {
					t.Errorf("last_error not cleaned: %d bytes, valid UTF-8 %v", len(j.LastError), utf8.ValidString(j.LastError))
				}
				if j.FinishedAt.IsZero() {
					t.Error("finished_at not set")
				}
			})
		}
	})
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempts  int
		base, max time.Duration
		nominal   time.Duration
	}{
		{1, time.Second, time.Hour, time.Second},
		{2, time.Second, time.Hour, 2 * time.Second},
		{5, time.Second, time.Hour, 16 * time.Second},
		{7, 10 * time.Second, time.Minute, time.Minute},
		{1000, 10 * time.Second, time.Hour, time.Hour}, // no overflow
		{0, time.Second, time.Hour, time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempts, tt.base, tt.max), func(t *testing.T) {
			lo, hi := time.Duration(1<<62), time.Duration(0)
			for range 500 {
				d := Backoff(tt.attempts, tt.base, tt.max)
				lo, hi = min(lo, d), max(hi, d)
			}
			if lo < tt.nominal*8/10 || hi >= tt.nominal*12/10 {
				t.Errorf("range [%s, %s], want within %s ±20%%", lo, hi, tt.nominal)
			}
			if hi-lo < tt.nominal/5 { // 500 draws spread over most of the 40 % band
				t.Errorf("range [%s, %s]: too little jitter", lo, hi)
			}
		})
	}
}

func TestCleanError(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"nul\x00byte", "nulbyte"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{strings.Repeat("a", 2500), strings.Repeat("a", 2000)},
		{"a" + strings.Repeat("€", 800), "a" + strings.Repeat("€", 666)}, // 3-byte runes: 1+666·3 = 1999
	}
	for _, tt := range tests {
		if got := cleanError(tt.in); got != tt.want {
			t.Errorf("cleanError(%.20q…) = %d bytes %.20q…, want %d bytes", tt.in, len(got), got, len(tt.want))
		}
	}
}

func TestDedupe(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := New(d, clock.System{}, testLogger(t), fastOpts("w1"))
		var runs atomic.Int32
		q.Register("crm.sync", func(context.Context, *Job) error { runs.Add(1); return nil }, 3)
		q.Register("other", func(context.Context, *Job) error { return nil }, 3)
		nj := NewJob{WorkspaceID: "ws_a", Kind: "crm.sync", DedupeKey: "crm.sync:ws_a:contact_1"}

		first, err := q.Enqueue(ctx, d, nj)
		if err != nil {
			t.Fatal(err)
		}
		// Again, alone and twice inside one transaction.
		again, err := q.Enqueue(ctx, d, nj)
		if err != nil || again != first {
			t.Fatalf("second Enqueue = %q, %v; want %q, nil", again, err, first)
		}
		err = d.InTx(ctx, func(tx *sql.Tx) error {
			for range 2 {
				got, err := q.Enqueue(ctx, tx, nj)
				if err != nil {
					return err
				}
				if got != first {
					return fmt.Errorf("Enqueue in tx = %q, want %q", got, first)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The same key for another workspace or kind is a conflict, not a silent merge.
		for _, bad := range []NewJob{
			{WorkspaceID: "ws_b", Kind: "crm.sync", DedupeKey: nj.DedupeKey},
			{WorkspaceID: "ws_a", Kind: "other", DedupeKey: nj.DedupeKey},
		} {
			if _, err := q.Enqueue(ctx, d, bad); !errs.Is(err, errs.Conflict) {
				t.Errorf("Enqueue %+v: err = %v, want Conflict", bad, err)
			}
		}
		// Jobs without a key never collide.
		for range 2 {
			if _, err := q.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_a", Kind: "other"}); err != nil {
				t.Fatal(err)
			}
		}
		start(t, q)
		q.Notify()
		j := waitState(t, q, "ws_a", first, Succeeded)
		if j.DedupeKey != nj.DedupeKey {
			t.Errorf("DedupeKey = %q", j.DedupeKey)
		}
		// A finished job still holds its key.
		if again, err := q.Enqueue(ctx, d, nj); err != nil || again != first {
			t.Errorf("Enqueue after success = %q, %v; want %q, nil", again, err, first)
		}
		time.Sleep(50 * time.Millisecond)
		if n := runs.Load(); n != 1 {
			t.Errorf("crm.sync ran %d times, want 1", n)
		}
		all, err := q.List(ctx, "ws_a", "", 100, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 {
			t.Errorf("ws_a has %d jobs, want 3", len(all))
		}
	})
}

// TestTwoProcesses runs two queues with different worker ids — two processes as far as the
// database can tell — on 200 jobs at once: every job must run exactly once.
func TestTwoProcesses(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		d2 := d
		if d.Engine == db.SQLite { // a second connection pool on the same file
			var err error
			if d2, err = db.OpenSQLite(ctx, d.Path); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d2.Close() })
		}
		const n = 200
		var runs sync.Map // job id → *atomic.Int32
		var byWorker [2]atomic.Int32
		queues := make([]*Queue, 2)
		for i, dd := range []*db.DB{d, d2} {
			opts := fastOpts(fmt.Sprintf("proc%d", i))
			opts.Workers = 4
			opts.PollInterval = 5 * time.Millisecond
			queues[i] = New(dd, clock.System{}, testLogger(t), opts)
			queues[i].Register("hook", func(_ context.Context, j *Job) error {
				c, _ := runs.LoadOrStore(j.ID, new(atomic.Int32))
				c.(*atomic.Int32).Add(1)
				byWorker[i].Add(1)
				time.Sleep(time.Millisecond)
				return nil
			}, 3)
		}
		ids := make([]string, 0, n)
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			for i := range n {
				id, err := queues[0].Enqueue(ctx, tx, NewJob{WorkspaceID: "ws_a", Kind: "hook", Payload: map[string]int{"n": i}})
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queues {
			start(t, q)
			q.Notify()
		}
		waitFor(t, 15*time.Second, "all jobs to succeed", func() bool {
			c, err := queues[0].Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return c[Succeeded] == n
		})
		for _, q := range queues {
			q.Notify()
		}
		time.Sleep(50 * time.Millisecond)
		for _, id := range ids {
			c, ok := runs.Load(id)
			if !ok {
				t.Errorf("job %s never ran", id)
			} else if got := c.(*atomic.Int32).Load(); got != 1 {
				t.Errorf("job %s ran %d times", id, got)
			}
		}
		c, _ := queues[0].Counts(ctx)
		if c[Succeeded] != n || c[Running]+c[Queued]+c[Retrying]+c[Failed] != 0 {
			t.Errorf("Counts = %v", c)
		}
		t.Logf("jobs run by proc0: %d, proc1: %d", byWorker[0].Load(), byWorker[1].Load())
	})
}

// TestLeaseRescue: a worker that stops heart-beating loses its job to another, and its late
// result is discarded.
func TestLeaseRescue(t *testing.T) {
	tests := []struct {
		name        string
		maxAttempts int
		wantState   State
		wantRuns    int32 // runs by the rescuer
	}{
		{"rescued and run again", 3, Succeeded, 1},
		{"last attempt expired", 1, Failed, 0},
	}
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				clk := clock.NewFake(t0)
				kind := "k." + strings.ReplaceAll(tt.name, " ", "_")

				// Worker a: one slot, a handler that hangs until released and then fails.
				recA := &logRecorder{}
				optsA := fastOpts("a")
				optsA.Workers = 1
				a := New(d, clk, slog.New(recA), optsA)
				started, release := make(chan struct{}), make(chan struct{})
				a.Register(kind, func(context.Context, *Job) error {
					close(started)
					<-release
					return errors.New("late failure from a")
				}, tt.maxAttempts)
				b := New(d, clk, testLogger(t), fastOpts("b"))
				var runsB atomic.Int32
				b.Register(kind, func(context.Context, *Job) error { runsB.Add(1); return nil }, tt.maxAttempts)

				id, err := a.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_a", Kind: kind})
				if err != nil {
					t.Fatal(err)
				}
				stopA := start(t, a)
				defer func() {
					select {
					case <-release:
					default:
						close(release)
					}
					stopA()
				}()
				a.Notify()
				select {
				case <-started:
				case <-time.After(10 * time.Second):
					t.Fatal("a never started the job")
				}
				start(t, b)
				b.Notify()
				time.Sleep(50 * time.Millisecond) // b must not take a job under a live lease
				if j := mustGet(t, a, "ws_a", id); j.LockedBy != "a" || j.State != Running || j.Attempts != 1 {
					t.Fatalf("before expiry: %+v", j)
				}

				clk.Advance(optsA.Lease + time.Second) // a's lease passes (its heartbeat is 30 s away)
				b.Notify()
				j := waitState(t, b, "ws_a", id, tt.wantState)
				if !strings.Contains(j.LastError, "lease of worker a expired during attempt 1") {
					t.Errorf("last_error = %q", j.LastError)
				}
				wantAttempts := min(2, tt.maxAttempts)
				if j.Attempts != wantAttempts {
					t.Errorf("attempts = %d, want %d", j.Attempts, wantAttempts)
				}

				close(release) // a finishes late, with an error
				waitFor(t, 10*time.Second, "a to discard its result", func() bool {
					return recA.has("another worker took the job over")
				})
				after := mustGet(t, a, "ws_a", id)
				if after.State != j.State || after.LastError != j.LastError || after.Attempts != j.Attempts {
					t.Errorf("late result overwrote the job: %+v, was %+v", after, j)
				}
				if got := runsB.Load(); got != tt.wantRuns {
					t.Errorf("b ran the handler %d times, want %d", got, tt.wantRuns)
				}
			})
		}
	})
}

// TestHeartbeat: a handler running for more than two leases keeps its job; a second worker
// polling all the while must not take it.
func TestHeartbeat(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var runs atomic.Int32
		handler := func(ctx context.Context, j *Job) error {
			runs.Add(1)
			select {
			case <-time.After(1300 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var qs []*Queue
		for _, w := range []string{"a", "b"} {
			opts := fastOpts(w)
			opts.Workers = 1 // a busy worker cannot take its own job back
			opts.Lease = 600 * time.Millisecond
			opts.Timeout = 5 * time.Second
			q := New(d, clock.System{}, testLogger(t), opts)
			q.Register("long", handler, 3)
			qs = append(qs, q)
		}
		id, err := qs[0].Enqueue(ctx, d, NewJob{Kind: "long"})
		if err != nil {
			t.Fatal(err)
		}
		start(t, qs[0])
		qs[0].Notify()
		waitFor(t, 5*time.Second, "a to start", func() bool { return runs.Load() == 1 })
		start(t, qs[1])
		var j *Job
		waitFor(t, 10*time.Second, "the job to succeed", func() bool {
			j = mustGet(t, qs[0], "", id)
			return j.State == Succeeded || runs.Load() > 1
		})
		if j.State != Succeeded || j.Attempts != 1 || j.LockedBy != "a" || runs.Load() != 1 {
			t.Errorf("state %s, attempts %d, locked_by %s, runs %d; want succeeded, 1, a, 1",
				j.State, j.Attempts, j.LockedBy, runs.Load())
		}
	})
}

// TestLeaseLostCancels: when the heartbeat finds that the job is no longer this worker's, the
// handler's context is cancelled and nothing is written.
func TestLeaseLostCancels(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		opts := fastOpts("a")
		opts.Workers = 1 // a busy worker cannot take its own job back
		opts.Lease = 300 * time.Millisecond
		opts.Timeout = 10 * time.Second
		q := New(d, clock.System{}, testLogger(t), opts)
		started := make(chan struct{})
		cause := make(chan error, 1)
		q.Register("k", func(ctx context.Context, j *Job) error {
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}, 3)
		id, err := q.Enqueue(ctx, d, NewJob{Kind: "k"})
		if err != nil {
			t.Fatal(err)
		}
		start(t, q)
		q.Notify()
		<-started
		// Another worker takes the job over.
		if _, err := d.ExecContext(ctx, `UPDATE jobs SET locked_by = 'z', lease_until = $1 WHERE id = $2`,
			db.Micro(time.Now().Add(time.Hour)), id); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-cause:
			if !errors.Is(c, errLeaseLost) {
				t.Errorf("handler cancelled with cause %v, want errLeaseLost", c)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("handler was not cancelled after losing its lease")
		}
		time.Sleep(50 * time.Millisecond)
		j := mustGet(t, q, "", id)
		if j.State != Running || j.LockedBy != "z" || j.LastError != "" {
			t.Errorf("job after lost lease: %+v", j)
		}
	})
}

// TestShutdown: Run returns nil once its handlers have returned, and a job interrupted by the
// shutdown goes back to the queue without using an attempt.
func TestShutdown(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := New(d, clock.System{}, testLogger(t), fastOpts("a"))
		started := make(chan struct{})
		var returned atomic.Bool
		q.Register("k", func(ctx context.Context, j *Job) error {
			close(started)
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // Run must wait for this
			returned.Store(true)
			return ctx.Err()
		}, 3)
		id, err := q.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_a", Kind: "k"})
		if err != nil {
			t.Fatal(err)
		}
		stop := start(t, q)
		q.Notify()
		<-started
		stop()
		if !returned.Load() {
			t.Error("Run returned before its handler did")
		}
		j := mustGet(t, q, "ws_a", id)
		if j.State != Queued || j.Attempts != 0 || !strings.Contains(j.LastError, "interrupted by shutdown") {
			t.Errorf("job after shutdown: %+v", j)
		}
		if err := q.Run(canceled()); err != nil {
			t.Errorf("Run again after a clean stop: %v", err)
		}
	})
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestAdmin(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		q := New(d, clk, testLogger(t), fastOpts("a"))
		var fail atomic.Bool
		fail.Store(true)
		q.Register("k", func(context.Context, *Job) error {
			if fail.Load() {
				return Permanent(errors.New("no such contact"))
			}
			return nil
		}, 3)

		// ws_a: 5 jobs, two of them created at the same instant; ws_b: 2.
		var idsA []string // oldest first
		for i := range 5 {
			if i != 3 {
				clk.Advance(time.Second)
			}
			id, err := q.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_a", Kind: "k", RunAt: t0.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			idsA = append(idsA, id)
		}
		var idsB []string
		for range 2 {
			clk.Advance(time.Second)
			id, err := q.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_b", Kind: "k"})
			if err != nil {
				t.Fatal(err)
			}
			idsB = append(idsB, id)
		}

		// Pages of two, newest first, each job exactly once.
		var paged []Job
		cursor := ""
		for page := 0; ; page++ {
			got, err := q.List(ctx, "ws_a", "", 2, cursor)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, got...)
			if len(got) < 2 || page > 5 {
				break
			}
			cursor = got[len(got)-1].ID
		}
		if len(paged) != 5 {
			t.Fatalf("paged %d jobs, want 5", len(paged))
		}
		seen := map[string]bool{}
		for i, j := range paged {
			if j.WorkspaceID != "ws_a" || seen[j.ID] {
				t.Errorf("page item %d: %s of %s (seen %v)", i, j.ID, j.WorkspaceID, seen[j.ID])
			}
			seen[j.ID] = true
			if i > 0 && j.CreatedAt.After(paged[i-1].CreatedAt) {
				t.Errorf("not newest first at %d", i)
			}
		}
		if paged[0].ID != idsA[4] {
			t.Errorf("first = %s, want newest %s", paged[0].ID, idsA[4])
		}

		// Scoping.
		if _, err := q.Get(ctx, "ws_a", idsB[0]); !errs.Is(err, errs.NotFound) {
			t.Errorf("Get of ws_b's job from ws_a: err = %v, want NotFound", err)
		}
		if _, err := q.Get(ctx, "ws_a", "job_nope"); !errs.Is(err, errs.NotFound) {
			t.Errorf("Get of unknown id: err = %v, want NotFound", err)
		}
		if _, err := q.List(ctx, "ws_a", "", 10, idsB[0]); !errs.Is(err, errs.Invalid) {
			t.Errorf("List with ws_b's cursor: err = %v, want Invalid", err)
		}
		if _, err := q.List(ctx, "ws_a", "bogus", 10, ""); !errs.Is(err, errs.Invalid) {
			t.Errorf("List with bad state: err = %v, want Invalid", err)
		}
		if err := q.Retry(ctx, "ws_a", idsB[0]); !errs.Is(err, errs.NotFound) {
			t.Errorf("Retry of ws_b's job from ws_a: err = %v, want NotFound", err)
		}
		if err := q.Retry(ctx, "ws_b", idsB[0]); !errs.Is(err, errs.Conflict) {
			t.Errorf("Retry of a queued job: err = %v, want Conflict", err)
		}

		// ws_b's jobs are due (ws_a's wait an hour): both fail permanently.
		stop := start(t, q)
		q.Notify()
		for _, id := range idsB {
			waitState(t, q, "ws_b", id, Failed)
		}
		failed, err := q.List(ctx, "ws_b", Failed, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) != 2 || failed[0].LastError != "no such contact" {
			t.Errorf("failed list = %+v", failed)
		}
		if queued, _ := q.List(ctx, "ws_a", Queued, 0, ""); len(queued) != 5 {
			t.Errorf("ws_a queued = %d, want 5", len(queued))
		}
		if none, _ := q.List(ctx, "ws_a", Failed, 0, ""); len(none) != 0 {
			t.Errorf("ws_a failed = %d, want 0", len(none))
		}
		c, err := q.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c[Queued] != 5 || c[Failed] != 2 {
			t.Errorf("Counts = %v", c)
		}

		// Retry a failed job: it runs again, now successfully.
		fail.Store(false)
		if err := q.Retry(ctx, "ws_b", idsB[0]); err != nil {
			t.Fatal(err)
		}
		j := waitState(t, q, "ws_b", idsB[0], Succeeded)
		if j.Attempts != 1 {
			t.Errorf("attempts after Retry = %d, want 1", j.Attempts)
		}
		if err := q.Retry(ctx, "ws_b", idsB[0]); !errs.Is(err, errs.Conflict) {
			t.Errorf("Retry of a succeeded job: err = %v, want Conflict", err)
		}

		// Prune removes old succeeded jobs only.
		stop()
		clk.Advance(time.Hour)
		n, err := q.Prune(ctx, clk.Now())
		if err != nil || n != 1 {
			t.Errorf("Prune = %d, %v; want 1", n, err)
		}
		if _, err := q.Get(ctx, "ws_b", idsB[1]); err != nil {
			t.Errorf("failed job pruned: %v", err)
		}
	})
}

// TestPayloadClearedOnSuccess proves that a succeeded job keeps no payload (it may hold a secret
// link) while a failed one keeps it, so that Retry runs it with the same payload.
func TestPayloadClearedOnSuccess(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := New(d, clock.System{}, testLogger(t), fastOpts("w1"))
		var fail atomic.Bool
		fail.Store(true)
		got := make(chan string, 4)
		q.Register("invite", func(_ context.Context, j *Job) error {
			got <- string(j.Payload)
			if fail.Load() {
				return Permanent(errors.New("mailbox full"))
			}
			return nil
		}, 3)
		const payload = `{"link":"https://chat.example.com/activate/inv_secret"}`
		jobID, err := q.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_a", Kind: "invite", Payload: json.RawMessage(payload)})
		if err != nil {
			t.Fatal(err)
		}
		start(t, q)
		q.Notify()
		if j := waitState(t, q, "ws_a", jobID, Failed); string(j.Payload) != payload {
			t.Fatalf("failed job payload = %s, want it kept for Retry", j.Payload)
		}
		fail.Store(false)
		if err := q.Retry(ctx, "ws_a", jobID); err != nil {
			t.Fatal(err)
		}
		j := waitState(t, q, "ws_a", jobID, Succeeded)
		if string(j.Payload) != "{}" {
			t.Errorf("succeeded job payload = %s, want {}", j.Payload)
		}
		var stored string
		if err := d.QueryRowContext(ctx, `SELECT payload FROM jobs WHERE id = $1`, jobID).Scan(&stored); err != nil || stored != "{}" {
			t.Errorf("stored payload = %q, %v; want {}", stored, err)
		}
		for i := range 2 {
			if p := <-got; p != payload {
				t.Errorf("attempt %d: handler got %s, want %s", i+1, p, payload)
			}
		}
	})
}

// TestNotJobIDs proves that Get, Retry and List's cursor refuse what is not a job id before any
// query: PostgreSQL rejects invalid UTF-8 and NUL in a text parameter, which used to surface as
// an internal error (a 500) from bytes a client sent.
func TestNotJobIDs(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := New(d, clock.System{}, testLogger(t), fastOpts("w1"))
		q.Register("k", func(context.Context, *Job) error { return nil }, 1)
		known, err := q.Enqueue(ctx, d, NewJob{WorkspaceID: "ws_a", Kind: "k", RunAt: t0.Add(24 * 365 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{
			"\xff", "a\x00b", "job_\xff", "job_" + strings.Repeat("a", 25) + "\x00",
			"job_" + strings.Repeat("\xff", 26), "job_" + strings.Repeat("A", 26), // upper case is not ours
			"job_nope", "usr_" + strings.Repeat("a", 26), " " + known, known + "a", strings.ToUpper(known), "",
		} {
			if _, err := q.Get(ctx, "ws_a", bad); !errs.Is(err, errs.NotFound) {
				t.Errorf("Get(%q) = %v, want NotFound", bad, err)
			}
			if err := q.Retry(ctx, "ws_a", bad); !errs.Is(err, errs.NotFound) {
				t.Errorf("Retry(%q) = %v, want NotFound", bad, err)
			}
			if bad == "" {
				continue // no cursor: the first page
			}
			_, err := q.List(ctx, "ws_a", "", 10, bad)
			if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != "before" {
				t.Errorf("List(before %q) = %v, want Invalid on field before", bad, err)
			}
		}
		// A well-formed id still reaches the database.
		if j, err := q.Get(ctx, "ws_a", known); err != nil || j.ID != known {
			t.Fatalf("Get(%s) = %+v, %v", known, j, err)
		}
		if got, err := q.List(ctx, "ws_a", "", 10, known); err != nil || len(got) != 0 {
			t.Fatalf("List after the only job = %v, %v", got, err)
		}
	})
}

// TestForUpdate checks db.ForUpdate, the row lock of read-then-write transactions, on the table
// this package owns: the clause is valid SQL on both engines, and on PostgreSQL it holds the row
// against another transaction until the first one ends.
func TestForUpdate(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := New(d, clock.System{}, testLogger(t), fastOpts("w1"))
		q.Register("k", func(context.Context, *Job) error { return nil }, 1)
		jobID, err := q.Enqueue(ctx, d, NewJob{Kind: "k"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[db.Engine]string{db.Postgres: " FOR UPDATE", db.SQLite: ""}[d.Engine]
		if got := d.ForUpdate(); got != want {
			t.Fatalf("ForUpdate() on %s = %q, want %q", d.Engine, got, want)
		}
		err = d.InTx(ctx, func(tx *sql.Tx) error {
			var state string
			if err := tx.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = $1`+d.ForUpdate(), jobID).Scan(&state); err != nil {
				return err
			}
			if d.Engine == db.Postgres {
				// Another transaction cannot lock the row now.
				err := d.InTx(ctx, func(tx2 *sql.Tx) error {
					var s string
					return tx2.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = $1 FOR UPDATE NOWAIT`, jobID).Scan(&s)
				})
				if err == nil || !strings.Contains(err.Error(), "55P03") {
					t.Errorf("second locker: err = %v, want lock_not_available (55P03)", err)
				}
			}
			_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'failed' WHERE id = $1`, jobID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if j := mustGet(t, q, "", jobID); j.State != Failed {
			t.Fatalf("state = %s, want failed", j.State)
		}
	})
}
