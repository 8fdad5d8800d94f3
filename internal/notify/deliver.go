package notify

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/secret"
)

// The states of a delivery.
const (
	DeliveryQueued    = "queued"    // not tried yet
	DeliveryRetrying  = "retrying"  // an attempt failed; another follows
	DeliverySucceeded = "succeeded" // the receiver accepted it
	DeliveryFailed    = "failed"    // refused for good, or out of attempts
)

// Delivery is one message to one channel, with the outcome of its attempts.
type Delivery struct {
	ID         string `json:"id"` // the Beckon-Delivery header
	ChannelID  string `json:"channel_id"`
	Event      string `json:"event"` // event kind, alert stream, or "test"
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`    // requests sent so far
	LastStatus int    `json:"last_status"` // HTTP status of the last answer; 0 when none
	LastError  string `json:"last_error"`
	JobID      string `json:"job_id"`
	// NotBefore is the receiver's Retry-After: no attempt is sent before it.
	NotBefore   time.Time `json:"not_before,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// jobPayload is what a delivery job stores: the body is sealed, since it can hold visitors'
// messages and addresses (the queue clears it once the job succeeds).
type jobPayload struct {
	Delivery string `json:"delivery"`
	Sealed   string `json:"sealed"`
	Test     bool   `json:"test,omitempty"` // sent even when the channel is disabled
}

func bodyAD(wsID, dlvID string) string { return JobKind + "/" + wsID + "/" + dlvID }

const deliveryCols = `id, channel_id, event, state, attempts, last_status, last_error, job_id, not_before, created_at,
	updated_at, delivered_at`

func scanDelivery(r db.Scanner) (*Delivery, error) {
	var d Delivery
	var nb, created, updated, delivered int64
	if err := r.Scan(&d.ID, &d.ChannelID, &d.Event, &d.State, &d.Attempts, &d.LastStatus, &d.LastError, &d.JobID,
		&nb, &created, &updated, &delivered); err != nil {
		return nil, err
	}
	d.NotBefore, d.CreatedAt, d.UpdatedAt, d.DeliveredAt = db.Time(nb), db.Time(created), db.Time(updated), db.Time(delivered)
	return &d, nil
}

// enqueue records a delivery of body to channel c and enqueues its job, using q (the caller's
// transaction).
func (s *Service) enqueue(ctx context.Context, q db.Queryer, wsID string, c *Channel, event string, body []byte, test bool) (*Delivery, error) {
	if err := s.needKeys(); err != nil {
		return nil, err
	}
	if s.q == nil {
		return nil, errs.E(errs.Unavailable, "no job queue")
	}
	now := s.clk.Now()
	d := &Delivery{ID: id.New("dlv"), ChannelID: c.ID, Event: event, State: DeliveryQueued, CreatedAt: now, UpdatedAt: now}
	// The record first, so that a job that runs at once (q is not a transaction) finds it.
	_, err := q.ExecContext(ctx, `INSERT INTO notify_deliveries (id, workspace_id, channel_id, event, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`, d.ID, wsID, c.ID, event, d.State, db.Micro(now))
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	d.JobID, err = s.q.Enqueue(ctx, q, jobs.NewJob{WorkspaceID: wsID, Kind: JobKind,
		Payload: jobPayload{Delivery: d.ID, Sealed: s.keys.Seal(body, bodyAD(wsID, d.ID)), Test: test}})
	if err != nil {
		return nil, err
	}
	if _, err := q.ExecContext(ctx, `UPDATE notify_deliveries SET job_id = $1 WHERE id = $2`, d.JobID, d.ID); err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	return d, nil
}

// subscribed returns the enabled channels of workspace wsID that want event, read through q.
func (s *Service) subscribed(ctx context.Context, q db.Queryer, wsID string, want func(*Channel) bool) ([]*Channel, error) {
	if has, ok := s.knownChannels(wsID); ok && !has {
		return nil, nil // the common case, on every chat message: no query in the caller's transaction
	}
	gen := s.channelsGen(wsID)
	// Through q, never s.db: the caller may hold a transaction (and with it a connection of the
	// pool, or SQLite's write lock); a second connection could wait for ever.
	all, err := db.All(ctx, q, scanChannel, `SELECT `+channelCols+` FROM notify_channels WHERE workspace_id = $1 AND enabled = $2
		ORDER BY created_at, id`, wsID, true)
	if err != nil {
		return nil, err
	}
	s.rememberChannels(wsID, gen, len(all) > 0)
	return slices.DeleteFunc(all, func(c *Channel) bool { return !want(c) }), nil
}

// AnyChannelsTTL is how long a replica trusts that a workspace has no enabled channel: on every
// chat message the answer "none" costs no query. A channel saved on this replica counts at once;
// one saved on another replica after at most this long.
const AnyChannelsTTL = 2 * time.Second

// anyChannels remembers, per workspace, whether it has an enabled channel.
type anyChannels struct {
	mu  sync.Mutex
	m   map[string]anyEntry
	gen map[string]uint64 // bumped by every change of a workspace's channels on this replica
}

type anyEntry struct {
	has bool
	at  time.Time
}

// HasChannels reports whether workspace wsID has an enabled channel (as of AnyChannelsTTL ago at
// most): callers skip the work of a delivery nobody would get. An error counts as "maybe".
func (s *Service) HasChannels(ctx context.Context, wsID string) bool {
	has, err := s.hasChannels(ctx, wsID)
	return has || err != nil
}

// knownChannels returns what the replica remembers of whether workspace wsID has an enabled
// channel, and whether it remembers anything fresh.
func (s *Service) knownChannels(wsID string) (has, ok bool) {
	s.any.mu.Lock()
	defer s.any.mu.Unlock()
	e, ok := s.any.m[wsID]
	return e.has, ok && time.Since(e.at) < AnyChannelsTTL
}

// channelsGen returns the generation of workspace wsID's channels on this replica.
func (s *Service) channelsGen(wsID string) uint64 {
	s.any.mu.Lock()
	defer s.any.mu.Unlock()
	return s.any.gen[wsID]
}

// rememberChannels records what a query that began at generation gen found, unless the channels
// changed since (then the answer may be stale, and the next call asks again).
func (s *Service) rememberChannels(wsID string, gen uint64, has bool) {
	s.any.mu.Lock()
	defer s.any.mu.Unlock()
	if s.any.gen[wsID] != gen {
		return
	}
	if s.any.m == nil || len(s.any.m) > 10000 {
		s.any.m = map[string]anyEntry{}
	}
	s.any.m[wsID] = anyEntry{has: has, at: time.Now()}
}

// hasChannels reports whether workspace wsID has an enabled channel, asking the database (not in
// any transaction) when the replica does not know.
func (s *Service) hasChannels(ctx context.Context, wsID string) (bool, error) {
	if has, ok := s.knownChannels(wsID); ok {
		return has, nil
	}
	gen := s.channelsGen(wsID)
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notify_channels WHERE workspace_id = $1 AND enabled = $2`, wsID, true).Scan(&n); err != nil {
		return false, err
	}
	s.rememberChannels(wsID, gen, n > 0)
	return n > 0, nil
}

// channelsChanged forgets what the replica knew of workspace wsID's channels.
func (s *Service) channelsChanged(wsID string) {
	s.any.mu.Lock()
	delete(s.any.m, wsID)
	if s.any.gen == nil {
		s.any.gen = map[string]uint64{}
	}
	s.any.gen[wsID]++
	s.any.mu.Unlock()
}

// link is the "Open in Beckon" link of a conversation, or "" (also when Options.ConversationURL
// makes no absolute http(s) URL, which Slack would refuse).
func (s *Service) link(conv string) string {
	if conv == "" || s.opt.ConversationURL == nil {
		return ""
	}
	l := s.opt.ConversationURL(conv)
	u, err := url.Parse(l)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(l) > 2000 {
		return ""
	}
	return l
}

// webhookBody is the signed JSON body of a webhook delivery.
func (s *Service) webhookBody(wsID, kind, evtID string, at time.Time, data json.RawMessage) []byte {
	b, _ := json.Marshal(WebhookEvent{ID: evtID, Type: kind, CreatedAt: at.UTC(), WorkspaceID: wsID, Data: data})
	return b
}

// Event enqueues, in tx (the caller's business transaction, or the database), one delivery of
// event kind with data to every enabled channel of workspace wsID subscribed to it: webhooks get
// {id, type, created_at, workspace_id, data} with data as JSON; Slack and Teams channels get a
// message (see Summarizer). Deliveries happen after tx commits, at least once; call Notify after
// the commit to start them at once. It returns errs.Invalid for an unknown kind (field "kind") or
// data that is not JSON (field "data"), errs.Unavailable when no secret key is configured and a
// channel wants the event, and Internal errors of the database.
func (s *Service) Event(ctx context.Context, tx db.Queryer, wsID string, kind string, data any) error {
	if !slices.Contains(EventKinds, kind) {
		return errs.Field(errs.Invalid, "kind", "%q is not an event kind", kind)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "data: not JSON")
	}
	chans, err := s.subscribed(ctx, tx, wsID, func(c *Channel) bool { return c.Wants(kind) })
	if err != nil || len(chans) == 0 {
		return errs.Op("notify.Event", err)
	}
	now := s.clk.Now()
	evtID := id.New("evt")
	var su *Summary
	for _, c := range chans {
		var body []byte
		switch c.Kind {
		case KindWebhook:
			body = s.webhookBody(wsID, kind, evtID, now, raw)
		default:
			if su == nil {
				x := summarize(kind, data, raw)
				su = &x
			}
			body = s.chatBody(c.Kind, *su, kind)
		}
		if _, err := s.enqueue(ctx, tx, wsID, c, kind, body, false); err != nil {
			return errs.Op("notify.Event", err)
		}
	}
	return nil
}

// chatBody is the Slack or Teams message of a summary.
func (s *Service) chatBody(kind string, su Summary, event string) []byte {
	if kind == KindTeams {
		return teamsPayload(su, event, s.link(su.Conv))
	}
	return slackPayload(su, event, s.link(su.Conv))
}

// AlertChannels enqueues, in tx, a message about alert a to every enabled Slack and Teams channel
// of workspace wsID subscribed to a.Stream, and an "alert" event to every webhook subscribed to
// "alert". It returns errs.Invalid naming the field for a bad alert, errs.Unavailable when no
// secret key is configured and a channel wants the alert, and Internal errors of the database.
func (s *Service) AlertChannels(ctx context.Context, tx db.Queryer, wsID string, a Alert) error {
	a, err := s.checkAlert(a)
	if err != nil {
		return err
	}
	chans, err := s.subscribed(ctx, tx, wsID, func(c *Channel) bool {
		if c.Kind == KindWebhook {
			return c.Wants(EventAlert)
		}
		return c.Wants(a.Stream)
	})
	if err != nil || len(chans) == 0 {
		return errs.Op("notify.AlertChannels", err)
	}
	evtID, now := id.New("evt"), s.clk.Now()
	raw, _ := json.Marshal(alertData{ID: a.ID, Stream: a.Stream, Title: a.Title, Body: a.Body, Conv: a.Conv, Visitor: a.Visitor, At: a.At})
	for _, c := range chans {
		event, body := a.Stream, []byte(nil)
		if c.Kind == KindWebhook {
			event, body = EventAlert, s.webhookBody(wsID, EventAlert, evtID, now, raw)
		} else {
			body = s.chatBody(c.Kind, alertSummary(a), a.Stream)
		}
		if _, err := s.enqueue(ctx, tx, wsID, c, event, body, false); err != nil {
			return errs.Op("notify.AlertChannels", err)
		}
	}
	return nil
}

// TestChannel sends a test message to channel chID of workspace wsID (also when it is disabled),
// as a delivery like any other, and returns that delivery. It returns errs.NotFound and
// errs.Unavailable when no secret key is configured.
func (s *Service) TestChannel(ctx context.Context, wsID, chID string) (*Delivery, error) {
	var d *Delivery
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.channel(ctx, tx, wsID, chID)
		if err != nil {
			return err
		}
		var body []byte
		if c.Kind == KindWebhook {
			raw, _ := json.Marshal(map[string]string{"message": "This is a test delivery from Beckon.", "channel_id": c.ID})
			body = s.webhookBody(wsID, EventTest, id.New("evt"), s.clk.Now(), raw)
		} else {
			body = s.chatBody(c.Kind, Summary{Title: eventTitles[EventTest],
				Body: "Beckon will post to this channel: " + strings.Join(c.Events, ", ") + "."}, EventTest)
		}
		d, err = s.enqueue(ctx, tx, wsID, c, EventTest, body, true)
		return err
	})
	if err != nil {
		return nil, errs.Op("notify.TestChannel", err)
	}
	s.Notify()
	return d, nil
}

// DeliveryRetention is how long finished deliveries are kept: a channel's older records are
// deleted whenever one of its deliveries succeeds.
const DeliveryRetention = 14 * 24 * time.Hour

// Limits of Deliveries.
const (
	DefaultDeliveries = 50
	MaxDeliveries     = 200
)

// Deliveries returns the most recent deliveries to channel chID of workspace wsID, newest first,
// at most limit (DefaultDeliveries when ≤ 0, capped at MaxDeliveries). A delivery whose job the
// queue gave up on without recording it (its worker died on the last attempt) is shown failed. It
// returns errs.NotFound for an unknown channel.
func (s *Service) Deliveries(ctx context.Context, wsID, chID string, limit int) ([]*Delivery, error) {
	if _, err := s.Channel(ctx, wsID, chID); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultDeliveries
	}
	limit = min(limit, MaxDeliveries)
	out, err := db.All(ctx, s.db, scanDelivery, `SELECT `+deliveryCols+` FROM notify_deliveries
		WHERE workspace_id = $1 AND channel_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`, wsID, chID, limit)
	if err != nil {
		return nil, errs.Op("notify.Deliveries", err)
	}
	for _, d := range out {
		if d.State == DeliverySucceeded || d.State == DeliveryFailed || d.JobID == "" || s.q == nil {
			continue
		}
		if j, err := s.q.Get(ctx, wsID, d.JobID); err == nil && j.State == jobs.Failed {
			// The job gave up before its handler wrote the delivery's row (or could not write it):
			// the job's record is the truth.
			d.State, d.Attempts = DeliveryFailed, max(d.Attempts, j.Attempts)
			if d.LastError == "" {
				d.LastError = j.LastError
			}
		}
	}
	return out, nil
}

func (s *Service) delivery(ctx context.Context, wsID, dlvID string) (*Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries WHERE id = $1 AND workspace_id = $2`,
		dlvID, wsID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such delivery")
	}
	return d, err
}

