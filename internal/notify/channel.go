package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// The kinds of channel.
const (
	KindSlack   = "slack"   // a Slack incoming webhook
	KindTeams   = "teams"   // a Microsoft Teams incoming webhook or Workflows webhook
	KindWebhook = "webhook" // an outbound webhook: signed JSON to the receiver's URL
)

// Kinds lists the kinds of channel.
var Kinds = []string{KindSlack, KindTeams, KindWebhook}

// MaxChannels is the most channels a workspace may have.
const MaxChannels = 50

// MaxChannelName is the longest channel name, in characters.
const MaxChannelName = 80

// AllowedEvents returns what a channel of kind may subscribe to, in display order: for Slack and
// Teams the alert streams and the conversation events, for webhooks every event kind. It returns
// nil for an unknown kind.
func AllowedEvents(kind string) []string {
	switch kind {
	case KindSlack, KindTeams:
		out := slices.Clone(Streams)
		for _, k := range EventKinds {
			if strings.HasPrefix(k, "conversation.") {
				out = append(out, k)
			}
		}
		return out
	case KindWebhook:
		return slices.Clone(EventKinds)
	}
	return nil
}

// Channel is a team channel or outbound webhook of a workspace. Its URL is never shown back in
// full: URL holds the host and the last four characters.
type Channel struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	URL     string   `json:"url"` // e.g. "hooks.slack.com …x9Zq"
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
	// Failing: a delivery failed for good since the last one that succeeded; LastError says why.
	Failing       bool      `json:"failing"`
	LastError     string    `json:"last_error"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	LastSuccessAt time.Time `json:"last_success_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	urlSealed, secretSealed, prevSealed string
	prevUntil                           time.Time
}

// Wants reports whether the channel is enabled and subscribed to event (an event kind or an alert
// stream).
func (c *Channel) Wants(event string) bool { return c.Enabled && slices.Contains(c.Events, event) }

// ChannelInput is a new channel.
type ChannelInput struct {
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Events  []string `json:"events"`
	Enabled *bool    `json:"enabled"` // default true
}

// ChannelPatch changes a channel; nil fields stay. A channel's kind cannot change.
type ChannelPatch struct {
	Name    *string   `json:"name"`
	URL     *string   `json:"url"`
	Events  *[]string `json:"events"`
	Enabled *bool     `json:"enabled"`
}

// checkName returns the tidied name, or errs.Invalid about field "name".
func checkName(s string) (string, error) {
	n := oneLine(s, MaxChannelName+1)
	if n == "" || utf8.RuneCountInString(n) > MaxChannelName {
		return "", errs.Field(errs.Invalid, "name", "must be 1 to %d characters", MaxChannelName)
	}
	return n, nil
}

