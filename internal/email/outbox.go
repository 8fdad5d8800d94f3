package email

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/jobs"
)

// JobKind is the kind of the durable job that sends one email.
const JobKind = "email.send"

// Outbox sends emails as durable jobs (P5, E3): Queue writes the job in the caller's transaction,
// so the email goes out if and only if the change that caused it commits, and a worker sends it
// with retries and backoff. A refusal by the mail server (5xx) fails the job at once; anything
// else is retried. Delivery is at least once: a worker that dies after the server accepted the
// message but before the job was marked done sends it again.
type Outbox struct {
	q      *jobs.Queue
	sender Sender
}

// MaxSendAttempts is how many times an email is tried (spread over about a day by the backoff).
const MaxSendAttempts = 12

// NewOutbox returns an Outbox on q and registers the send job with it.
func NewOutbox(q *jobs.Queue, s Sender) *Outbox {
	o := &Outbox{q: q, sender: s}
	q.Register(JobKind, o.send, MaxSendAttempts)
	return o
}

// Queue validates m and enqueues its sending in tx. It returns errs.Invalid naming the field for
// a message that could never be sent.
func (o *Outbox) Queue(ctx context.Context, tx db.Queryer, workspaceID string, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	_, err := o.q.Enqueue(ctx, tx, jobs.NewJob{WorkspaceID: workspaceID, Kind: JobKind, Payload: m})
	return err
}

func (o *Outbox) send(ctx context.Context, j *jobs.Job) error {
	var m Message
	if err := json.Unmarshal(j.Payload, &m); err != nil {
		return jobs.Permanent(fmt.Errorf("email job payload: %w", err))
	}
	if err := o.sender.Send(ctx, m); err != nil {
		if Permanent(err) {
			return jobs.Permanent(err)
		}
		return err
	}
	return nil
}
