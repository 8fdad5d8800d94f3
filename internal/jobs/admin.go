package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// List returns the jobs of workspaceID ("" lists the jobs of the whole server), newest first,
// optionally only those in state (empty for all). limit ≤ 0 means DefaultListLimit and is capped at
// MaxListLimit. before is a cursor: the id of the last job of the previous page, whose older jobs
// follow; empty for the first page. It returns errs.Invalid for an unknown state (field "state")
// or a cursor that is not a job of this workspace (field "before"); a cursor that is not even a
// job id is refused before any query.
func (q *Queue) List(ctx context.Context, workspaceID string, state State, limit int, before string) ([]Job, error) {
	if state != "" && !state.Valid() {
		return nil, errs.Field(errs.Invalid, "state", "unknown job state %q", state)
	}
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	// Without a cursor, a created_at after every real one selects everything.
	curAt, curID := int64(1<<62), ""
	if before != "" {
		if !id.Valid("job", before) {
			return nil, errs.Field(errs.Invalid, "before", "unknown cursor")
		}
		err := q.d.QueryRowContext(ctx, `SELECT created_at FROM jobs WHERE id = $1 AND workspace_id = $2`,
			before, workspaceID).Scan(&curAt)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errs.Field(errs.Invalid, "before", "unknown cursor")
		}
		if err != nil {
			return nil, fmt.Errorf("jobs.List: cursor: %w", err)
		}
		curID = before
	}
	scan := func(r db.Scanner) (Job, error) {
		j, err := scanJob(r)
		if err != nil {
			return Job{}, err
		}
		return *j, nil
	}
	out, err := db.All(ctx, q.d, scan, `SELECT `+jobCols+` FROM jobs
		WHERE workspace_id = $1 AND ($2 = '' OR state = $2)
		AND (created_at < $3 OR (created_at = $3 AND id < $4))
		ORDER BY created_at DESC, id DESC LIMIT $5`,
		workspaceID, string(state), curAt, curID, limit)
	if err != nil {
		return nil, fmt.Errorf("jobs.List: %w", err)
	}
	return out, nil
}

// Get returns the job id of workspaceID. It returns errs.NotFound when there is no such job in
// that workspace — also when the id belongs to another workspace, and, without a query, when
// jobID is not a job id at all.
func (q *Queue) Get(ctx context.Context, workspaceID, jobID string) (*Job, error) {
	if !id.Valid("job", jobID) {
		return nil, errs.NotFoundf("no such job")
	}
	j, err := scanJob(q.d.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = $1 AND workspace_id = $2`,
		jobID, workspaceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such job")
	}
	if err != nil {
		return nil, fmt.Errorf("jobs.Get: %w", err)
	}
	return j, nil
}

// Retry puts a failed job of workspaceID back in the queue to run now, with its attempts reset to
// zero (its last error is kept until the next attempt ends), and wakes this process's workers.
// It returns errs.NotFound when the job is not in that workspace (or jobID is not a job id) and
// errs.Conflict when the job is not in state failed.
func (q *Queue) Retry(ctx context.Context, workspaceID, jobID string) error {
	if !id.Valid("job", jobID) {
		return errs.NotFoundf("no such job")
	}
	now := db.Micro(q.clk.Now())
	res, err := q.d.ExecContext(ctx, `UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, lease_until = 0,
		finished_at = 0, updated_at = $1 WHERE id = $2 AND workspace_id = $3 AND state = 'failed'`, now, jobID, workspaceID)
	if err != nil {
		return fmt.Errorf("jobs.Retry: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("jobs.Retry: %w", err)
	} else if n == 1 {
		q.Notify()
		return nil
	}
	j, err := q.Get(ctx, workspaceID, jobID)
	if err != nil {
		return err
	}
	return errs.E(errs.Conflict, "job is %s; only a failed job can be retried", j.State)
}

// Counts returns how many jobs are in each state across the server, every state present (zero
// when none), for metrics such as a Prometheus gauge of jobs by state. Errors are Internal.
func (q *Queue) Counts(ctx context.Context) (map[State]int, error) {
	out := make(map[State]int, len(States))
	for _, s := range States {
		out[s] = 0
	}
	rows, err := q.d.QueryContext(ctx, `SELECT state, COUNT(*) FROM jobs GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("jobs.Counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("jobs.Counts: %w", err)
		}
		out[State(s)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs.Counts: %w", err)
	}
	return out, nil
}

// Prune deletes succeeded jobs that finished before the given instant and returns how many it
// deleted; failed jobs stay for admins to inspect and retry. Deleting a job frees its dedupe key.
// Errors are Internal.
func (q *Queue) Prune(ctx context.Context, finishedBefore time.Time) (int64, error) {
	res, err := q.d.ExecContext(ctx, `DELETE FROM jobs WHERE state = 'succeeded' AND finished_at < $1`,
		db.Micro(finishedBefore))
	if err != nil {
		return 0, fmt.Errorf("jobs.Prune: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("jobs.Prune: %w", err)
	}
	return n, nil
}

// Cancel deletes the queued job with the given dedupe key, using q (the caller's transaction or
// the database), so that work which became pointless — a ring timeout for a conversation just
// accepted — never runs. A job already running, retrying or finished is left alone. It reports
// whether a job was deleted; errors are Internal.
func (q *Queue) Cancel(ctx context.Context, tx db.Queryer, dedupeKey string) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE dedupe_key = $1 AND state = 'queued'`, dedupeKey)
	if err != nil {
		return false, fmt.Errorf("jobs.Cancel: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("jobs.Cancel: %w", err)
	}
	return n > 0, nil
}
