package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/testkit"
)

// alertTo sends a waiting alert with visitor-controlled text to the workspace's channels and
// returns the delivery to chID.
func (e *env) alertTo(chID string) *Delivery {
	e.t.Helper()
	ctx := context.Background()
	a := Alert{Stream: StreamWaiting, Title: "Riley <!channel> is waiting", Body: "Hi & <https://evil.example|click> *now*", Conv: "conv_1"}
	if err := e.d.InTx(ctx, func(tx *sql.Tx) error { return e.s.AlertChannels(ctx, tx, e.ws, a) }); err != nil {
		e.t.Fatal(err)
	}
	e.s.Notify()
	list, err := e.s.Deliveries(ctx, e.ws, chID, 1)
	if err != nil || len(list) != 1 {
		e.t.Fatalf("deliveries %v %v", list, err)
	}
	return list[0]
}

func (e *env) channel(kind, url string, events ...string) *Channel {
	e.t.Helper()
	c, _, err := e.s.CreateChannel(context.Background(), e.ws, ChannelInput{Kind: kind, Name: kind, URL: url, Events: events})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestSlackDelivery(t *testing.T) {
	for _, c := range []struct {
		name     string
		script   []reply
		state    string
		requests int
		failing  bool
		errHas   string
		minGap   time.Duration // between the first two requests
	}{
		{"ok", []reply{slackOK}, DeliverySucceeded, 1, false, "", 0},
		{"invalid_payload", []reply{{status: 400, body: "invalid_payload"}}, DeliveryFailed, 1, true, "invalid_payload", 0},
		{"action_prohibited", []reply{{status: 403, body: "action_prohibited"}}, DeliveryFailed, 1, true, "does not allow", 0},
		{"no_service", []reply{{status: 404, body: "no_service"}}, DeliveryFailed, 1, true, "webhook was removed", 0},
		{"channel_is_archived", []reply{{status: 410, body: "channel_is_archived"}}, DeliveryFailed, 1, true, "archived", 0},
		{"rate limited", []reply{{status: 429, body: "rate_limited", retryAfter: "1"}, slackOK}, DeliverySucceeded, 2, false, "", time.Second},
		{"rollup_error", []reply{{status: 500, body: "rollup_error"}, slackOK}, DeliverySucceeded, 2, false, "", 0},
		{"redirect", []reply{{status: 302, header: map[string]string{"Location": "https://elsewhere.example/"}}}, DeliveryFailed, 1, true, "redirect", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, testkit.SQLite(t), Options{AllowPrivate: true})
			e.run()
			sd := slackDouble(t, c.script...)
			ch := e.channel(KindSlack, sd.srv.URL+"/services/T0/B0/xyz", StreamWaiting)
			d := e.waitDelivery(ch.ID, e.alertTo(ch.ID).ID)
			reqs := sd.requests()
			if d.State != c.state || len(reqs) != c.requests || d.Attempts != c.requests {
				t.Fatalf("state %s after %d requests (%d recorded), want %s after %d; last error %q", d.State, len(reqs), d.Attempts,
					c.state, c.requests, d.LastError)
			}
			if c.errHas != "" && !strings.Contains(d.LastError, c.errHas) {
				t.Errorf("last error %q, want it to mention %q", d.LastError, c.errHas)
			}
			if c.minGap > 0 && reqs[1].at.Sub(reqs[0].at) < c.minGap-50*time.Millisecond {
				t.Errorf("retried %s after a Retry-After of %s", reqs[1].at.Sub(reqs[0].at), c.minGap)
			}
			got, _ := e.s.Channel(context.Background(), e.ws, ch.ID)
			if got.Failing != c.failing || (c.failing && !strings.Contains(got.LastError, c.errHas)) {
				t.Errorf("channel failing %v (%q), want %v", got.Failing, got.LastError, c.failing)
			}
			if c.state == DeliverySucceeded && got.LastSuccessAt.IsZero() {
				t.Error("last success not recorded")
			}
			waitFor(t, "the job to finish", 5*time.Second, func() bool {
				s := e.job(d).State
				return s == jobs.Succeeded || s == jobs.Failed
			})
			if j := e.job(d); (j.State == jobs.Succeeded) != (c.state == DeliverySucceeded) {
				t.Errorf("job %s, delivery %s", j.State, d.State)
			}
			// The message: mrkdwn with the visitor's text escaped, so it can neither link nor mention.
			var msg struct {
				Text   string           `json:"text"`
				Blocks []map[string]any `json:"blocks"`
			}
			if err := json.Unmarshal(reqs[0].body, &msg); err != nil {
				t.Fatal(err)
			}
			section, _ := msg.Blocks[0]["text"].(map[string]any)
			mrkdwn, _ := section["text"].(string)
			if msg.Text != "Riley &lt;!channel&gt; is waiting: Hi &amp; &lt;https://evil.example|click&gt; *now*" ||
				mrkdwn != "*Riley &lt;!channel&gt; is waiting*\nHi &amp; &lt;https://evil.example|click&gt; *now*" || len(msg.Blocks) < 2 {
				t.Errorf("slack message text %q, section %q", msg.Text, mrkdwn)
			}
			if reqs[0].header.Get(HeaderSignature) != "" {
				t.Error("a Slack message carries a webhook signature")
			}
		})
	}
}

