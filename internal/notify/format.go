package notify

import (
	"encoding/json"
	"strings"
	"time"
)

// Summary is what a Slack or Teams message says about an event or alert.
type Summary struct {
	Title string // one line
	Body  string // may span lines
	Conv  string // the conversation, for the "Open in Beckon" link
}

// Summarizer may be implemented by the data given to Event to choose what Slack and Teams show;
// without it, the message is made from the event kind and the data's common fields
// ("conversation_id" or "id", "visitor_name", "name", "email", "text").
type Summarizer interface {
	NotifySummary() Summary
}

// eventTitles are the default titles of Slack and Teams messages, by event kind or stream.
var eventTitles = map[string]string{
	StreamWaiting:                "A visitor is waiting for a rep",
	StreamLive:                   "New message in a live conversation",
	StreamTarget:                 "A target account is on the site",
	EventConversationStarted:     "A conversation started",
	EventConversationWaiting:     "A conversation is waiting for a rep",
	EventConversationAccepted:    "A rep accepted a conversation",
	EventConversationTransferred: "A conversation was transferred",
	EventConversationJoined:      "A rep joined a conversation",
	EventConversationLeft:        "A rep left a conversation",
	EventConversationClosed:      "A conversation was closed",
	EventConversationReopened:    "A conversation was reopened",
	EventMessageCreated:          "New message",
	EventVisitorIdentified:       "A visitor was identified",
	EventTargetAccountOnSite:     "A target account is on the site",
	EventAlert:                   "Alert",
	EventTest:                    "Test message from Beckon",
}

// eventLabels name the streams and events in the footer of Slack and Teams messages.
var eventLabels = map[string]string{
	StreamWaiting: "Waiting for Rep",
	StreamLive:    "Live conversations",
	StreamTarget:  "Target account on site",
}

func eventLabel(kind string) string {
	if l, ok := eventLabels[kind]; ok {
		return l
	}
	return kind
}

// summarize makes the Summary of event kind from its data (raw is data as JSON).
func summarize(kind string, data any, raw []byte) Summary {
	if sm, ok := data.(Summarizer); ok {
		su := sm.NotifySummary()
		if su.Title == "" {
			su.Title = eventTitles[kind]
		}
		return su
	}
	su := Summary{Title: eventTitles[kind]}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil {
		return su
	}
	str := func(k string) string { v, _ := obj[k].(string); return v }
	su.Conv = str("conversation_id")
	if su.Conv == "" && strings.HasPrefix(kind, "conversation.") {
		su.Conv = str("id")
	}
	who := str("visitor_name")
	if who == "" {
		who = str("name")
	}
	if e := str("email"); e != "" {
		if who == "" {
			who = e
		} else {
			who += " (" + e + ")"
		}
	}
	var lines []string
	if who != "" {
		lines = append(lines, who)
	}
	if t := str("text"); t != "" {
		lines = append(lines, t)
	}
	su.Body = strings.Join(lines, "\n")
	return su
}

// alertSummary is what Slack and Teams show of an alert.
func alertSummary(a Alert) Summary { return Summary{Title: a.Title, Body: a.Body, Conv: a.Conv} }

// Text limits of Slack and Teams messages, in characters of the escaped text: Slack allows 3000
// in a section and 40,000 in text; Teams refuses payloads over 28 KB.
const (
	maxTitleChars = 250
	maxBodyChars  = 2500
)

// slackEscape escapes the three characters that Slack's mrkdwn gives a meaning (links, mentions
// such as <!channel>, entities), and cuts the result to at most max characters without splitting
// an entity.
func slackEscape(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		var add string
		switch r {
		case '&':
			add = "&amp;"
		case '<':
			add = "&lt;"
		case '>':
			add = "&gt;"
		default:
			add = string(r)
		}
		if n+len([]rune(add)) > max-1 {
			b.WriteString("…")
			break
		}
		b.WriteString(add)
		n += len([]rune(add))
	}
	return b.String()
}

