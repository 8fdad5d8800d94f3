// Package jobs is Beckon's durable job queue (P5). Background work — emails, CRM sync, webhook
// deliveries — is stored as rows of the jobs table, enqueued in the same transaction as the change
// that causes it, claimed by workers under a lease, retried with exponential backoff and jitter,
// rescued when the process running it dies, and kept visible to admins with its state, attempts
// and last error.
//
// Execution is at least once: a handler may run again after a crash or a lost lease, so handlers
// must be idempotent. docs/JOBS.md describes the guarantees for operators and developers.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// State is where a job is in its life.
type State string

// The states of a job. Queued and Retrying jobs wait for their run_at; Running jobs are held by a
// worker under a lease; Succeeded and Failed are final (an admin may Retry a Failed job).
const (
	Queued    State = "queued"
	Running   State = "running"
	Retrying  State = "retrying"
	Succeeded State = "succeeded"
	Failed    State = "failed"
)

// States lists every state, in the order of a job's life.
var States = []State{Queued, Running, Retrying, Succeeded, Failed}

// Valid reports whether s is one of the States.
func (s State) Valid() bool {
	switch s {
	case Queued, Running, Retrying, Succeeded, Failed:
		return true
	}
	return false
}

// Job is one stored job. Times are UTC; a zero time means "never" (e.g. FinishedAt of an
// unfinished job, LeaseUntil of a job nobody holds).
type Job struct {
	ID          string          `json:"id"`
	WorkspaceID string          `json:"workspace_id"` // "" for jobs of the whole server
	Kind        string          `json:"kind"`
	Payload     json.RawMessage `json:"payload"` // cleared to {} when the job succeeds
	State       State           `json:"state"`
	Attempts    int             `json:"attempts"` // attempts started so far, the current one included
	MaxAttempts int             `json:"max_attempts"`
	RunAt       time.Time       `json:"run_at"` // not before; for a retrying job, the next attempt
	LeaseUntil  time.Time       `json:"lease_until,omitzero"`
	LockedBy    string          `json:"locked_by,omitempty"` // WorkerID of the last claimer
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	FinishedAt  time.Time       `json:"finished_at,omitzero"`
	LastError   string          `json:"last_error,omitempty"`
	DedupeKey   string          `json:"dedupe_key,omitempty"`
}

// Handler does the work of one job. It returns nil on success; any other error schedules a retry
// (until MaxAttempts), and an error made by Permanent fails the job at once. ctx is cancelled when
// the handler's time is up or the queue stops; a handler should return promptly then. A panic is
// recovered and counts as an error.
type Handler func(ctx context.Context, j *Job) error

// Options tunes a Queue. Zero values take the defaults noted on each field.
type Options struct {
	// Workers is how many handlers run at once in this process. Default 4.
	Workers int
	// Lease is how long a claimed job stays reserved for its worker without a heartbeat; a job
	// whose lease has passed is rescued by any worker. The lease is renewed every Lease/3 while
	// the handler runs. Default 5 minutes.
	Lease time.Duration
	// Timeout is the deadline of a handler's context. Default Lease.
	Timeout time.Duration
	// PollInterval is how often workers look for due jobs when nobody calls Notify. Default 2 s.
	PollInterval time.Duration
	// BackoffBase and BackoffMax shape the delay before a retry: BackoffBase·2^(attempts−1),
	// capped at BackoffMax, then ±20 % jitter. Defaults 10 s and 1 hour.
	BackoffBase, BackoffMax time.Duration
	// WorkerID names this process in the locked_by column. Default host-pid-random.
	WorkerID string
}

// Defaults used for zero Options fields and maxAttempts.
const (
	DefaultWorkers      = 4
	DefaultLease        = 5 * time.Minute
	DefaultPollInterval = 2 * time.Second
	DefaultBackoffBase  = 10 * time.Second
	DefaultBackoffMax   = time.Hour
	DefaultMaxAttempts  = 10
	// MaxErrorLen is the most bytes of a handler's error kept in last_error.
	MaxErrorLen = 2000
)

// Queue enqueues, runs and reports jobs. It is safe for concurrent use. Any number of processes
// may run a Queue on the same database; each job is held by one of them at a time.
type Queue struct {
	d    *db.DB
	clk  clock.Clock
	log  *slog.Logger
	opts Options

	mu       sync.RWMutex
	handlers map[string]registration

	running atomic.Bool
	wake    chan struct{}
}

type registration struct {
	h           Handler
	maxAttempts int
}

// New returns a Queue on d. Times come from clk; log receives handler failures and rescues (nil
// discards them). Register handlers, then call Run.
func New(d *db.DB, clk clock.Clock, log *slog.Logger, opts Options) *Queue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Timeout <= 0 {
		opts.Timeout = opts.Lease
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.BackoffMax < opts.BackoffBase {
		opts.BackoffMax = opts.BackoffBase
	}
	if opts.WorkerID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "beckon"
		}
		opts.WorkerID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), strings.TrimPrefix(id.New("w"), "w_")[:6])
	}
	return &Queue{
		d: d, clk: clk, log: log.With("component", "jobs", "worker", opts.WorkerID), opts: opts,
		handlers: map[string]registration{},
		wake:     make(chan struct{}, 1),
	}
}

// Options returns the queue's options with defaults filled in.
func (q *Queue) Options() Options { return q.opts }