// checkEvents returns events without duplicates in display order, or errs.Invalid about field
// "events" for an empty list or an event the kind cannot take.
func checkEvents(kind string, events []string) ([]string, error) {
	allowed := AllowedEvents(kind)
	if len(events) == 0 {
		return nil, errs.Field(errs.Invalid, "events", "choose at least one event")
	}
	for _, e := range events {
		if !slices.Contains(allowed, e) {
			if kind == KindWebhook {
				return nil, errs.Field(errs.Invalid, "events", "%q is not an event kind", oneLine(e, 60))
			}
			return nil, errs.Field(errs.Invalid, "events", "%q is not an alert stream or conversation event (Slack and Teams channels take waiting, live, target and conversation.*)", oneLine(e, 60))
		}
	}
	out := []string{}
	for _, a := range allowed {
		if slices.Contains(events, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// urlHint is what admins see of a URL: its host and its last four characters.
func urlHint(u string) string {
	host := u
	if _, rest, ok := strings.Cut(u, "://"); ok {
		host = rest
	}
	if i := strings.IndexAny(host, "/?"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	r := []rune(u)
	return host + " …" + string(r[max(0, len(r)-4):])
}

func urlAD(chID string) string        { return "notify_channels/" + chID + "/url" }
func secretAD(chID string) string     { return "notify_channels/" + chID + "/secret" }
func prevSecretAD(chID string) string { return "notify_channels/" + chID + "/prev_secret" }

// newSecret makes a webhook signing secret.
func newSecret() string { return id.Token("whsec") }

func (s *Service) needKeys() error {
	if s.keys == nil {
		return errs.E(errs.Unavailable, "no secret key is configured (BECKON_SECRET_KEY), so channel URLs cannot be stored")
	}
	return nil
}

const channelCols = `id, kind, name, url_hint, events, enabled, failing, last_error, last_error_at, last_success_at,
	created_at, updated_at, url_sealed, secret_sealed, prev_secret_sealed, prev_secret_until`

func scanChannel(r db.Scanner) (*Channel, error) {
	var (
		c                                          Channel
		events                                     string
		lastErrAt, lastOK, created, updated, prevU int64
	)
	err := r.Scan(&c.ID, &c.Kind, &c.Name, &c.URL, &events, &c.Enabled, &c.Failing, &c.LastError, &lastErrAt, &lastOK,
		&created, &updated, &c.urlSealed, &c.secretSealed, &c.prevSealed, &prevU)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &c.Events); err != nil || c.Events == nil {
		c.Events = []string{}
	}
	c.LastErrorAt, c.LastSuccessAt, c.CreatedAt, c.UpdatedAt, c.prevUntil =
		db.Time(lastErrAt), db.Time(lastOK), db.Time(created), db.Time(updated), db.Time(prevU)
	return &c, nil
}

// Channels returns the channels of workspace wsID, oldest first. Errors are Internal.
func (s *Service) Channels(ctx context.Context, wsID string) ([]*Channel, error) {
	out, err := db.All(ctx, s.db, scanChannel, `SELECT `+channelCols+` FROM notify_channels WHERE workspace_id = $1
		ORDER BY created_at, id`, wsID)
	return out, errs.Op("notify.Channels", err)
}

// Channel returns channel chID of workspace wsID, or errs.NotFound (also for another workspace's
// channel, and without a query for a string that is not a channel id).
func (s *Service) Channel(ctx context.Context, wsID, chID string) (*Channel, error) {
	return s.channel(ctx, s.db, wsID, chID)
}

func (s *Service) channel(ctx context.Context, q db.Queryer, wsID, chID string) (*Channel, error) {
	if !id.Valid("ch", chID) {
		return nil, errs.NotFoundf("no such channel")
	}
	c, err := scanChannel(q.QueryRowContext(ctx, `SELECT `+channelCols+` FROM notify_channels WHERE id = $1 AND workspace_id = $2`,
		chID, wsID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such channel")
	}
	if err != nil {
		return nil, errs.Op("notify.Channel", err)
	}
	return c, nil
}

// CreateChannel adds a channel to workspace wsID and returns it with, for a webhook, its signing
// secret: the only time the secret is shown (empty for Slack and Teams). It returns errs.Invalid
// naming the field (kind, name, url, events), errs.Conflict when the workspace has MaxChannels
// already, and errs.Unavailable when no secret key is configured.
func (s *Service) CreateChannel(ctx context.Context, wsID string, in ChannelInput) (*Channel, string, error) {
	defer s.channelsChanged(wsID)
	if !slices.Contains(Kinds, in.Kind) {
		return nil, "", errs.Field(errs.Invalid, "kind", "must be slack, teams or webhook")
	}
	name, err := checkName(in.Name)
	if err != nil {
		return nil, "", err
	}
	u, err := s.checkURL(in.URL)
	if err != nil {
		return nil, "", err
	}
	events, err := checkEvents(in.Kind, in.Events)
	if err != nil {
		return nil, "", err
	}
	if err := s.needKeys(); err != nil {
		return nil, "", err
	}
	enabled := in.Enabled == nil || *in.Enabled
	chID := id.New("ch")
	raw := u.String()
	sec, secSealed := "", ""
	if in.Kind == KindWebhook {
		sec = newSecret()
		secSealed = s.keys.Seal([]byte(sec), secretAD(chID))
	}
	ev, _ := json.Marshal(events)
	now := db.Micro(s.clk.Now())
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM notify_channels WHERE workspace_id = $1`, wsID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxChannels {
			return errs.E(errs.Conflict, "a workspace can have at most %d channels", MaxChannels)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO notify_channels (id, workspace_id, kind, name, url_sealed, url_hint, events, enabled,
			secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
			chID, wsID, in.Kind, name, s.keys.Seal([]byte(raw), urlAD(chID)), urlHint(raw), string(ev), enabled, secSealed, now)
		return err
	})
	if err != nil {
		return nil, "", errs.Op("notify.CreateChannel", err)
	}
	c, err := s.Channel(ctx, wsID, chID)
	if err != nil {
		return nil, "", err
	}
	return c, sec, nil
}

// UpdateChannel changes channel chID of workspace wsID. A new URL, or switching the channel back
// on, clears its failing state. It returns errs.NotFound, errs.Invalid naming the field, and
// errs.Unavailable when a new URL cannot be sealed.
func (s *Service) UpdateChannel(ctx context.Context, wsID, chID string, p ChannelPatch) (*Channel, error) {
	defer s.channelsChanged(wsID)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.channel(ctx, tx, wsID, chID)
		if err != nil {
			return err
		}
		clearFailing := false
		if p.Name != nil {
			if c.Name, err = checkName(*p.Name); err != nil {
				return err
			}
		}
		if p.Events != nil {
			if c.Events, err = checkEvents(c.Kind, *p.Events); err != nil {
				return err
			}
		}
		if p.Enabled != nil {
			clearFailing = clearFailing || (*p.Enabled && !c.Enabled)
			c.Enabled = *p.Enabled
		}
		if p.URL != nil {
			u, err := s.checkURL(*p.URL)
			if err != nil {
				return err
			}
			if err := s.needKeys(); err != nil {
				return err
			}
			raw := u.String()
			c.urlSealed, c.URL = s.keys.Seal([]byte(raw), urlAD(c.ID)), urlHint(raw)
			clearFailing = true
		}
		if clearFailing {
			c.Failing = false
		}
		ev, _ := json.Marshal(c.Events)
		_, err = tx.ExecContext(ctx, `UPDATE notify_channels SET name = $1, events = $2, enabled = $3, url_sealed = $4, url_hint = $5,
			failing = $6, updated_at = $7 WHERE id = $8 AND workspace_id = $9`,
			c.Name, string(ev), c.Enabled, c.urlSealed, c.URL, c.Failing, db.Micro(s.clk.Now()), c.ID, wsID)
		return err
	})
	if err != nil {
		return nil, errs.Op("notify.UpdateChannel", err)
	}
	return s.Channel(ctx, wsID, chID)
}

// DeleteChannel removes channel chID of workspace wsID and its delivery records; deliveries still
// queued for it are dropped. It returns errs.NotFound.
func (s *Service) DeleteChannel(ctx context.Context, wsID, chID string) error {
	defer s.channelsChanged(wsID)
	if !id.Valid("ch", chID) {
		return errs.NotFoundf("no such channel")
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM notify_deliveries WHERE channel_id = $1 AND workspace_id = $2`, chID, wsID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM notify_channels WHERE id = $1 AND workspace_id = $2`, chID, wsID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("no such channel")
		}
		return nil
	})
	return errs.Op("notify.DeleteChannel", err)
}

// RotateSecret gives webhook chID of workspace wsID a new signing secret and returns the channel
// and the secret: the only time it is shown. For SecretOverlap the previous secret signs too (a
// second v1 in Beckon-Signature), so receivers can switch without dropping deliveries. It returns
// errs.NotFound, errs.Conflict for a Slack or Teams channel, and errs.Unavailable when no secret
// key is configured.
func (s *Service) RotateSecret(ctx context.Context, wsID, chID string) (*Channel, string, error) {
	if err := s.needKeys(); err != nil {
		return nil, "", err
	}
	sec := newSecret()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.channel(ctx, tx, wsID, chID)
		if err != nil {
			return err
		}
		if c.Kind != KindWebhook {
			return errs.E(errs.Conflict, "only webhooks have a signing secret")
		}
		now := s.clk.Now()
		prev, prevUntil := "", int64(0)
		if old, err := s.keys.Open(c.secretSealed, secretAD(c.ID)); err == nil {
			prev, prevUntil = s.keys.Seal(old, prevSecretAD(c.ID)), db.Micro(now.Add(SecretOverlap))
		}
		_, err = tx.ExecContext(ctx, `UPDATE notify_channels SET secret_sealed = $1, prev_secret_sealed = $2, prev_secret_until = $3,
			updated_at = $4 WHERE id = $5 AND workspace_id = $6`,
			s.keys.Seal([]byte(sec), secretAD(c.ID)), prev, prevUntil, db.Micro(now), c.ID, wsID)
		return err
	})
	if err != nil {
		return nil, "", errs.Op("notify.RotateSecret", err)
	}
	c, err := s.Channel(ctx, wsID, chID)
	if err != nil {
		return nil, "", err
	}
	return c, sec, nil
}

// secrets returns the webhook's signing secrets: the current one, then the previous one while it
// still signs.
func (s *Service) secrets(c *Channel) ([][]byte, error) {
	cur, err := s.keys.Open(c.secretSealed, secretAD(c.ID))
	if err != nil {
		return nil, err
	}
	out := [][]byte{cur}
	if c.prevSealed != "" && s.clk.Now().Before(c.prevUntil) {
		if prev, err := s.keys.Open(c.prevSealed, prevSecretAD(c.ID)); err == nil {
			out = append(out, prev)
		}
	}
	return out, nil
}