// teamsEscape escapes the characters that Adaptive Card markdown gives a meaning (emphasis,
// links, lists) with backslashes, turns single newlines into paragraph breaks (Markdown joins
// single lines), and cuts the result to at most max characters.
func teamsEscape(s string, max int) string {
	var b strings.Builder
	n := 0
	lineStart := true
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		var add string
		switch {
		case r == '\n':
			add, lineStart = "\n\n", true
			for i+1 < len(rs) && rs[i+1] == '\n' {
				i++
			}
		case strings.ContainsRune("\\*_[]()`<>", r):
			add = "\\" + string(r)
		case lineStart && (r == '-' || r == '+'):
			add = "\\" + string(r)
		case lineStart && r >= '0' && r <= '9':
			// "1. item" starts a numbered list: escape the dot after leading digits.
			j := i
			for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
				j++
			}
			add = string(rs[i:j])
			if j < len(rs) && rs[j] == '.' {
				add += "\\."
				j++
			}
			i = j - 1
		default:
			add = string(r)
		}
		if r != '\n' {
			lineStart = false
		}
		if n+len([]rune(add)) > max-1 {
			b.WriteString("…")
			break
		}
		b.WriteString(add)
		n += len([]rune(add))
	}
	return b.String()
}

// slackPayload is a Slack incoming-webhook message (https://api.slack.com/messaging/webhooks):
// "text" is the fallback shown in notifications, "blocks" the message.
func slackPayload(su Summary, kind, link string) []byte {
	title := slackEscape(oneLine(su.Title, maxTitleChars), maxTitleChars)
	body := slackEscape(clip(su.Body, maxBodyChars), maxBodyChars)
	text := "*" + title + "*"
	if body != "" {
		text += "\n" + body
	}
	blocks := []any{
		map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}},
		map[string]any{"type": "context", "elements": []any{
			map[string]any{"type": "mrkdwn", "text": "Beckon · " + slackEscape(eventLabel(kind), 100)},
		}},
	}
	if link != "" {
		blocks = append(blocks, map[string]any{"type": "actions", "elements": []any{
			map[string]any{"type": "button", "text": map[string]any{"type": "plain_text", "text": "Open in Beckon"}, "url": link},
		}})
	}
	fallback := title
	if body != "" {
		fallback += ": " + slackEscape(oneLine(su.Body, 300), 300)
	}
	b, _ := json.Marshal(map[string]any{"text": fallback, "blocks": blocks})
	return b
}

// teamsPayload is a Teams message carrying an Adaptive Card, the format both Teams incoming
// webhooks and Workflows ("When a Teams webhook request is received") accept.
func teamsPayload(su Summary, kind, link string) []byte {
	body := []any{
		map[string]any{"type": "TextBlock", "text": teamsEscape(oneLine(su.Title, maxTitleChars), maxTitleChars),
			"weight": "Bolder", "size": "Medium", "wrap": true},
	}
	if t := clip(su.Body, maxBodyChars); t != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": teamsEscape(t, maxBodyChars), "wrap": true})
	}
	body = append(body, map[string]any{"type": "TextBlock", "text": "Beckon · " + teamsEscape(eventLabel(kind), 100),
		"isSubtle": true, "size": "Small", "wrap": true})
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	if link != "" {
		card["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": "Open in Beckon", "url": link}}
	}
	b, _ := json.Marshal(map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	})
	return b
}

// WebhookEvent is the JSON body of every outbound webhook delivery.
type WebhookEvent struct {
	ID          string          `json:"id"`   // "evt_…", the same for every channel the event goes to
	Type        string          `json:"type"` // an event kind, or "test"
	CreatedAt   time.Time       `json:"created_at"`
	WorkspaceID string          `json:"workspace_id"`
	Data        json.RawMessage `json:"data"`
}

// alertData is the data of an "alert" webhook event.
type alertData struct {
	ID      string    `json:"id"`
	Stream  string    `json:"stream"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Conv    string    `json:"conv"`
	Visitor string    `json:"visitor"`
	At      time.Time `json:"at"`
}