// Register makes kind known to the queue: Enqueue accepts it and Run executes it with h, at most
// maxAttempts times per job (DefaultMaxAttempts when maxAttempts ≤ 0; NewJob.MaxAttempts overrides
// it per job). Call it before Run. It panics on an empty kind, a nil handler, a kind registered
// twice or a call after Run started: these are programming errors.
func (q *Queue) Register(kind string, h Handler, maxAttempts int) {
	if kind == "" || h == nil {
		panic("jobs: Register needs a kind and a handler")
	}
	if q.running.Load() {
		panic("jobs: Register(" + kind + ") after Run")
	}
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, dup := q.handlers[kind]; dup {
		panic("jobs: kind " + kind + " registered twice")
	}
	q.handlers[kind] = registration{h: h, maxAttempts: maxAttempts}
}

func (q *Queue) registered(kind string) (registration, bool) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	r, ok := q.handlers[kind]
	return r, ok
}

// NewJob describes a job to enqueue.
type NewJob struct {
	// WorkspaceID scopes the job for admins; "" for jobs of the whole server.
	WorkspaceID string
	// Kind names a registered handler.
	Kind string
	// Payload is marshalled to JSON (nil stores {}); a json.RawMessage is stored as is.
	Payload any
	// RunAt delays the first attempt; zero means now.
	RunAt time.Time
	// DedupeKey, when not empty, makes enqueueing idempotent: while a job with this key exists
	// (whatever its state), Enqueue returns that job's id instead of adding another. Keys are
	// global to the server, so include the workspace id and the object in them,
	// e.g. "crm.sync:ws_…:contact_…".
	DedupeKey string
	// MaxAttempts overrides the kind's registered maximum when > 0.
	MaxAttempts int
}

// Enqueue inserts a queued job using tx — the *sql.Tx of the caller's business transaction, so
// that the job exists if and only if that transaction commits, or the *db.DB — and returns its id.
// Call Notify after the commit to start it without waiting for the next poll.
//
// With a DedupeKey that an existing job already has, Enqueue returns that job's id and no error,
// and inserts nothing. It returns errs.Invalid for an unregistered kind or a payload that cannot
// be marshalled, errs.Conflict when the dedupe key belongs to a job of another workspace or kind,
// and an Internal error wrapping the database's.
func (q *Queue) Enqueue(ctx context.Context, tx db.Queryer, j NewJob) (string, error) {
	reg, ok := q.registered(j.Kind)
	if !ok {
		return "", errs.Field(errs.Invalid, "kind", "unknown job kind %q", j.Kind)
	}
	payload := []byte("{}")
	if j.Payload != nil {
		b, err := json.Marshal(j.Payload)
		if err != nil {
			return "", errs.Wrap(errs.Invalid, err, "jobs.Enqueue: payload of %s is not JSON", j.Kind)
		}
		payload = b
	}
	maxAttempts := reg.maxAttempts
	if j.MaxAttempts > 0 {
		maxAttempts = j.MaxAttempts
	}
	now := q.clk.Now()
	runAt := j.RunAt
	if runAt.IsZero() {
		runAt = now
	}
	var dedupe any // NULL unless a key is given: NULLs never collide in the unique index
	if j.DedupeKey != "" {
		dedupe = j.DedupeKey
	}
	jobID := id.New("job")
	var got string
	err := tx.QueryRowContext(ctx, `INSERT INTO jobs
		(id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, dedupe_key, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, $9)
		ON CONFLICT (dedupe_key) DO NOTHING
		RETURNING id`,
		jobID, j.WorkspaceID, j.Kind, string(payload), string(Queued), maxAttempts, db.Micro(runAt), dedupe, db.Micro(now),
	).Scan(&got)
	switch {
	case err == nil:
		return got, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("jobs.Enqueue %s: %w", j.Kind, err)
	}
	// The dedupe key is taken (by a committed job, or by one inserted earlier in this transaction).
	var ws, kind string
	err = tx.QueryRowContext(ctx, `SELECT id, workspace_id, kind FROM jobs WHERE dedupe_key = $1`, j.DedupeKey).Scan(&got, &ws, &kind)
	if err != nil {
		return "", fmt.Errorf("jobs.Enqueue %s: find job with dedupe key: %w", j.Kind, err)
	}
	if ws != j.WorkspaceID || kind != j.Kind {
		return "", errs.Field(errs.Conflict, "dedupe_key", "dedupe key %q belongs to another job", j.DedupeKey)
	}
	return got, nil
}

// Notify wakes the workers of this process to look for due jobs now; call it after the
// transaction that enqueued a job has committed. Workers also poll every PollInterval, so a
// missed Notify only delays a job. It never blocks.
func (q *Queue) Notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// permanentError marks an error that must not be retried.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent wraps err so that a handler returning it fails its job at once, without retries
// (for errors no retry can cure: a deleted contact, a rejected address). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was made by Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Backoff returns the delay before the retry that follows attempt number attempts (1-based):
// base·2^(attempts−1), capped at max, multiplied by a random factor in [0.8, 1.2).
func Backoff(attempts int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// cleanError makes a handler's error storable: valid UTF-8 without NUL (PostgreSQL's TEXT rejects
// both), at most MaxErrorLen bytes, never cut inside a character.
func cleanError(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= MaxErrorLen {
		return s
	}
	cut := MaxErrorLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
