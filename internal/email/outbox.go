package email

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"sort"
	"strings"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/secret"
)

// JobKind is the kind of the durable job that sends one email.
const JobKind = "email.send"

// HeaderMessageID names the header that carries a message's history id ("em_…") on every email,
// so a bounce that quotes the original headers finds its message.
const HeaderMessageID = "X-Beckon-Message-Id"

// UnsubscribePath is where one-click unsubscribe links point: UnsubscribePath + token.
const UnsubscribePath = "/u/"

// Outbox sends emails as durable jobs (P5, E3): Queue writes the job in the caller's transaction,
// so the email goes out if and only if the change that caused it commits, and a worker sends it
// with retries and backoff. A refusal by the mail server (5xx) fails the job at once; anything
// else is retried. Delivery is at least once: a worker that dies after the server accepted the
// message but before the job was marked done sends it again.
//
// No path mails a suppressed address (E2): Queue leaves out recipients on the global suppression
// list or unsubscribed from the workspace, and the job checks again just before sending, since
// an address may bounce or unsubscribe meanwhile. Every message has a history (Store.Message):
// queued, each failed attempt, sent, suppressed, bounced.
//
// An email can carry a credential (an activation link), so the job's payload is sealed with the
// server's secret keyring (SEC4): neither the database nor its backups hold the message in clear,
// and the jobs queue clears the payload once the email is sent.
type Outbox struct {
	st      *Store
	q       *jobs.Queue
	sender  Sender
	keys    *secret.Keyring
	baseURL string
}

// MaxSendAttempts is how many times an email is tried (spread over about a day by the backoff).
const MaxSendAttempts = 12

// NewOutbox returns an Outbox on q and registers the send job with it. keys seals the payloads;
// with nil keys Queue refuses (a server without BECKON_SECRET_KEY cannot store emails safely).
// baseURL is the server's public URL, for unsubscribe links; without it messages carry none.
func NewOutbox(st *Store, q *jobs.Queue, s Sender, keys *secret.Keyring, baseURL string) *Outbox {
	o := &Outbox{st: st, q: q, sender: s, keys: keys, baseURL: strings.TrimRight(baseURL, "/")}
	q.Register(JobKind, o.send, MaxSendAttempts)
	return o
}

// Store returns the store the outbox records its messages in.
func (o *Outbox) Store() *Store { return o.st }

// sealedPayload is what an email job stores.
type sealedPayload struct {
	Sealed    string `json:"sealed"`
	MessageID string `json:"message_id,omitempty"`
}

func associated(workspaceID string) string { return JobKind + "/" + workspaceID }

// Queue validates m and enqueues its sending in tx, leaving out suppressed recipients. It returns
// errs.Invalid naming the field for a message that could never be sent, errs.Conflict about "to"
// when every recipient is suppressed (saying why), and errs.Unavailable when no secret key is
// configured.
func (o *Outbox) Queue(ctx context.Context, tx db.Queryer, workspaceID string, m Message) error {
	_, err := o.Enqueue(ctx, tx, workspaceID, m)
	return err
}