// result is what one request to a receiver gave.
type result struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// outcome is how an attempt ends.
type outcome struct {
	ok, permanent bool
	retryAfter    time.Duration
	msg           string
}

// deliver is the job handler: it sends one delivery and records the outcome.
func (s *Service) deliver(ctx context.Context, j *jobs.Job) error {
	var p jobPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.Delivery == "" {
		return jobs.Permanent(errors.New("notify job payload is not a delivery"))
	}
	d, err := s.delivery(ctx, j.WorkspaceID, p.Delivery)
	if errs.Is(err, errs.NotFound) {
		s.log.Info("notify: delivery dropped: its channel was deleted", "delivery", p.Delivery)
		return nil // DeleteChannel drops what is still queued
	}
	if err != nil {
		return err
	}
	if d.State == DeliverySucceeded {
		return nil // delivered by an attempt whose result the queue did not record
	}
	c, err := s.channel(ctx, s.db, j.WorkspaceID, d.ChannelID)
	if errs.Is(err, errs.NotFound) {
		s.log.Info("notify: delivery dropped: its channel was deleted", "delivery", p.Delivery)
		return nil
	}
	if err != nil {
		return err
	}
	if !c.Enabled && !p.Test {
		s.record(ctx, j, d, c, false, 0, outcome{permanent: true, msg: "not sent: the channel is disabled"})
		return jobs.Permanent(errors.New("not sent: the channel is disabled"))
	}
	if s.keys == nil {
		return errs.E(errs.Unavailable, "no secret key is configured (BECKON_SECRET_KEY) to open the delivery")
	}
	body, err := s.keys.Open(p.Sealed, bodyAD(j.WorkspaceID, d.ID))
	if err == nil {
		var u []byte
		if u, err = s.keys.Open(c.urlSealed, urlAD(c.ID)); err == nil {
			return s.attempt(ctx, j, d, c, string(u), body)
		}
	}
	if errors.Is(err, secret.ErrUnknownKey) {
		return err // retried: the operator may yet restore the key in BECKON_SECRET_KEYS_OLD
	}
	s.record(ctx, j, d, c, false, 0, outcome{permanent: true, msg: "not sent: " + err.Error()})
	return jobs.Permanent(err)
}

