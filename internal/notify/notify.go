// Package notify tells people what happens in Beckon (N1–N3).
//
// Reps get alerts in the console: three streams — "waiting" (a visitor waits for a rep; always
// on), "live" (a new visitor message in a conversation the rep takes part in) and "target" (a
// target account is on the site) — each with the rep's choice of sound and browser notification
// (Prefs, SetPrefs). Alert publishes an alert on the bus at once, never batched; the rep socket
// filters it by recipient and preferences (Alert.For, Prefs.Deliver) and forwards it.
//
// Admins connect team channels: Slack and Microsoft Teams incoming webhooks, which get chosen
// alert streams and conversation events, and outbound webhooks, which get any event kind as
// signed JSON. Deliveries are durable jobs enqueued in the caller's transaction (Event,
// AlertChannels): at least once, retried with backoff, with a record per delivery that admins
// can read (Deliveries). Channel URLs and signing secrets are sealed with the server's keyring,
// and every outbound connection is checked against private addresses when it is dialled.
// docs/NOTIFICATIONS.md is the guide for admins and receivers.
package notify

import (
	"log/slog"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/secret"
)

// The alert streams.
const (
	StreamWaiting = "waiting" // a conversation waits for a rep; cannot be turned off
	StreamLive    = "live"    // a new visitor message in a conversation the rep takes part in
	StreamTarget  = "target"  // a target account is on the site
)

// Streams lists the alert streams in the order the console shows them.
var Streams = []string{StreamWaiting, StreamLive, StreamTarget}

// SoundNone is the sound that plays nothing; every stream but "waiting" may choose it.
const SoundNone = "none"

// Sounds lists the alert sounds a rep may choose, SoundNone last.
var Sounds = []string{"chime", "bell", "pop", "knock", SoundNone}

// The event kinds that outbound webhooks may subscribe to. Slack and Teams channels take the
// conversation events and the alert streams.
const (
	EventConversationStarted     = "conversation.started"
	EventConversationWaiting     = "conversation.waiting"
	EventConversationAccepted    = "conversation.accepted"
	EventConversationTransferred = "conversation.transferred"
	EventConversationJoined      = "conversation.joined"
	EventConversationLeft        = "conversation.left"
	EventConversationClosed      = "conversation.closed"
	EventConversationReopened    = "conversation.reopened"
	EventMessageCreated          = "message.created"
	EventVisitorIdentified       = "visitor.identified"
	EventTargetAccountOnSite     = "target_account.on_site"
	EventAlert                   = "alert" // every alert, of any stream (webhooks only)
)

// EventKinds lists every event kind, in the order the console shows them.
var EventKinds = []string{EventConversationStarted, EventConversationWaiting, EventConversationAccepted,
	EventConversationTransferred, EventConversationJoined, EventConversationLeft, EventConversationClosed,
	EventConversationReopened, EventMessageCreated, EventVisitorIdentified, EventTargetAccountOnSite, EventAlert}

// EventTest is the type of the test message POST /api/v1/channels/{id}/test sends.
const EventTest = "test"

// JobKind is the kind of the durable job that sends one delivery.
const JobKind = "notify.deliver"

// Defaults of Options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 10
	// MaxResponseBytes is the most of a receiver's answer that is read.
	MaxResponseBytes = 64 << 10
	// SecretOverlap is how long a webhook's previous signing secret keeps signing after a rotation,
	// so that receivers can switch without dropping deliveries.
	SecretOverlap = 24 * time.Hour
	// MaxRetryAfterWait is the longest a delivery attempt waits in place for a receiver's
	// Retry-After; a longer one makes the attempt end unsent, and a later one sends.
	MaxRetryAfterWait = 10 * time.Second
)

// Options tune a Service. Zero values take the defaults noted on each field.
type Options struct {
	// AllowPrivate lets channels reach loopback, private, link-local and unspecified addresses
	// (operator setting BECKON_WEBHOOK_ALLOW_PRIVATE), and plain http to such addresses. Off, such
	// URLs are refused when saved and connections to such addresses are refused when dialled.
	AllowPrivate bool
	// AllowInsecure accepts plain http:// URLs to any address. Off, only https (and, with
	// AllowPrivate, http to private addresses) is used.
	AllowInsecure bool
	// Timeout bounds one delivery request: connecting, sending and reading the answer. Default
	// DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts is how many times a delivery is tried before it fails. Default DefaultMaxAttempts.
	MaxAttempts int
	// ConversationURL, when set, makes the link to a conversation that Slack and Teams messages
	// carry ("Open in Beckon"); nil sends no link.
	ConversationURL func(convID string) string
	// Log receives delivery failures; nil discards them.
	Log *slog.Logger
}

// Service holds alert preferences and channels and delivers notifications. It is safe for
// concurrent use.
type Service struct {
	db   *db.DB
	clk  clock.Clock
	bus  bus.Bus
	q    *jobs.Queue
	keys *secret.Keyring
	opt  Options
	log  *slog.Logger
	http *httpClient
	any  anyChannels
}

// NewService returns a Service and registers its delivery job kind (JobKind) with q, so it must be
// called before q.Run, once per queue. keys seals channel URLs and secrets; with nil keys, channels
// cannot be saved (errs.Unavailable).
func NewService(d *db.DB, clk clock.Clock, b bus.Bus, q *jobs.Queue, keys *secret.Keyring, opt Options) *Service {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = DefaultMaxAttempts
	}
	if clk == nil {
		clk = clock.System{}
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: d, clk: clk, bus: b, q: q, keys: keys, opt: opt, log: log.With("component", "notify")}
	s.http = newHTTPClient(opt)
	if q != nil {
		q.Register(JobKind, s.deliver, opt.MaxAttempts)
	}
	return s
}

// Notify wakes the job workers of this process so that deliveries enqueued by Event or
// AlertChannels start now rather than at the next poll. Call it after the transaction commits.
func (s *Service) Notify() {
	if s.q != nil {
		s.q.Notify()
	}
}
