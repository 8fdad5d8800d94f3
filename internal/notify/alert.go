package notify

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// Alert is one alert for reps (N1, N2).
type Alert struct {
	ID      string    `json:"id"`      // "alr_…"; made by Service.Alert when empty
	Stream  string    `json:"stream"`  // one of Streams
	Title   string    `json:"title"`   // one line, e.g. "Riley Chen is waiting"
	Body    string    `json:"body"`    // e.g. the visitor's first message
	Conv    string    `json:"conv"`    // the conversation, when there is one
	Visitor string    `json:"visitor"` // the visitor, when there is one
	To      []string  `json:"to"`      // user ids; empty means every rep of the workspace
	At      time.Time `json:"at"`      // set to now by Service.Alert when zero
}

// Limits of an alert's text; longer text is cut (at a character boundary) rather than refused.
const (
	MaxAlertTitle = 200
	MaxAlertBody  = 1000
)

// AlertSubject is the bus subject on which the alerts of workspace wsID are published.
func AlertSubject(wsID string) string { return "alert." + wsID }

// For reports whether the alert is meant for user userID.
func (a Alert) For(userID string) bool { return len(a.To) == 0 || slices.Contains(a.To, userID) }

// AlertFrame is the rep socket's "alert" frame (docs/REALTIME.md).
type AlertFrame struct {
	T       string    `json:"t"` // "alert"
	Stream  string    `json:"stream"`
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Conv    string    `json:"conv"`
	Visitor string    `json:"visitor"`
	Sound   string    `json:"sound"`
	Notify  bool      `json:"notify"`
	At      time.Time `json:"at"`
}

// FrameFor returns the frame that the rep userID, with preferences p, gets for the alert, and
// false when the rep gets none (not a recipient, or the stream is turned off).
func (a Alert) FrameFor(userID string, p Prefs) (AlertFrame, bool) {
	if !a.For(userID) {
		return AlertFrame{}, false
	}
	sound, notify, ok := p.Deliver(a.Stream)
	if !ok {
		return AlertFrame{}, false
	}
	return AlertFrame{T: "alert", Stream: a.Stream, ID: a.ID, Title: a.Title, Body: a.Body, Conv: a.Conv,
		Visitor: a.Visitor, Sound: sound, Notify: notify, At: a.At}, true
}

// DecodeAlert reads an alert published on AlertSubject. It returns errs.Malformed for data that is
// not an alert.
func DecodeAlert(data []byte) (Alert, error) {
	var a Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return Alert{}, errs.Wrap(errs.Malformed, err, "not an alert")
	}
	if !slices.Contains(Streams, a.Stream) || a.ID == "" {
		return Alert{}, errs.E(errs.Malformed, "not an alert")
	}
	return a, nil
}

// checkAlert fills in an alert's id and time, tidies its text and checks its stream. It returns
// errs.Invalid naming the field.
func (s *Service) checkAlert(a Alert) (Alert, error) {
	if !slices.Contains(Streams, a.Stream) {
		return a, errs.Field(errs.Invalid, "stream", "must be waiting, live or target")
	}
	if a.ID == "" {
		a.ID = id.New("alr")
	}
	if a.At.IsZero() {
		a.At = s.clk.Now()
	}
	a.At = a.At.UTC()
	a.Title = oneLine(a.Title, MaxAlertTitle)
	a.Body = clip(a.Body, MaxAlertBody)
	if a.Title == "" {
		return a, errs.Field(errs.Invalid, "title", "is required")
	}
	return a, nil
}

// Alert publishes alert a to the reps of workspace wsID at once, on AlertSubject(wsID) as JSON
// (never batched, N2); the rep sockets filter it by recipient and preferences. It fills in a.ID and
// a.At when empty. It returns errs.Invalid naming the field for an unknown stream or an empty
// title, and the bus's error (errs.Unavailable when it is down).
func (s *Service) Alert(ctx context.Context, wsID string, a Alert) error {
	a, err := s.checkAlert(a)
	if err != nil {
		return err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return errs.Op("notify.Alert", err)
	}
	if s.bus == nil {
		return errs.E(errs.Unavailable, "no message bus")
	}
	return s.bus.Publish(ctx, AlertSubject(wsID), b)
}

// oneLine returns s as one line of valid UTF-8 text without control characters, at most max
// characters, trimmed.
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return cut(strings.Join(strings.Fields(s), " "), max)
}

// clip returns s as valid UTF-8 without control characters other than newlines and tabs, at most
// max characters, trimmed.
func clip(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return cut(strings.TrimSpace(s), max)
}

// cut returns at most max characters of s, with "…" when it cut.
func cut(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}