func TestTeamsDelivery(t *testing.T) {
	legacy429 := reply{status: 200, body: "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0"}
	for _, c := range []struct {
		name     string
		script   []reply
		state    string
		requests int
	}{
		{"ok", []reply{teamsOK}, DeliverySucceeded, 1},
		{"workflows 202", []reply{{status: 202}}, DeliverySucceeded, 1},
		{"bad payload", []reply{{status: 400, body: "Bad payload received by generic incoming webhook."}}, DeliveryFailed, 1},
		{"too large", []reply{{status: 413, body: "Microsoft Teams endpoint returned HTTP error 413"}}, DeliveryFailed, 1},
		{"429", []reply{{status: 429, body: "Too many requests", retryAfter: "0"}, teamsOK}, DeliverySucceeded, 2},
		{"legacy 429 in a 200", []reply{legacy429, teamsOK}, DeliverySucceeded, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, testkit.SQLite(t), Options{AllowPrivate: true, ConversationURL: func(id string) string { return "https://beckon.acme.example/inbox/" + id }})
			e.run()
			td := teamsDouble(t, c.script...)
			ch := e.channel(KindTeams, td.srv.URL+"/webhookb2/abc", StreamWaiting)
			d := e.waitDelivery(ch.ID, e.alertTo(ch.ID).ID)
			reqs := td.requests()
			if d.State != c.state || len(reqs) != c.requests {
				t.Fatalf("state %s after %d requests, want %s after %d; last error %q", d.State, len(reqs), c.state, c.requests, d.LastError)
			}
			var msg struct {
				Attachments []struct {
					Content struct {
						Body    []map[string]any `json:"body"`
						Actions []map[string]any `json:"actions"`
					} `json:"content"`
				} `json:"attachments"`
			}
			if err := json.Unmarshal(reqs[0].body, &msg); err != nil {
				t.Fatal(err)
			}
			card := msg.Attachments[0].Content
			if len(card.Body) < 2 || card.Body[0]["text"] != `Riley \<!channel\> is waiting` ||
				card.Body[1]["text"] != `Hi & \<https://evil.example|click\> \*now\*` ||
				len(card.Actions) != 1 || card.Actions[0]["url"] != "https://beckon.acme.example/inbox/conv_1" {
				t.Errorf("teams card %+v", card)
			}
		})
	}
}

