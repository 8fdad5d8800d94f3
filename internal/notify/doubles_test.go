package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// reply is one scripted answer of a double.
type reply struct {
	status     int
	body       string
	retryAfter string
	header     map[string]string
}

// request is what a double received.
type request struct {
	at     time.Time
	header http.Header
	body   []byte
}

// double is an HTTP receiver on 127.0.0.1 that answers from a script (the last reply repeats),
// after checking the request the way the real service does.
type double struct {
	srv    *httptest.Server
	mu     sync.Mutex
	script []reply
	reqs   []request
	check  func(h http.Header, body []byte) (reply, bool) // the service's own refusals
	got    chan struct{}
}

func newDouble(t *testing.T, check func(http.Header, []byte) (reply, bool), script ...reply) *double {
	d := &double{script: script, check: check, got: make(chan struct{}, 100)}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		d.reqs = append(d.reqs, request{at: time.Now(), header: r.Header.Clone(), body: body})
		var rep reply
		if r.Method != http.MethodPost {
			rep = reply{status: 405, body: "method_not_allowed"}
		} else if bad, refused := d.check(r.Header, body); refused {
			rep = bad
		} else {
			rep = d.script[min(len(d.reqs)-1, len(d.script)-1)]
		}
		d.mu.Unlock()
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
		select {
		case d.got <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *double) requests() []request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]request(nil), d.reqs...)
}

// slackDouble behaves like a Slack incoming webhook (https://api.slack.com/messaging/webhooks):
// 200 "ok"; 400 "invalid_payload" for a body that is not a JSON object, "no_text" for one without
// text or blocks; then the script (403 action_prohibited, 404 no_service, 410
// channel_is_archived, 429 with Retry-After, 500 rollup_error).
func slackDouble(t *testing.T, script ...reply) *double {
	return newDouble(t, func(h http.Header, body []byte) (reply, bool) {
		var msg map[string]any
		if err := json.Unmarshal(body, &msg); err != nil {
			return reply{status: 400, body: "invalid_payload"}, true
		}
		text, _ := msg["text"].(string)
		blocks, _ := msg["blocks"].([]any)
		if text == "" && len(blocks) == 0 {
			return reply{status: 400, body: "no_text"}, true
		}
		for _, b := range blocks {
			if bm, ok := b.(map[string]any); !ok || bm["type"] == nil {
				return reply{status: 400, body: "invalid_blocks"}, true
			}
		}
		return reply{}, false
	}, script...)
}

// teamsDouble behaves like a Teams incoming webhook: 200 with body "1"; 400 for a payload that is
// not a message with an Adaptive Card attachment; 413 over 28 KB; then the script (429, or the
// legacy connectors' 200 whose body reports "HTTP error 429").
func teamsDouble(t *testing.T, script ...reply) *double {
	return newDouble(t, func(h http.Header, body []byte) (reply, bool) {
		if len(body) > 28<<10 {
			return reply{status: 413, body: "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413"}, true
		}
		var msg struct {
			Type        string `json:"type"`
			Attachments []struct {
				ContentType string         `json:"contentType"`
				Content     map[string]any `json:"content"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.Type != "message" || len(msg.Attachments) == 0 ||
			msg.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || msg.Attachments[0].Content["type"] != "AdaptiveCard" {
			return reply{status: 400, body: "Bad payload received by generic incoming webhook."}, true
		}
		return reply{}, false
	}, script...)
}

var (
	slackOK = reply{status: 200, body: "ok"}
	teamsOK = reply{status: 200, body: "1"}
)
