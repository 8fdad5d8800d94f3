package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beckonhq/beckon/internal/db"
)

// jobCols is the column list every query that reads whole jobs uses, in scanJob's order.
const jobCols = `id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, lease_until,
	locked_by, last_error, dedupe_key, created_at, updated_at, finished_at`

func scanJob(s db.Scanner) (*Job, error) {
	var (
		j                                        Job
		payload, state                           string
		runAt, lease, created, updated, finished int64
		dedupe                                   sql.NullString
	)
	err := s.Scan(&j.ID, &j.WorkspaceID, &j.Kind, &payload, &state, &j.Attempts, &j.MaxAttempts, &runAt, &lease,
		&j.LockedBy, &j.LastError, &dedupe, &created, &updated, &finished)
	if err != nil {
		return nil, err
	}
	j.Payload = json.RawMessage(payload)
	j.State = State(state)
	j.RunAt, j.LeaseUntil, j.CreatedAt, j.UpdatedAt, j.FinishedAt =
		db.Time(runAt), db.Time(lease), db.Time(created), db.Time(updated), db.Time(finished)
	j.DedupeKey = dedupe.String
	return &j, nil
}

// errLeaseLost cancels a handler whose job another worker has taken over.
var errLeaseLost = errors.New("jobs: lease lost to another worker")

// errTimeout is the cause of a handler's context when its Timeout has passed.
var errTimeout = errors.New("jobs: handler timed out")

// ownerGuard is the condition under which a worker may still write a job it claimed: it is still
// running, held by this worker, in the same attempt. A job rescued by another worker (or by this
// one in a later attempt) fails the guard, so a late result cannot overwrite the newer one.
const ownerGuard = `id = $1 AND locked_by = $2 AND state = 'running' AND attempts = $3`

// Run claims and executes due jobs of the registered kinds with up to Workers handlers at a time,
// until ctx is cancelled. Handlers get a context derived from ctx; on cancellation Run stops
// claiming, waits for running handlers to return, records their results and returns nil. A job
// whose handler fails because of the shutdown goes back to the queue without using up an attempt.
// Database errors while claiming are logged and retried at the next poll. Run returns an error
// only when the queue is already running.
func (q *Queue) Run(ctx context.Context) error {
	if !q.running.CompareAndSwap(false, true) {
		return errors.New("jobs.Run: queue is already running")
	}
	defer q.running.Store(false)

	q.mu.RLock()
	kinds := make([]string, 0, len(q.handlers))
	regs := make(map[string]registration, len(q.handlers))
	for k, r := range q.handlers {
		kinds = append(kinds, k)
		regs[k] = r
	}
	q.mu.RUnlock()
	slices.Sort(kinds)
	c := q.newClaimer(kinds)

	var wg sync.WaitGroup
	freed := make(chan struct{}, q.opts.Workers) // one send per finished handler; never blocks
	busy := 0
	tick := time.NewTicker(q.opts.PollInterval)
	defer tick.Stop()
	for {
		for len(kinds) > 0 && busy < q.opts.Workers && ctx.Err() == nil {
			free := q.opts.Workers - busy
			claimed, err := c.claim(ctx, free)
			if err != nil {
				if ctx.Err() == nil {
					q.log.Warn("jobs: claim failed", "err", err)
				}
				break
			}
			for _, j := range claimed {
				busy++
				wg.Go(func() {
					defer func() { freed <- struct{}{} }()
					q.execute(ctx, j, regs[j.Kind])
				})
			}
			if len(claimed) < free {
				break // nothing more is due now
			}
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-freed:
			busy--
		case <-q.wake:
		case <-tick.C:
		}
	}
}

// claimer holds the claim queries for one set of kinds; the kinds are bound as $3, $4, ….
type claimer struct {
	q                   *Queue
	kinds               []any
	probeSQL, selectSQL string
}

func (q *Queue) newClaimer(kinds []string) *claimer {
	c := &claimer{q: q}
	ph := make([]string, len(kinds))
	for i, k := range kinds {
		ph[i] = fmt.Sprintf("$%d", i+3)
		c.kinds = append(c.kinds, k)
	}
	// Due: waiting and its time has come, or running under a lease that has passed (its worker
	// died or hung without heartbeats).
	where := `((state IN ('queued', 'retrying') AND run_at <= $1) OR (state = 'running' AND lease_until <= $1))
		AND kind IN (` + strings.Join(ph, ", ") + `)`
	c.probeSQL = `SELECT id FROM jobs WHERE ` + where + ` ORDER BY run_at LIMIT $2`
	c.selectSQL = `SELECT id, state, attempts, max_attempts, locked_by FROM jobs WHERE ` + where +
		` ORDER BY run_at, id LIMIT $2` + q.d.SkipLocked()
	return c
}