// Enqueue is Queue, returning the message's history id ("em_…").
func (o *Outbox) Enqueue(ctx context.Context, tx db.Queryer, workspaceID string, m Message) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	if o.keys == nil {
		return "", errs.E(errs.Unavailable, "no secret key is configured (BECKON_SECRET_KEY), so emails cannot be queued")
	}
	kept, keys, left, err := o.filter(ctx, tx, workspaceID, m)
	if err != nil {
		return "", fmt.Errorf("email.Queue: %w", err)
	}
	if len(kept.Recipients()) == 0 {
		return "", errs.Field(errs.Conflict, "to", "no email can be sent to %s", strings.Join(left, ", "))
	}
	mid := id.New("em")
	hist := m
	hist.To, hist.Cc, hist.Bcc = keys.To, keys.Cc, keys.Bcc
	if err := o.st.record(ctx, tx, workspaceID, mid, hist, left, StatusQueued); err != nil {
		return "", fmt.Errorf("email.Queue: %w", err)
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return "", fmt.Errorf("email.Queue: %w", err)
	}
	jid, err := o.q.Enqueue(ctx, tx, jobs.NewJob{WorkspaceID: workspaceID, Kind: JobKind,
		Payload: sealedPayload{Sealed: o.keys.Seal(b, associated(workspaceID)), MessageID: mid}})
	if err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE email_messages SET job_id = $1 WHERE id = $2`, jid, mid); err != nil {
		return "", fmt.Errorf("email.Queue: %w", err)
	}
	return mid, nil
}

// filter returns m without its suppressed recipients, the normalized keys of all its recipients,
// left out or not (as the history shows them), and the recipients left out, each
// "address (reason)".
func (o *Outbox) filter(ctx context.Context, q db.Queryer, wsID string, m Message) (kept, keys Message, left []string, err error) {
	all := m.Recipients()
	keyOf := make(map[string]string, len(all))
	list := make([]string, 0, len(all))
	for _, r := range all {
		k, err := Key(r)
		if err != nil {
			// Validate accepted it (net/mail syntax) but the validator does not: never send.
			k = strings.ToLower(strings.TrimSpace(r))
		}
		keyOf[r] = k
		list = append(list, k)
	}
	sup, err := suppressedAmong(ctx, q, wsID, list)
	if err != nil {
		return kept, keys, nil, err
	}
	kept, keys = m, m
	pick := func(in []string) (k, ks []string) {
		for _, r := range in {
			key := keyOf[r]
			ks = append(ks, key) // the history names every recipient, left out or not
			if why, bad := sup[key]; bad {
				left = append(left, key+" ("+why+")")
				continue
			}
			if _, err := Key(r); err != nil {
				left = append(left, key+" (invalid)")
				continue
			}
			k = append(k, r)
		}
		return k, ks
	}
	kept.To, keys.To = pick(m.To)
	kept.Cc, keys.Cc = pick(m.Cc)
	kept.Bcc, keys.Bcc = pick(m.Bcc)
	sort.Strings(left)
	return kept, keys, left, nil
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
		return o.fail(ctx, j, p.MessageID, jobs.Permanent(fmt.Errorf("email job payload: %w", err)))
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return o.fail(ctx, j, p.MessageID, jobs.Permanent(fmt.Errorf("email job payload: %w", err)))
	}
	// Check again: the address may have bounced or unsubscribed since the message was queued.
	kept, _, left, err := o.filter(ctx, o.st.d, j.WorkspaceID, m)
	if err != nil {
		return err
	}
	if len(kept.Recipients()) == 0 {
		if p.MessageID != "" {
			if err := o.st.update(ctx, p.MessageID, StatusSuppressed, StatusSuppressed, "not sent: "+strings.Join(left, ", "), j.Attempts, left); err != nil {
				return err
			}
		}
		return nil
	}
	if p.MessageID != "" {
		if kept.Headers == nil {
			kept.Headers = map[string]string{}
		}
		kept.Headers[HeaderMessageID] = p.MessageID
	}
	if rcpt := kept.Recipients(); len(rcpt) == 1 && o.baseURL != "" {
		// RFC 8058 one-click unsubscribe, for a message to one person: the link names them.
		if key, err := Key(rcpt[0]); err == nil {
			if kept.Headers == nil {
				kept.Headers = map[string]string{}
			}
			kept.Headers["List-Unsubscribe"] = "<" + o.UnsubscribeURL(j.WorkspaceID, key) + ">"
			kept.Headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
		}
	}
	kept.To, kept.Cc, kept.Bcc = wireForms(kept.To), wireForms(kept.Cc), wireForms(kept.Bcc)
	if err := o.sender.Send(ctx, kept); err != nil {
		if Permanent(err) {
			o.hardBounce(ctx, j.WorkspaceID, p.MessageID, kept, err)
			err = jobs.Permanent(err)
		}
		return o.fail(ctx, j, p.MessageID, err)
	}
	if p.MessageID != "" {
		var sup []string
		if len(left) > 0 {
			sup = left
		}
		detail := ""
		if len(left) > 0 {
			detail = "left out (suppressed since queued): " + strings.Join(left, ", ")
		}
		if err := o.st.update(ctx, p.MessageID, StatusSent, StatusSent, detail, j.Attempts, sup); err != nil {
			// The mail is out: do not send it again because the history could not be written.
			return jobs.Permanent(fmt.Errorf("email sent, but its history was not updated: %w", err))
		}
	}
	return nil
}

// fail records a failed attempt in the message's history and returns err for the queue.
func (o *Outbox) fail(ctx context.Context, j *jobs.Job, messageID string, err error) error {
	if messageID == "" {
		return err
	}
	status, kind := StatusRetrying, "attempt_failed"
	if jobs.IsPermanent(err) || j.Attempts >= j.MaxAttempts {
		status, kind = StatusFailed, StatusFailed
	}
	if uerr := o.st.update(ctx, messageID, status, kind, err.Error(), j.Attempts, nil); uerr != nil {
		return fmt.Errorf("%w (and its history was not updated: %v)", err, uerr)
	}
	return err
}

// hardBounce suppresses the recipient of a one-recipient message that the mail server refused
// as a bad address (RFC 3463 status 5.1.x: no such mailbox, bad domain, bad syntax).
func (o *Outbox) hardBounce(ctx context.Context, wsID, messageID string, m Message, err error) {
	rcpt := m.Recipients()
	if len(rcpt) != 1 || !BadMailbox(err) {
		return
	}
	_ = o.st.Suppress(ctx, rcpt[0], ReasonBounce, err.Error(), "smtp", wsID, messageID)
}

// unsubscribeAD binds unsubscribe tokens to their purpose.
const unsubscribeAD = "email.unsubscribe"

// UnsubscribeURL returns the one-click unsubscribe link for addr's mail from workspace wsID: it
// carries both, sealed, so nobody can unsubscribe another address by editing it.
func (o *Outbox) UnsubscribeURL(wsID, addr string) string {
	return o.baseURL + UnsubscribePath + o.keys.Seal([]byte(wsID+"\x00"+addr), unsubscribeAD)
}

// OpenUnsubscribe returns the workspace and address an unsubscribe token names, or
// errs.NotFound when the token is not one this server made.
func (o *Outbox) OpenUnsubscribe(token string) (wsID, addr string, err error) {
	if o.keys == nil || len(token) > 2000 {
		return "", "", errs.NotFoundf("this unsubscribe link is not valid")
	}
	b, err := o.keys.Open(token, unsubscribeAD)
	if err != nil {
		return "", "", errs.NotFoundf("this unsubscribe link is not valid")
	}
	wsID, addr, ok := strings.Cut(string(b), "\x00")
	if !ok || wsID == "" || addr == "" {
		return "", "", errs.NotFoundf("this unsubscribe link is not valid")
	}
	return wsID, addr, nil
}

// wireForms returns the recipients as they go on the SMTP wire: an internationalised domain in
// its ASCII (punycode) form, which every server takes; a non-ASCII local part stays UTF-8 and
// needs a server that offers SMTPUTF8 (RFC 6531), which the sender then uses.
func wireForms(rcpts []string) []string {
	out := make([]string, len(rcpts))
	for i, r := range rcpts {
		out[i] = r
		m, err := mail.ParseAddress(r)
		if err != nil {
			continue
		}
		a, err := address.Parse(m.Address)
		if err != nil || a.Domain == a.ASCIIDomain {
			continue
		}
		m.Address = a.Local + "@" + a.ASCIIDomain
		out[i] = m.String()
	}
	return out
}