// attempt waits out a short Retry-After, sends, and records the outcome.
func (s *Service) attempt(ctx context.Context, j *jobs.Job, d *Delivery, c *Channel, rawURL string, body []byte) error {
	if wait := d.NotBefore.Sub(s.clk.Now()); wait > 0 {
		if wait > MaxRetryAfterWait {
			o := outcome{msg: fmt.Sprintf("not sent yet: the receiver asked to wait until %s (Retry-After)", d.NotBefore.Format(time.RFC3339))}
			s.record(ctx, j, d, c, false, 0, o)
			return errors.New(o.msg)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	res := s.send(ctx, c, rawURL, d, body)
	if res.err != nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err() // shutting down: the queue puts the job back without using up an attempt
	}
	o := classify(c.Kind, res, s.clk.Now(), s.opt.Timeout)
	s.record(ctx, j, d, c, true, res.status, o)
	switch {
	case o.ok:
		return nil
	case o.permanent:
		return jobs.Permanent(errors.New(o.msg))
	}
	return errors.New(o.msg)
}

// send makes one request.
func (s *Service) send(ctx context.Context, c *Channel, rawURL string, d *Delivery, body []byte) result {
	u, err := url.Parse(rawURL)
	if err != nil {
		return result{err: err}
	}
	rctx := context.WithValue(ctx, schemeKey{}, u.Scheme)
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Beckon-Notifications/1")
	if c.Kind == KindWebhook {
		secs, err := s.secrets(c)
		if err != nil {
			return result{err: fmt.Errorf("open signing secret: %w", err)}
		}
		req.Header.Set(HeaderSignature, Sign(s.clk.Now(), body, secs...))
		req.Header.Set(HeaderEvent, d.Event)
		req.Header.Set(HeaderDelivery, d.ID)
	}
	resp, err := s.http.c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: nil}
}