// claim marks up to n due jobs as running under this worker's lease and returns them. A running
// job whose lease expired is rescued: claimed for another attempt, or failed when it has used all
// its attempts. It all happens in one transaction; on PostgreSQL SKIP LOCKED lets concurrent
// claimers take different rows, on SQLite the immediate transaction serialises them.
func (c *claimer) claim(ctx context.Context, n int) ([]*Job, error) {
	q := c.q
	now := q.clk.Now()
	args := append([]any{db.Micro(now), n}, c.kinds...)

	// A cheap read first, so that idle polls do not take SQLite's write lock.
	var probe string
	switch err := q.d.QueryRowContext(ctx, c.probeSQL, args...).Scan(&probe); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("jobs.claim: %w", err)
	}

	type candidate struct {
		id, state, lockedBy   string
		attempts, maxAttempts int
	}
	var out []*Job
	var rescued []candidate
	err := q.d.InTx(ctx, func(tx *sql.Tx) error {
		out, rescued = nil, nil
		rows, err := tx.QueryContext(ctx, c.selectSQL, args...)
		if err != nil {
			return err
		}
		var cands []candidate
		for rows.Next() {
			var cd candidate
			if err := rows.Scan(&cd.id, &cd.state, &cd.attempts, &cd.maxAttempts, &cd.lockedBy); err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, cd)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		nowUS := db.Micro(now)
		leaseUS := db.Micro(now.Add(q.opts.Lease))
		for _, cd := range cands {
			if cd.state != string(Running) {
				j, err := scanJob(tx.QueryRowContext(ctx, `UPDATE jobs SET state = 'running', attempts = attempts + 1,
					lease_until = $1, locked_by = $2, updated_at = $3 WHERE id = $4 RETURNING `+jobCols,
					leaseUS, q.opts.WorkerID, nowUS, cd.id))
				if err != nil {
					return err
				}
				out = append(out, j)
				continue
			}
			rescued = append(rescued, cd)
			note := cleanError(fmt.Sprintf("lease of worker %s expired during attempt %d", cd.lockedBy, cd.attempts))
			if cd.attempts >= cd.maxAttempts {
				_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'failed', lease_until = 0, last_error = $1,
					finished_at = $2, updated_at = $2 WHERE id = $3`, note, nowUS, cd.id)
				if err != nil {
					return err
				}
				continue
			}
			j, err := scanJob(tx.QueryRowContext(ctx, `UPDATE jobs SET state = 'running', attempts = attempts + 1,
				lease_until = $1, locked_by = $2, last_error = $3, updated_at = $4 WHERE id = $5 RETURNING `+jobCols,
				leaseUS, q.opts.WorkerID, note, nowUS, cd.id))
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobs.claim: %w", err)
	}
	for _, cd := range rescued {
		if cd.attempts >= cd.maxAttempts {
			q.log.Error("jobs: lease expired on the last attempt; job failed", "job", cd.id,
				"previous_worker", cd.lockedBy, "attempts", cd.attempts)
		} else {
			q.log.Warn("jobs: rescued job whose lease expired", "job", cd.id,
				"previous_worker", cd.lockedBy, "attempt", cd.attempts+1)
		}
	}
	slices.SortStableFunc(out, func(a, b *Job) int { return a.RunAt.Compare(b.RunAt) })
	return out, nil
}

// execute runs one claimed job's handler with a heartbeat and records the outcome.
func (q *Queue) execute(runCtx context.Context, j *Job, reg registration) {
	base, cancelLost := context.WithCancelCause(runCtx)
	hctx, cancel := context.WithTimeoutCause(base, q.opts.Timeout, errTimeout)
	defer cancel()
	defer cancelLost(nil)

	var lost atomic.Bool
	stop := make(chan struct{})
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		q.heartbeat(runCtx, j, stop, func() {
			lost.Store(true)
			cancelLost(errLeaseLost)
		})
	}()

	start := time.Now()
	jc := *j // the handler gets its own copy
	herr := q.call(hctx, reg.h, &jc)
	close(stop)
	<-hbDone
	if herr != nil && errors.Is(context.Cause(hctx), errTimeout) && errors.Is(herr, context.DeadlineExceeded) {
		herr = fmt.Errorf("timed out after %s: %w", q.opts.Timeout, herr)
	}
	q.finish(runCtx, j, herr, lost.Load(), time.Since(start))
}

// call runs h, turning a panic into an error.
func (q *Queue) call(ctx context.Context, h Handler, j *Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			q.log.Error("jobs: handler panicked", "job", j.ID, "kind", j.Kind, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
		}
	}()
	return h(ctx, j)
}

// heartbeat renews j's lease every Lease/3 (so that one slow or failed renewal still leaves time
// for another before the lease passes) until stop is closed. It keeps going while the process
// shuts down (the handler is still running, so nobody else may take the job). When the job is no
// longer this worker's, it calls lost and returns.
func (q *Queue) heartbeat(runCtx context.Context, j *Job, stop <-chan struct{}, lost func()) {
	every := q.opts.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(runCtx), every)
		now := q.clk.Now()
		res, err := q.d.ExecContext(ctx, `UPDATE jobs SET lease_until = $4, updated_at = $5 WHERE `+ownerGuard,
			j.ID, q.opts.WorkerID, j.Attempts, db.Micro(now.Add(q.opts.Lease)), db.Micro(now))
		cancel()
		if err != nil {
			q.log.Warn("jobs: heartbeat failed", "job", j.ID, "err", err)
			continue
		}
		if n, _ := res.RowsAffected(); n == 0 {
			q.log.Warn("jobs: lease lost; cancelling handler", "job", j.ID, "kind", j.Kind)
			lost()
			return
		}
	}
}

// finish records the outcome of one attempt, if the job is still this worker's.
func (q *Queue) finish(runCtx context.Context, j *Job, herr error, lost bool, took time.Duration) {
	log := q.log.With("job", j.ID, "kind", j.Kind, "attempt", j.Attempts, "took", took)
	if lost {
		log.Warn("jobs: result discarded: another worker took the job over", "err", herr)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(runCtx), 30*time.Second)
	defer cancel()
	now := q.clk.Now()
	nowUS := db.Micro(now)
	guard := []any{j.ID, q.opts.WorkerID, j.Attempts}
	var (
		query string
		args  []any
		state State
	)
	switch {
	case herr == nil:
		state = Succeeded
		// The payload is cleared: it may hold a secret (an emailed activation link) that must not
		// linger for as long as succeeded jobs are kept. Failed jobs keep theirs for Retry.
		query = `UPDATE jobs SET state = 'succeeded', payload = '{}', lease_until = 0, finished_at = $4,
			updated_at = $4 WHERE ` + ownerGuard
		args = append(guard, nowUS)
	case runCtx.Err() != nil && !IsPermanent(herr):
		// Stopped by the shutdown, not by its own fault: back to the queue, attempt not counted.
		state = Queued
		query = `UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = $4, lease_until = 0,
			last_error = $5, updated_at = $4 WHERE ` + ownerGuard
		args = append(guard, nowUS, cleanError("interrupted by shutdown: "+herr.Error()))
	case IsPermanent(herr) || j.Attempts >= j.MaxAttempts:
		state = Failed
		query = `UPDATE jobs SET state = 'failed', lease_until = 0, last_error = $4, finished_at = $5,
			updated_at = $5 WHERE ` + ownerGuard
		args = append(guard, cleanError(herr.Error()), nowUS)
	default:
		state = Retrying
		next := now.Add(Backoff(j.Attempts, q.opts.BackoffBase, q.opts.BackoffMax))
		query = `UPDATE jobs SET state = 'retrying', run_at = $4, lease_until = 0, last_error = $5,
			updated_at = $6 WHERE ` + ownerGuard
		args = append(guard, db.Micro(next), cleanError(herr.Error()), nowUS)
	}
	res, err := q.d.ExecContext(ctx, query, args...)
	if err != nil {
		// The lease will expire and another attempt will run: at least once.
		log.Error("jobs: recording the result failed", "state", state, "handler_err", herr, "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		log.Warn("jobs: result discarded: another worker took the job over", "state", state, "err", herr)
		return
	}
	switch state {
	case Succeeded:
		log.Debug("jobs: succeeded")
	case Queued:
		log.Info("jobs: interrupted by shutdown; requeued", "err", herr)
	case Failed:
		log.Error("jobs: failed", "err", herr, "max_attempts", j.MaxAttempts)
	case Retrying:
		log.Warn("jobs: attempt failed; will retry", "err", herr)
	}
}