// receiver is an outbound-webhook receiver that verifies signatures and fails its first
// failures requests.
type receiver struct {
	mu       sync.Mutex
	secret   string
	failures int
	calls    []http.Header
	bodies   [][]byte
	badSig   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := make([]byte, 0, 512)
	buf := make([]byte, 512)
	for {
		n, err := r.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := Verify(r.Header.Get(HeaderSignature), body, []byte(rc.secret), time.Now(), 5*time.Minute); err != nil {
		rc.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.calls = append(rc.calls, r.Header.Clone())
	rc.bodies = append(rc.bodies, body)
	if len(rc.calls) <= rc.failures {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhookAtLeastOnce(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, Options{AllowPrivate: true})
		e.run()
		ctx := context.Background()
		rc := &receiver{failures: 2}
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)
		ch, sec, err := e.s.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindWebhook, Name: "crm", URL: srv.URL + "/in",
			Events: []string{EventMessageCreated, EventConversationClosed}})
		if err != nil {
			t.Fatal(err)
		}
		rc.mu.Lock()
		rc.secret = sec
		rc.mu.Unlock()

		// An event of a transaction that rolls back is never delivered.
		boom := errors.New("boom")
		err = d.InTx(ctx, func(tx *sql.Tx) error {
			if err := e.s.Event(ctx, tx, e.ws, EventMessageCreated, map[string]any{"text": "never"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		// Events the channel did not ask for, and events of another workspace, make no delivery.
		if err := e.s.Event(ctx, d, e.ws, EventVisitorIdentified, map[string]any{"id": "v_1"}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Event(ctx, d, e.other, EventMessageCreated, map[string]any{"id": "m_x"}); err != nil {
			t.Fatal(err)
		}
		if list, _ := e.s.Deliveries(ctx, e.ws, ch.ID, 0); len(list) != 0 {
			t.Fatalf("%d deliveries before the event", len(list))
		}

		data := map[string]any{"id": "msg_1", "conversation_id": "conv_1", "text": "Do you integrate with <Salesforce>?"}
		if err := d.InTx(ctx, func(tx *sql.Tx) error { return e.s.Event(ctx, tx, e.ws, EventMessageCreated, data) }); err != nil {
			t.Fatal(err)
		}
		e.s.Notify()
		list, _ := e.s.Deliveries(ctx, e.ws, ch.ID, 0)
		if len(list) != 1 {
			t.Fatalf("%d deliveries", len(list))
		}
		dl := e.waitDelivery(ch.ID, list[0].ID)
		rc.mu.Lock()
		calls, bodies, badSig := rc.calls, rc.bodies, rc.badSig
		rc.mu.Unlock()
		if dl.State != DeliverySucceeded || len(calls) != 3 || dl.Attempts != 3 || badSig != 0 {
			t.Fatalf("state %s after %d calls (%d bad signatures), %d attempts recorded", dl.State, len(calls), badSig, dl.Attempts)
		}
		for i, h := range calls {
			if h.Get(HeaderDelivery) != dl.ID || h.Get(HeaderEvent) != EventMessageCreated || h.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("call %d: delivery %q event %q", i, h.Get(HeaderDelivery), h.Get(HeaderEvent))
			}
			if string(bodies[i]) != string(bodies[0]) {
				t.Errorf("call %d sent another body", i)
			}
		}
		var ev WebhookEvent
		if err := json.Unmarshal(bodies[0], &ev); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		json.Unmarshal(ev.Data, &got)
		if !strings.HasPrefix(ev.ID, "evt_") || ev.Type != EventMessageCreated || ev.WorkspaceID != e.ws || ev.CreatedAt.IsZero() ||
			got["text"] != data["text"] {
			t.Fatalf("body %s", bodies[0])
		}
		waitFor(t, "the job to succeed", 5*time.Second, func() bool { return e.job(dl).State == jobs.Succeeded })
		if c, _ := e.s.Channel(ctx, e.ws, ch.ID); c.Failing || c.LastSuccessAt.IsZero() || !strings.Contains(c.LastError, "503") {
			t.Fatalf("channel %+v: want not failing, a success, and the last error kept", c)
		}

		// After a rotation both secrets sign for a while, so a receiver holding either accepts.
		_, sec2, err := e.s.RotateSecret(ctx, e.ws, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.Event(ctx, d, e.ws, EventConversationClosed, map[string]any{"id": "conv_1"}); err != nil {
			t.Fatal(err)
		}
		e.s.Notify()
		list, _ = e.s.Deliveries(ctx, e.ws, ch.ID, 1)
		e.waitDelivery(ch.ID, list[0].ID)
		rc.mu.Lock()
		last, lastBody := rc.calls[len(rc.calls)-1], rc.bodies[len(rc.bodies)-1]
		rc.mu.Unlock()
		sig := last.Get(HeaderSignature)
		if strings.Count(sig, "v1=") != 2 {
			t.Fatalf("signature after rotation %q, want two", sig)
		}
		for _, s := range []string{sec, sec2} {
			if err := Verify(sig, lastBody, []byte(s), time.Now(), time.Minute); err != nil {
				t.Errorf("secret %.10s… does not verify: %v", s, err)
			}
		}
	})
}

func TestDeliveryGivesUp(t *testing.T) {
	e := newEnv(t, testkit.SQLite(t), Options{AllowPrivate: true, MaxAttempts: 3})
	e.run()
	sd := slackDouble(t, reply{status: 503, body: "unavailable"})
	ch := e.channel(KindSlack, sd.srv.URL+"/services/x", StreamWaiting)
	d := e.waitDelivery(ch.ID, e.alertTo(ch.ID).ID)
	if d.State != DeliveryFailed || len(sd.requests()) != 3 || !strings.Contains(d.LastError, "503") {
		t.Fatalf("delivery %+v after %d requests", d, len(sd.requests()))
	}
	waitFor(t, "the job to fail", 5*time.Second, func() bool { return e.job(d).State == jobs.Failed })
	c, _ := e.s.Channel(context.Background(), e.ws, ch.ID)
	if !c.Failing || !strings.Contains(c.LastError, "503") {
		t.Fatalf("channel %+v", c)
	}
	// Fixing the channel (here: switching it off and on) clears the failing state.
	e.s.UpdateChannel(context.Background(), e.ws, ch.ID, ChannelPatch{Enabled: ptr(false)})
	c, _ = e.s.UpdateChannel(context.Background(), e.ws, ch.ID, ChannelPatch{Enabled: ptr(true)})
	if c.Failing {
		t.Fatal("re-enabled channel still failing")
	}
}

func TestSSRFRefusedAtDialTime(t *testing.T) {
	d := testkit.SQLite(t)
	e := newEnv(t, d, Options{AllowInsecure: true}) // plain http allowed, private addresses not
	e.run()
	ctx := context.Background()
	hits := 0
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	if _, _, err := e.s.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindWebhook, Name: "x", URL: srv.URL, Events: []string{"alert"}}); err == nil {
		t.Fatal("a loopback URL was accepted")
	}
	// Saved while allowed (or a name that resolves elsewhere later): refused when dialled.
	lax := NewService(d, nil, nil, nil, e.keys, Options{AllowPrivate: true})
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL + "/in", "http://localhost" + port + "/in"} {
		ch, _, err := lax.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindWebhook, Name: "x", URL: u, Events: []string{"alert"}})
		if err != nil {
			t.Fatal(err)
		}
		dl, err := e.s.TestChannel(ctx, e.ws, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := e.waitDelivery(ch.ID, dl.ID)
		if got.State != DeliveryFailed || got.Attempts != 1 || !strings.Contains(got.LastError, "refused to connect") {
			t.Fatalf("%s: delivery %+v", u, got)
		}
		if c, _ := e.s.Channel(ctx, e.ws, ch.ID); !c.Failing {
			t.Errorf("%s: channel not failing", u)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Fatalf("the loopback receiver was reached %d times", hits)
	}

	// Plain http to a public address needs AllowInsecure even with AllowPrivate.
	h := newHTTPClient(Options{AllowPrivate: true})
	httpCtx := context.WithValue(ctx, schemeKey{}, "http")
	if err := h.control(httpCtx, "tcp4", "93.184.215.14:80", nil); err == nil {
		t.Error("plain http to a public address was allowed")
	}
	if err := h.control(context.WithValue(ctx, schemeKey{}, "https"), "tcp4", "93.184.215.14:443", nil); err != nil {
		t.Errorf("https to a public address: %v", err)
	}
	if err := h.control(httpCtx, "tcp4", "10.0.0.1:80", nil); err != nil {
		t.Errorf("http to a private address with AllowPrivate: %v", err)
	}
}