// classify decides what an answer means: 2xx done; 408, 429 and 5xx, timeouts and network errors
// retried (honouring Retry-After); other answers permanent. A Teams connector's 200 that reports
// "HTTP error 429" in its body is a rate limit.
func classify(kind string, res result, now time.Time, timeout time.Duration) outcome {
	if res.err != nil {
		var be *blockedError
		if errors.As(res.err, &be) {
			return outcome{permanent: true, msg: be.Error()}
		}
		return outcome{msg: "not delivered: " + netError(res.err, timeout)}
	}
	snippet := oneLine(string(res.body), 200)
	says := ""
	if snippet != "" {
		says = ": " + snippet
	}
	st := res.status
	switch {
	case st >= 200 && st < 300:
		if kind == KindTeams && strings.Contains(string(res.body), "HTTP error 429") {
			return outcome{retryAfter: retryAfter(res.header, now), msg: "Teams is rate limiting this webhook" + says}
		}
		return outcome{ok: true}
	case st == http.StatusRequestTimeout || st == http.StatusTooManyRequests || st >= 500:
		return outcome{retryAfter: retryAfter(res.header, now), msg: fmt.Sprintf("the receiver answered %d%s", st, says)}
	case st >= 300 && st < 400:
		return outcome{permanent: true, msg: fmt.Sprintf("the receiver answered %d (a redirect, which is not followed): check the URL", st)}
	}
	msg := fmt.Sprintf("the receiver answered %d%s", st, says)
	if kind == KindSlack {
		switch {
		case st == http.StatusGone || strings.Contains(snippet, "channel_is_archived"):
			msg = "Slack answered " + strconv.Itoa(st) + says + ": the Slack channel is archived; connect another channel"
		case st == http.StatusNotFound:
			msg = "Slack answered " + strconv.Itoa(st) + says + ": the webhook was removed or its channel deleted; create a new incoming webhook"
		case st == http.StatusForbidden:
			msg = "Slack answered " + strconv.Itoa(st) + says + ": the Slack workspace does not allow this webhook to post here"
		case st == http.StatusBadRequest:
			msg = "Slack answered " + strconv.Itoa(st) + says + ": Slack refused the message"
		}
	}
	return outcome{permanent: true, msg: msg}
}

