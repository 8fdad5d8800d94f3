package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/visitor/geo"
)

// The inbox (/inbox): the streams of conversations, the chosen stream's list and the open
// conversation with the visitor beside it. The server renders it complete (read-only); the
// page's script (internal/web/ui, static/inbox.js) then keeps it live over the rep socket and
// the conversations API. docs/CONSOLE.md says how reps use it.

// inboxStreams are the streams of the inbox, in the order of its menu.
var inboxStreams = []struct{ Key, Label, Empty string }{
	{chat.StreamWaiting, "Waiting for Rep", "Nobody is waiting for a rep."},
	{chat.StreamMine, "My conversations", "You are in no open conversation."},
	{chat.StreamLive, "Live conversations", "No conversation is live."},
	{chat.StreamClosed, "Closed", "No closed conversations yet."},
}

// inboxListLimit is how many conversations a stream's list shows before "Load more".
const inboxListLimit = 100

// inboxMessagesShown is how many messages the server renders of the open conversation; the
// script loads the rest.
const inboxMessagesShown = 500

type inboxView struct {
	view
	Stream, StreamLabel, Empty string
	Streams                    []streamLink
	Items                      []inboxItem
	More                       bool
	Conv                       *inboxConv
	Card                       *visitorCard
}

type streamLink struct {
	Key, Label, Href string
	Count            int
	HasCount         bool
	Current          bool
}

type inboxItem struct {
	ID, Href, Name, Company, Preview string
	Since                            int64  // the instant the time counts from, ms since the epoch
	Kind                             string // "waiting" (time waiting) or "ago" (time since the last change)
	Time                             string
	Current, Unread, Waiting         bool
}

type inboxConv struct {
	ID, Title, Sub string
	Messages       []inboxMsg
}

type inboxMsg struct {
	Seq          int64
	Author, Name string
	Text         string
	At           stamp
	Mine         bool
}

// canChat refuses users who take no chats (meetings-only users): the inbox and Live View are
// not for them.
func canChat(r *http.Request) error {
	p := principalOf(r)
	if !p.Can(identity.ScopeConversationsRead) || !p.Can(identity.ScopeVisitorsRead) {
		return errs.E(errs.Forbidden, "meetings-only users take no chats, so the inbox and Live View are not for them")
	}
	return nil
}