func TestDeliveryLimitsAndTimeout(t *testing.T) {
	e := newEnv(t, testkit.SQLite(t), Options{AllowPrivate: true, Timeout: 300 * time.Millisecond, MaxAttempts: 2})
	release := make(chan struct{})
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(500)
		w.Write([]byte(big))
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	ch := e.channel(KindWebhook, srv.URL+"/big", EventAlert)
	res := e.s.send(context.Background(), ch, srv.URL+"/big", &Delivery{ID: "dlv_x", Event: "alert"}, []byte(`{}`))
	if res.err != nil || res.status != 500 || len(res.body) != MaxResponseBytes {
		t.Fatalf("read %d bytes (status %d, %v), want at most %d", len(res.body), res.status, res.err, MaxResponseBytes)
	}
	if o := classify(KindWebhook, res, time.Now(), time.Second); o.ok || o.permanent || len(o.msg) > 300 {
		t.Fatalf("outcome %+v", o)
	}
	start := time.Now()
	res = e.s.send(context.Background(), ch, srv.URL+"/slow", &Delivery{ID: "dlv_x", Event: "alert"}, []byte(`{}`))
	if res.err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("slow receiver: %v after %s", res.err, time.Since(start))
	}
	o := classify(KindWebhook, res, time.Now(), 300*time.Millisecond)
	if o.ok || o.permanent || !strings.Contains(o.msg, "no answer within") || strings.Contains(o.msg, srv.URL) {
		t.Fatalf("timeout outcome %+v", o)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"30", 30 * time.Second}, {"999999", MaxRetryAfter}, {"soon", 0},
		{"Sat, 21 Nov 2026 09:01:00 GMT", time.Minute}, {"Sat, 21 Nov 2026 08:00:00 GMT", 0},
	} {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		if got := retryAfter(h, now); got != c.want {
			t.Errorf("Retry-After %q = %s, want %s", c.v, got, c.want)
		}
	}
}