// netError describes a failed request without its URL (which is a secret).
func netError(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Sprintf("no answer within %s", timeout)
		}
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	return oneLine(err.Error(), 300)
}

// MaxRetryAfter caps a receiver's Retry-After.
const MaxRetryAfter = time.Hour

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 when absent or bad.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// record stores the outcome of an attempt on the delivery and the channel. sent tells whether a
// request went out. Failures to record are logged: the job's own record still holds the outcome.
func (s *Service) record(ctx context.Context, j *jobs.Job, d *Delivery, c *Channel, sent bool, status int, o outcome) {
	ctx = context.WithoutCancel(ctx)
	now := s.clk.Now()
	state, final := DeliveryRetrying, false
	switch {
	case o.ok:
		state = DeliverySucceeded
	case o.permanent || j.Attempts >= j.MaxAttempts:
		state, final = DeliveryFailed, true
	}
	attempts := d.Attempts
	if sent {
		attempts++
	}
	notBefore := d.NotBefore
	if o.retryAfter > 0 {
		notBefore = now.Add(o.retryAfter)
	}
	delivered := int64(0)
	if o.ok {
		delivered = db.Micro(now)
	}
	if status == 0 {
		status = d.LastStatus
	}
	// The delivery's outcome and its channel's state change together: whoever sees one sees
	// the other.
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE notify_deliveries SET state = $1, attempts = $2, last_status = $3, last_error = $4,
			not_before = $5, updated_at = $6, delivered_at = $7 WHERE id = $8 AND workspace_id = $9`,
			state, attempts, status, o.msg, db.Micro(notBefore), db.Micro(now), delivered, d.ID, j.WorkspaceID); err != nil {
			return err
		}
		if o.ok {
			if _, err := tx.ExecContext(ctx, `UPDATE notify_channels SET failing = $1, last_success_at = $2 WHERE id = $3 AND workspace_id = $4`,
				false, db.Micro(now), c.ID, j.WorkspaceID); err != nil {
				return err
			}
			// The channel's old records go as new ones come, so the table needs no housekeeping.
			_, err := tx.ExecContext(ctx, `DELETE FROM notify_deliveries WHERE workspace_id = $1 AND channel_id = $2
				AND created_at < $3 AND state IN ('succeeded', 'failed')`, j.WorkspaceID, c.ID, db.Micro(now.Add(-DeliveryRetention)))
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE notify_channels SET failing = (failing OR $1), last_error = $2, last_error_at = $3
			WHERE id = $4 AND workspace_id = $5`, final, o.msg, db.Micro(now), c.ID, j.WorkspaceID)
		return err
	})
	if !o.ok && final {
		s.log.Warn("notify: delivery failed", "channel", c.ID, "kind", c.Kind, "delivery", d.ID, "err", o.msg)
	}
	if err != nil {
		s.log.Error("notify: recording a delivery and its channel's state failed", "channel", c.ID, "delivery", d.ID, "err", err)
	}
}