// compactDuration shows a span as the inbox's script does: 45s, 3m 12s, 1h 05m, 2d 4h.
func compactDuration(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	if s < 60 {
		return strconv.FormatInt(s, 10) + "s"
	}
	m := s / 60
	if m < 60 {
		return strconv.FormatInt(m, 10) + "m " + pad2(s%60) + "s"
	}
	h := m / 60
	if h < 48 {
		return strconv.FormatInt(h, 10) + "h " + pad2(m%60) + "m"
	}
	return strconv.FormatInt(h/24, 10) + "d " + strconv.FormatInt(h%24, 10) + "h"
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// agoText shows how long ago an instant was, coarsely, as the script does: now, 5m, 3h, 2d.
func agoText(d time.Duration) string {
	switch s := int64(max(d, 0) / time.Second); {
	case s < 60:
		return "now"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + "h"
	default:
		return strconv.FormatInt(s/86400, 10) + "d"
	}
}

// cardName is how the inbox names a conversation's visitor.
func cardName(card visitorCard) string {
	if card.Name != "" {
		return card.Name
	}
	if card.Email != "" {
		return card.Email
	}
	if card.Country != "" {
		if n := geo.CountryName(card.Country); n != "" {
			return "Visitor from " + n
		}
		return "Visitor from " + card.Country
	}
	return "Visitor"
}

func waiting(cv *chat.Conversation) bool {
	return cv.Status == chat.StatusOpen && cv.AssigneeID == "" && !cv.WaitingSince.IsZero()
}

// listConversations lists a stream and reports whether more follow.
func (c *console) listConversations(ctx context.Context, wsID string, f chat.Filter) ([]*chat.Conversation, bool, error) {
	limit := f.Limit
	f.Limit++
	convs, err := c.s.chat.List(ctx, wsID, f)
	if err != nil {
		return nil, false, err
	}
	if len(convs) > limit {
		return convs[:limit], true, nil
	}
	return convs, false, nil
}

// inbox renders GET /inbox?stream=<waiting|mine|live|closed>&c=<conversation id>.
func (c *console) inbox(w http.ResponseWriter, r *http.Request) error {
	if err := canChat(r); err != nil {
		return err
	}
	p := principalOf(r)
	ctx := r.Context()
	wsID, me := p.WorkspaceID(), p.User.ID
	q := r.URL.Query()
	counts, err := c.s.chat.Counts(ctx, wsID, me)
	if err != nil {
		return err
	}
	stream := q.Get("stream")
	v := &inboxView{view: view{Title: "Inbox", Nav: "inbox"}}
	for _, s := range inboxStreams {
		if s.Key == stream {
			v.StreamLabel, v.Empty = s.Label, s.Empty
		}
	}
	switch {
	case stream == "" && counts[chat.StreamMine] > 0:
		stream, v.StreamLabel, v.Empty = chat.StreamMine, inboxStreams[1].Label, inboxStreams[1].Empty
	case stream == "":
		stream, v.StreamLabel, v.Empty = chat.StreamWaiting, inboxStreams[0].Label, inboxStreams[0].Empty
	case v.StreamLabel == "":
		return errs.Field(errs.Invalid, "stream", "must be one of waiting, mine, live, closed")
	}
	v.Stream = stream
	convID := q.Get("c")
	for _, s := range inboxStreams {
		n, ok := counts[s.Key]
		href := "/inbox?stream=" + s.Key
		if convID != "" {
			href += "&c=" + url.QueryEscape(convID)
		}
		v.Streams = append(v.Streams, streamLink{Key: s.Key, Label: s.Label, Href: href, Count: n, HasCount: ok, Current: s.Key == stream})
	}
	convs, more, err := c.listConversations(ctx, wsID, chat.Filter{Stream: stream, UserID: me, Limit: inboxListLimit})
	if err != nil {
		return err
	}
	v.More = more
	var open *chat.Conversation
	if convID != "" {
		if open, err = c.s.chat.Get(ctx, wsID, convID); err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(convs)+1)
	for _, cv := range convs {
		ids = append(ids, cv.VisitorID)
	}
	if open != nil {
		ids = append(ids, open.VisitorID)
	}
	cards, err := c.cards(ctx, wsID, ids)
	if err != nil {
		return err
	}
	now := c.s.clock.Now()
	for _, cv := range convs {
		v.Items = append(v.Items, inboxItemOf(cv, cards[cv.VisitorID], stream, convID, me, now))
	}
	if open != nil {
		card := cards[open.VisitorID]
		if card.ID == "" {
			card = visitorCard{ID: open.VisitorID, URL: "/visitors/" + url.PathEscape(open.VisitorID)}
		}
		v.Card = &card
		if v.Conv, err = c.inboxConvOf(ctx, wsID, open, card, me, c.repLocation(ctx, p), now); err != nil {
			return err
		}
	}
	return c.render(w, r, http.StatusOK, "inbox", v)
}

func inboxItemOf(cv *chat.Conversation, card visitorCard, stream, current, me string, now time.Time) inboxItem {
	it := inboxItem{ID: cv.ID, Href: "/inbox?stream=" + stream + "&c=" + url.QueryEscape(cv.ID), Name: cardName(card),
		Company: card.Company, Current: cv.ID == current, Waiting: waiting(cv)}
	if m := cv.LastMessage; m != nil {
		it.Preview = m.Text
		if m.Author == chat.KindRep {
			first, _, _ := strings.Cut(m.AuthorName, " ")
			if first == "" {
				first = "Rep"
			}
			it.Preview = first + ": " + m.Text
		}
	}
	if p := cv.Participant(me); p != nil && p.Present() && cv.LastSeq > p.ReadSeq && !it.Current {
		it.Unread = true
	}
	since := cv.UpdatedAt
	if cv.Status == chat.StatusClosed {
		since = cv.ClosedAt
	}
	if it.Waiting {
		it.Kind, it.Since, it.Time = "waiting", cv.WaitingSince.UnixMilli(), compactDuration(now.Sub(cv.WaitingSince))
	} else if !since.IsZero() {
		it.Kind, it.Since, it.Time = "ago", since.UnixMilli(), agoText(now.Sub(since))
	}
	return it
}

// inboxConvOf renders the open conversation's header and messages.
func (c *console) inboxConvOf(ctx context.Context, wsID string, cv *chat.Conversation, card visitorCard, me string, loc *time.Location, now time.Time) (*inboxConv, error) {
	msgs, err := c.s.chat.MessagesFor(ctx, wsID, cv.ID, 0, inboxMessagesShown)
	if err != nil {
		return nil, err
	}
	out := &inboxConv{ID: cv.ID, Title: cardName(card)}
	switch {
	case waiting(cv):
		out.Sub = "Waiting for a rep for " + compactDuration(now.Sub(cv.WaitingSince))
	case cv.Status != chat.StatusOpen:
		out.Sub = "Closed " + stampOf(cv.ClosedAt, loc, now).Text
	default:
		var who []string
		for _, p := range cv.Participants {
			if p.Present() {
				if p.UserID == me {
					who = append(who, "you")
				} else {
					who = append(who, p.Name)
				}
			}
		}
		out.Sub = "Open"
		if len(who) > 0 {
			out.Sub = "With " + strings.Join(who, ", ")
		}
	}
	for _, m := range msgs {
		im := inboxMsg{Seq: m.Seq, Author: m.Author, Name: m.AuthorName, Text: m.Text, At: stampOf(m.CreatedAt, loc, now),
			Mine: m.Author == chat.KindRep && m.AuthorID == me}
		switch m.Author {
		case chat.KindVisitor:
			im.Name = out.Title
		case chat.KindRep:
			if im.Name == "" {
				im.Name = "Rep"
			}
		case chat.KindBot:
			if im.Name == "" {
				im.Name = "Bot"
			}
		default:
			im.Author = chat.KindSystem
		}
		out.Messages = append(out.Messages, im)
	}
	return out, nil
}