func TestEscaping(t *testing.T) {
	if got := slackEscape("a & <b> <!here>", 100); got != "a &amp; &lt;b&gt; &lt;!here&gt;" {
		t.Errorf("slack: %q", got)
	}
	if got := slackEscape(strings.Repeat("<", 100), 20); len([]rune(got)) > 20 || strings.HasSuffix(got, "&l…") || !strings.HasSuffix(got, "…") {
		t.Errorf("slack cut: %q", got)
	}
	for in, want := range map[string]string{
		"*bold* _it_ [x](http://e)": `\*bold\* \_it\_ \[x\]\(http://e\)`,
		"- item\n1. one\n\nok":      "\\- item\n\n1\\. one\n\nok",
		"2024 was good. 3.5 stars":  `2024 was good. 3.5 stars`,
		"a\\b <c> # ~ ` !|":         "a\\\\b \\<c\\> # ~ \\` !|",
	} {
		if got := teamsEscape(in, 1000); got != want {
			t.Errorf("teams %q = %q, want %q", in, got, want)
		}
	}
	su := summarize(EventConversationWaiting, map[string]any{"id": "conv_9", "visitor_name": "Riley", "email": "r@x.example", "text": "hi"},
		[]byte(`{"id":"conv_9","visitor_name":"Riley","email":"r@x.example","text":"hi"}`))
	if su.Conv != "conv_9" || su.Body != "Riley (r@x.example)\nhi" || su.Title == "" {
		t.Errorf("summary %+v", su)
	}
}

func TestDeletedChannelDropsQueued(t *testing.T) {
	e := newEnv(t, testkit.SQLite(t), Options{AllowPrivate: true})
	ctx := context.Background()
	sd := slackDouble(t, slackOK)
	ch := e.channel(KindSlack, sd.srv.URL+"/services/x", EventConversationClosed)
	if err := e.s.Event(ctx, e.d, e.ws, EventConversationClosed, map[string]any{"id": "conv_1"}); err != nil {
		t.Fatal(err)
	}
	list, _ := e.s.Deliveries(ctx, e.ws, ch.ID, 0)
	if len(list) != 1 {
		t.Fatalf("%d deliveries", len(list))
	}
	if err := e.s.DeleteChannel(ctx, e.ws, ch.ID); err != nil {
		t.Fatal(err)
	}
	e.run()
	e.s.Notify()
	waitFor(t, "the job to end", 10*time.Second, func() bool { return e.job(list[0]).State == jobs.Succeeded })
	if n := len(sd.requests()); n != 0 {
		t.Fatalf("a deleted channel got %d requests", n)
	}
}

