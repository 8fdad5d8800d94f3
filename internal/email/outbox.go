package email

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/secret"
)

// JobKind is the kind of the durable job that sends one email.
const JobKind = "email.send"

// Outbox sends emails as durable jobs (P5, E3): Queue writes the job in the caller's transaction,
// so the email goes out if and only if the change that caused it commits, and a worker sends it
// with retries and backoff. A refusal by the mail server (5xx) fails the job at once; anything
// else is retried. Delivery is at least once: a worker that dies after the server accepted the
// message but before the job was marked done sends it again.
//
// An email can carry a credential (an activation link), so the job's payload is sealed with the
// server's secret keyring (SEC4): neither the database nor its backups hold the message in clear,
// and the jobs queue clears the payload once the email is sent.
type Outbox struct {
	q      *jobs.Queue
	sender Sender
	keys   *secret.Keyring
}

// MaxSendAttempts is how many times an email is tried (spread over about a day by the backoff).
const MaxSendAttempts = 12

// NewOutbox returns an Outbox on q and registers the send job with it. keys seals the payloads;
// with nil keys Queue refuses (a server without BECKON_SECRET_KEY cannot store emails safely).
func NewOutbox(q *jobs.Queue, s Sender, keys *secret.Keyring) *Outbox {
	o := &Outbox{q: q, sender: s, keys: keys}
	q.Register(JobKind, o.send, MaxSendAttempts)
	return o
}

// sealedPayload is what an email job stores.
type sealedPayload struct {
	Sealed string `json:"sealed"`
}

func associated(workspaceID string) string { return JobKind + "/" + workspaceID }

// Queue validates m and enqueues its sending in tx. It returns errs.Invalid naming the field for
// a message that could never be sent, and errs.Unavailable when no secret key is configured.
func (o *Outbox) Queue(ctx context.Context, tx db.Queryer, workspaceID string, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if o.keys == nil {
		return errs.E(errs.Unavailable, "no secret key is configured (BECKON_SECRET_KEY), so emails cannot be queued")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("email.Queue: %w", err)
	}
	_, err = o.q.Enqueue(ctx, tx, jobs.NewJob{WorkspaceID: workspaceID, Kind: JobKind,
		Payload: sealedPayload{Sealed: o.keys.Seal(b, associated(workspaceID))}})
	return err
}

func (o *Outbox) send(ctx context.Context, j *jobs.Job) error {
	var p sealedPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.Sealed == "" {
		return jobs.Permanent(fmt.Errorf("email job payload is not a sealed message"))
	}
	if o.keys == nil {
		return errs.E(errs.Unavailable, "no secret key is configured (BECKON_SECRET_KEY) to open queued emails")
	}
	b, err := o.keys.Open(p.Sealed, associated(j.WorkspaceID))
	if err == secret.ErrUnknownKey {
		return err // retried: the operator may yet restore the key in BECKON_SECRET_KEYS_OLD
	}
	if err != nil {
		return jobs.Permanent(fmt.Errorf("email job payload: %w", err))
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
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