func TestOldDeliveriesPruned(t *testing.T) {
	e := newEnv(t, testkit.SQLite(t), Options{AllowPrivate: true, ConversationURL: func(id string) string { return "/inbox?c=" + id }})
	e.run()
	ctx := context.Background()
	sd := slackDouble(t, slackOK)
	ch := e.channel(KindSlack, sd.srv.URL+"/services/x", StreamWaiting)
	old := db.Micro(time.Now().Add(-DeliveryRetention - time.Hour))
	for i, state := range []string{DeliverySucceeded, DeliveryFailed, DeliveryRetrying} {
		if _, err := e.d.ExecContext(ctx, `INSERT INTO notify_deliveries (id, workspace_id, channel_id, event, state, created_at, updated_at)
			VALUES ($1, $2, $3, 'waiting', $4, $5, $5)`, "dlv_old"+string(rune('a'+i)), e.ws, ch.ID, state, old); err != nil {
			t.Fatal(err)
		}
	}
	d := e.waitDelivery(ch.ID, e.alertTo(ch.ID).ID)
	if d.State != DeliverySucceeded {
		t.Fatalf("delivery %+v", d)
	}
	waitFor(t, "old records to go", 5*time.Second, func() bool {
		list, _ := e.s.Deliveries(ctx, e.ws, ch.ID, 0)
		return len(list) == 2 // the new one, and the old one still retrying
	})
	// A relative conversation link would make Slack refuse the blocks: no button is sent.
	if body := string(sd.requests()[0].body); strings.Contains(body, `"actions"`) || strings.Contains(body, "/inbox") {
		t.Errorf("a relative link was sent: %s", body)
	}
}

func TestLongRetryAfterSendsNothingEarly(t *testing.T) {
	e := newEnv(t, testkit.SQLite(t), Options{AllowPrivate: true, MaxAttempts: 2})
	e.run()
	sd := slackDouble(t, reply{status: 429, body: "rate_limited", retryAfter: "60"}, slackOK)
	ch := e.channel(KindSlack, sd.srv.URL+"/services/x", StreamWaiting)
	d := e.waitDelivery(ch.ID, e.alertTo(ch.ID).ID)
	if d.State != DeliveryFailed || d.Attempts != 1 || len(sd.requests()) != 1 || !strings.Contains(d.LastError, "Retry-After") ||
		d.NotBefore.Before(time.Now().Add(50*time.Second)) || d.LastStatus != 429 {
		t.Fatalf("delivery %+v after %d requests: the second attempt came before Retry-After and must send nothing", d, len(sd.requests()))
	}
}

func TestAlertChannelsRouting(t *testing.T) {
	e := newEnv(t, testkit.SQLite(t), Options{AllowPrivate: true})
	e.run()
	ctx := context.Background()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	wh, sec, err := e.s.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindWebhook, Name: "w", URL: srv.URL, Events: []string{EventAlert}})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = sec
	rc.mu.Unlock()
	liveOnly := slackDouble(t, slackOK)
	sl := e.channel(KindSlack, liveOnly.srv.URL+"/x", StreamLive)
	off, _, _ := e.s.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindSlack, Name: "off", URL: liveOnly.srv.URL + "/y",
		Events: []string{StreamWaiting}, Enabled: ptr(false)})

	d := e.waitDelivery(wh.ID, e.alertTo(wh.ID).ID)
	if d.State != DeliverySucceeded || d.Event != EventAlert {
		t.Fatalf("webhook delivery %+v", d)
	}
	rc.mu.Lock()
	body := rc.bodies[0]
	event := rc.calls[0].Get(HeaderEvent)
	rc.mu.Unlock()
	var ev struct {
		Type string    `json:"type"`
		Data alertData `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type != EventAlert || event != EventAlert || ev.Data.Stream != StreamWaiting ||
		!strings.HasPrefix(ev.Data.ID, "alr_") || ev.Data.Conv != "conv_1" {
		t.Fatalf("alert event %s (%v)", body, err)
	}
	for _, c := range []*Channel{sl, off} {
		if list, _ := e.s.Deliveries(ctx, e.ws, c.ID, 0); len(list) != 0 {
			t.Errorf("channel %s got a waiting alert", c.Name)
		}
	}
	if err := e.s.AlertChannels(ctx, e.d, e.ws, Alert{Stream: "sms", Title: "x"}); errs.As(err) == nil || errs.As(err).Field != "stream" {
		t.Errorf("unknown stream: %v", err)
	}
	if err := e.s.Event(ctx, e.d, e.ws, "conversation.exploded", nil); errs.As(err) == nil || errs.As(err).Field != "kind" {
		t.Errorf("unknown event: %v", err)
	}
}
