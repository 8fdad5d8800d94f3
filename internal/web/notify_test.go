package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// withNotify gives the harness's server a notifications service (channels may reach 127.0.0.1)
// on the harness's job queue, which it starts when run is true. Tests that run the queue send
// only to receivers on 127.0.0.1.
func withNotify(t *testing.T, h *harness, run bool) *notify.Service {
	t.Helper()
	b := bus.NewInProcess()
	t.Cleanup(func() { b.Close() })
	n := notify.NewService(h.d, h.clk, b, h.s.jobs, h.secrets, notify.Options{AllowPrivate: true})
	deps := h.s.deps
	deps.Notify = n
	h.s = New(deps)
	h.srv.Config.Handler = h.s
	if !run {
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.s.jobs.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

// otherWorkspace makes a second workspace with an admin token holding every scope.
func otherWorkspace(t *testing.T, h *harness) (*workspace.Workspace, string) {
	t.Helper()
	ws, err := h.wss.Create(context.Background(), h.d, workspace.New{Name: "Globex"})
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, s := range identity.AllScopes {
		scopes = append(scopes, string(s))
	}
	_, tok := h.userWithToken(ws.ID, "admin@globex.example", identity.RoleAdmin, scopes...)
	return ws, tok
}

// waitUntil polls cond every 10 ms for at most 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestAlertPrefsAPI(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		if r := h.call("GET", "/api/v1/me/alerts", h.adminToken, nil); r.status != http.StatusServiceUnavailable {
			t.Fatalf("without the service: %d %s", r.status, r.body)
		}
		withNotify(t, h, false)
		r := h.call("GET", "/api/v1/me/alerts", h.adminToken, nil)
		if r.status != 200 || len(r.json) != 3 {
			t.Fatalf("GET: %d %s", r.status, r.body)
		}
		w, _ := r.json["waiting"].(map[string]any)
		if w["enabled"] != true || w["sound"] != "chime" || w["notify"] != true {
			t.Fatalf("defaults %s", r.body)
		}

		r = h.call("PUT", "/api/v1/me/alerts", h.adminToken, `{"live":{"enabled":false},"waiting":{"sound":"knock"}}`)
		live, _ := r.json["live"].(map[string]any)
		w, _ = r.json["waiting"].(map[string]any)
		if r.status != 200 || live["enabled"] != false || live["sound"] != "pop" || w["sound"] != "knock" || w["enabled"] != true {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		if again := h.call("GET", "/api/v1/me/alerts", h.adminToken, nil); string(again.body) != string(r.body) {
			t.Fatalf("read back %s, want %s", again.body, r.body)
		}
		for _, c := range []struct {
			body   string
			status int
			field  string
		}{
			{`{"waiting":{"enabled":false}}`, 422, "waiting.enabled"},
			{`{"waiting":{"sound":"none"}}`, 422, "waiting.sound"},
			{`{"target":{"sound":"siren"}}`, 422, "target.sound"},
			{`{"sms":{"enabled":true}}`, 422, "sms"},
			{`{"live":{"volume":3}}`, 400, "volume"},
			{`{"live":{"enabled":"yes"}}`, 400, "enabled"},
			{`[]`, 400, ""},
		} {
			r := h.call("PUT", "/api/v1/me/alerts", h.adminToken, c.body)
			if r.status != c.status || r.errField() != c.field {
				t.Errorf("PUT %s: %d field %q, want %d %q (%s)", c.body, r.status, r.errField(), c.status, c.field, r.body)
			}
		}
		// Reading needs no scope; changing needs profile:write.
		_, tok := h.userWithToken(h.ws.ID, "rep@acme.example", identity.RoleRep, "users:read")
		if r := h.call("GET", "/api/v1/me/alerts", tok, nil); r.status != 200 {
			t.Errorf("GET with a users:read token: %d", r.status)
		}
		if r := h.call("PUT", "/api/v1/me/alerts", tok, `{"live":{"enabled":false}}`); r.status != 403 {
			t.Errorf("PUT without profile:write: %d", r.status)
		}
		if r := h.call("GET", "/api/v1/me/alerts", "", nil); r.status != 401 {
			t.Errorf("GET without credentials: %d", r.status)
		}
	})
}

// sigReceiver is a webhook receiver that checks signatures with its secret.
type sigReceiver struct {
	mu       sync.Mutex
	secret   string
	delivery []string
	bad      int
}

func (s *sigReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if notify.Verify(r.Header.Get(notify.HeaderSignature), body, []byte(s.secret), time.Now(), 5*time.Minute) != nil {
		s.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.delivery = append(s.delivery, r.Header.Get(notify.HeaderDelivery))
	w.WriteHeader(http.StatusOK)
}

func TestChannelsAPI(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		withNotify(t, h, true)
		slackURL := "https://hooks.slack.com/services/T0/B0/topSECRETvalue9Zq"
		r := h.call("POST", "/api/v1/channels", h.adminToken, map[string]any{"kind": "slack", "name": "Sales",
			"url": slackURL, "events": []string{"waiting", "conversation.closed"}})
		if r.status != 201 || strings.Contains(string(r.body), "topSECRET") || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("create slack: %d %s", r.status, r.body)
		}
		slack, _ := r.json["channel"].(map[string]any)
		slackID, _ := slack["id"].(string)
		if slack["url"] != "hooks.slack.com …e9Zq" || r.json["secret"] != nil {
			t.Fatalf("create slack: %s", r.body)
		}

		rc := &sigReceiver{}
		recv := httptest.NewServer(rc)
		t.Cleanup(recv.Close)
		r = h.call("POST", "/api/v1/channels", h.adminToken, map[string]any{"kind": "webhook", "name": "CRM",
			"url": recv.URL + "/beckon", "events": []string{"message.created"}})
		sec, _ := r.json["secret"].(string)
		wh, _ := r.json["channel"].(map[string]any)
		whID, _ := wh["id"].(string)
		if r.status != 201 || !strings.HasPrefix(sec, "whsec_") {
			t.Fatalf("create webhook: %d %s", r.status, r.body)
		}
		rc.mu.Lock()
		rc.secret = sec
		rc.mu.Unlock()

		if r := h.call("GET", "/api/v1/channels", h.adminToken, nil); r.status != 200 || len(r.json["data"].([]any)) != 2 ||
			strings.Contains(string(r.body), "topSECRET") || strings.Contains(string(r.body), sec) {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		if r := h.call("PATCH", "/api/v1/channels/"+slackID, h.adminToken, map[string]any{"enabled": false, "events": []string{"live"}}); r.status != 200 ||
			r.json["enabled"] != false || fmt.Sprint(r.json["events"]) != "[live]" {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}

		// A test delivery reaches the receiver, signed, and shows in the channel's deliveries.
		r = h.call("POST", "/api/v1/channels/"+whID+"/test", h.adminToken, nil)
		dlvID, _ := r.json["id"].(string)
		if r.status != 202 || !strings.HasPrefix(dlvID, "dlv_") || r.json["event"] != "test" {
			t.Fatalf("test: %d %s", r.status, r.body)
		}
		waitUntil(t, "the test delivery", func() bool {
			r := h.call("GET", "/api/v1/channels/"+whID+"/deliveries", h.adminToken, nil)
			list, _ := r.json["data"].([]any)
			if len(list) != 1 {
				return false
			}
			first, _ := list[0].(map[string]any)
			return first["id"] == dlvID && first["state"] == "succeeded"
		})
		rc.mu.Lock()
		if len(rc.delivery) != 1 || rc.delivery[0] != dlvID || rc.bad != 0 {
			t.Errorf("the receiver got %v (%d badly signed)", rc.delivery, rc.bad)
		}
		rc.mu.Unlock()

		r = h.call("POST", "/api/v1/channels/"+whID+"/rotate-secret", h.adminToken, nil)
		if sec2, _ := r.json["secret"].(string); r.status != 200 || sec2 == sec || !strings.HasPrefix(sec2, "whsec_") {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		if r := h.call("POST", "/api/v1/channels/"+slackID+"/rotate-secret", h.adminToken, nil); r.status != 409 {
			t.Errorf("rotate slack: %d %s", r.status, r.body)
		}

		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"kind": "sms", "name": "x", "url": slackURL, "events": []string{"waiting"}}, "kind"},
			{map[string]any{"kind": "slack", "name": "x", "url": "ftp://hooks.slack.com/x", "events": []string{"waiting"}}, "url"},
			{map[string]any{"kind": "webhook", "name": "x", "url": "https://169.254.169.254/latest", "events": []string{"alert"}}, ""},
			{map[string]any{"kind": "slack", "name": "x", "url": slackURL, "events": []string{"message.created"}}, "events"},
		} {
			r := h.call("POST", "/api/v1/channels", h.adminToken, c.body)
			if c.field == "" { // AllowPrivate is on in these tests: accepted
				if r.status != 201 {
					t.Errorf("POST %v: %d %s", c.body, r.status, r.body)
				}
				continue
			}
			if r.status != 422 || r.errField() != c.field {
				t.Errorf("POST %v: %d field %q, want 422 %q", c.body, r.status, r.errField(), c.field)
			}
		}
		if r := h.call("GET", "/api/v1/channels/"+whID+"/deliveries?limit=0", h.adminToken, nil); r.status != 422 || r.errField() != "limit" {
			t.Errorf("limit 0: %d %s", r.status, r.body)
		}

		// SEC1: another workspace's admin finds nothing.
		_, otherTok := otherWorkspace(t, h)
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/v1/channels/" + slackID}, {"PATCH", "/api/v1/channels/" + slackID}, {"DELETE", "/api/v1/channels/" + slackID},
			{"POST", "/api/v1/channels/" + whID + "/test"}, {"POST", "/api/v1/channels/" + whID + "/rotate-secret"},
			{"GET", "/api/v1/channels/" + whID + "/deliveries"}, {"GET", "/api/v1/channels/ch_nothing"},
		} {
			var body any
			if c.method == "PATCH" {
				body = map[string]any{"name": "stolen"}
			}
			if r := h.call(c.method, c.path, otherTok, body); r.status != 404 {
				t.Errorf("%s %s from another workspace: %d %s", c.method, c.path, r.status, r.body)
			}
		}
		if r := h.call("GET", "/api/v1/channels", otherTok, nil); r.status != 200 || len(r.json["data"].([]any)) != 0 {
			t.Errorf("another workspace lists: %s", r.body)
		}
		// Channels are for admins.
		_, repTok := h.userWithToken(h.ws.ID, "rep@acme.example", identity.RoleRep, "users:read")
		if r := h.call("GET", "/api/v1/channels", repTok, nil); r.status != 403 {
			t.Errorf("rep lists channels: %d", r.status)
		}

		if r := h.call("DELETE", "/api/v1/channels/"+slackID, h.adminToken, nil); r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		if r := h.call("GET", "/api/v1/channels/"+slackID, h.adminToken, nil); r.status != 404 {
			t.Fatalf("deleted channel: %d", r.status)
		}
	})
}

var reChannelLink = regexp.MustCompile(`/settings/channels/(ch_[a-z2-7]{26})`)

func TestConsoleAlertsAndChannels(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		n := withNotify(t, h, true)
		ctx := context.Background()
		slackDouble := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		t.Cleanup(slackDouble.Close)
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)

		p := c.get("/settings/alerts")
		wantStatus(t, "alerts page", p, 200)
		wantBody(t, "alerts page", p, `src="/static/alerts.js?v=`, `name="waiting_sound"`, `name="live_enabled"`, `data-preview="target_sound"`,
			`href="/settings/alerts" aria-current="page"`, "Always on")
		wantNoBody(t, "alerts page", p, `name="waiting_enabled"`, `<option value="none" selected`)
		if strings.Count(p.body, `<option value="none"`) != 2 {
			t.Errorf("waiting offers no sound: want none only for live and target")
		}
		form := url.Values{"waiting_sound": {"knock"}, "waiting_notify": {"on"}, "live_sound": {"bell"}, "target_enabled": {"on"},
			"target_sound": {"none"}}
		wantRedirect(t, "save alerts", c.postCSRF("/settings/alerts", form), "/settings/alerts?done=saved")
		wantBody(t, "after saving", c.get("/settings/alerts?done=saved"), "Your alert settings are saved.")
		prefs, _ := n.Prefs(ctx, h.ws.ID, h.admin.ID)
		if prefs["waiting"].Sound != "knock" || !prefs["waiting"].Enabled || prefs["live"].Enabled || prefs["live"].Notify ||
			prefs["target"].Sound != "none" || !prefs["target"].Enabled {
			t.Fatalf("saved %v", prefs)
		}
		form.Set("waiting_sound", "none")
		bad := c.postCSRF("/settings/alerts", form)
		wantStatus(t, "muted waiting", bad, 422)
		wantBody(t, "muted waiting", bad, `id="waiting_sound-error"`)

		// Channels: add, see, change, test, delete.
		p = c.get("/settings/channels")
		wantStatus(t, "channels page", p, 200)
		wantBody(t, "channels page", p, "No channels yet", `name="events" value="conversation.waiting"`, `href="/settings/channels" aria-current="page"`)
		slackURL := slackDouble.URL + "/services/T0/B0/consoleSECRETwxyz"
		cf := url.Values{"kind": {"slack"}, "name": {"Sales"}, "url": {"notaurl"}, "events": {"waiting", "conversation.closed"}, "enabled": {"on"}}
		bad = c.postCSRF("/settings/channels", cf)
		wantStatus(t, "bad url", bad, 422)
		wantBody(t, "bad url", bad, `id="url-error"`, `value="Sales"`)
		cf.Set("url", slackURL)
		made := c.postCSRF("/settings/channels", cf)
		if made.status != 303 || !reChannelLink.MatchString(made.header.Get("Location")) {
			t.Fatalf("create: %d %s", made.status, made.header.Get("Location"))
		}
		chID := reChannelLink.FindStringSubmatch(made.header.Get("Location"))[1]
		p = c.get("/settings/channels/" + chID + "?done=created")
		wantStatus(t, "channel page", p, 200)
		wantBody(t, "channel page", p, "Channel added.", strings.TrimPrefix(slackDouble.URL, "http://")+" …wxyz", "Nothing sent yet.")
		wantNoBody(t, "channel page", p, "consoleSECRET", "rotate-secret")

		upd := url.Values{"kind": {"slack"}, "name": {"Sales team"}, "url": {""}, "events": {"live"}}
		wantRedirect(t, "update", c.postCSRF("/settings/channels/"+chID, upd), "/settings/channels/"+chID+"?done=saved")
		ch, _ := n.Channel(ctx, h.ws.ID, chID)
		if ch.Name != "Sales team" || ch.Enabled || fmt.Sprint(ch.Events) != "[live]" || !strings.HasSuffix(ch.URL, " …wxyz") {
			t.Fatalf("updated %+v", ch)
		}
		wantRedirect(t, "test", c.postCSRF("/settings/channels/"+chID+"/test", nil), "/settings/channels/"+chID+"?done=test")
		waitUntil(t, "the test delivery", func() bool {
			return strings.Contains(c.get("/settings/channels/"+chID).body, "Delivered")
		})
		wantBody(t, "channel page after a test", c.get("/settings/channels/"+chID), "<code>test</code>")

		wf := url.Values{"kind": {"webhook"}, "name": {"CRM"}, "url": {"https://crm.acme.example/in"}, "events": {"alert"}, "enabled": {"on"}}
		p = c.postCSRF("/settings/channels", wf)
		wantStatus(t, "create webhook", p, 200)
		wantBody(t, "create webhook", p, `id="new_secret"`, "whsec_", "it will not be shown again")
		if p.header.Get("Cache-Control") != "no-store" {
			t.Error("the page with the secret may be cached")
		}
		whID := reChannelLink.FindStringSubmatch(p.body)[1]
		p = c.postCSRF("/settings/channels/"+whID+"/rotate-secret", nil)
		wantBody(t, "rotate", p, `id="new_secret"`)
		if again := c.get("/settings/channels/" + whID); strings.Contains(again.body, "whsec_") {
			t.Error("the secret is shown again")
		}

		// Another workspace's channel is not found; reps may not manage channels.
		ws2, _ := otherWorkspace(t, h)
		foreign, _, err := n.CreateChannel(ctx, ws2.ID, notify.ChannelInput{Kind: "slack", Name: "x", URL: slackURL, Events: []string{"waiting"}})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "foreign channel", c.get("/settings/channels/"+foreign.ID), 404)
		wantStatus(t, "foreign delete", c.postCSRF("/settings/channels/"+foreign.ID+"/delete", nil), 404)
		if _, err := n.Channel(ctx, ws2.ID, foreign.ID); err != nil {
			t.Fatalf("the foreign channel is gone: %v", err)
		}
		h.id.CreateUser(ctx, d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "rep@acme.example", Role: identity.RoleRep, Password: "rep password 1"})
		rc := newConsoleClient(t, h)
		rc.login("rep@acme.example", "rep password 1")
		wantStatus(t, "rep channels", rc.get("/settings/channels"), 403)
		wantStatus(t, "rep channel", rc.get("/settings/channels/"+chID), 403)
		wantNoBody(t, "rep nav", rc.get("/settings/alerts"), `href="/settings/channels"`)

		wantRedirect(t, "delete", c.postCSRF("/settings/channels/"+chID+"/delete", nil), "/settings/channels?done=deleted")
		wantStatus(t, "deleted", c.get("/settings/channels/"+chID), 404)
	})
}

// TestNotifyOpenAPIContract checks the answers of the notification endpoints against their
// documented schemas.
func TestNotifyOpenAPIContract(t *testing.T) {
	doc := loadOpenAPI(t)
	h := newHarness(t, testkit.SQLite(t))
	withNotify(t, h, false) // the test delivery stays queued: nothing leaves this machine
	made := h.call("POST", "/api/v1/channels", h.adminToken, map[string]any{"kind": "webhook", "name": "CRM",
		"url": "https://crm.acme.example/in", "events": []string{"alert"}})
	ch, _ := made.json["channel"].(map[string]any)
	id, _ := ch["id"].(string)
	for _, c := range []struct {
		method, template, path string
		body                   any
		status                 int
	}{
		{"GET", "/api/v1/me/alerts", "/api/v1/me/alerts", nil, 200},
		{"PUT", "/api/v1/me/alerts", "/api/v1/me/alerts", map[string]any{"live": map[string]any{"sound": "bell"}}, 200},
		{"PUT", "/api/v1/me/alerts", "/api/v1/me/alerts", map[string]any{"waiting": map[string]any{"enabled": false}}, 422},
		{"POST", "/api/v1/channels", "/api/v1/channels", map[string]any{"kind": "slack", "name": "S", "url": "https://hooks.slack.com/x",
			"events": []string{"waiting"}}, 201},
		{"GET", "/api/v1/channels", "/api/v1/channels", nil, 200},
		{"GET", "/api/v1/channels/{id}", "/api/v1/channels/" + id, nil, 200},
		{"GET", "/api/v1/channels/{id}", "/api/v1/channels/ch_nope", nil, 404},
		{"PATCH", "/api/v1/channels/{id}", "/api/v1/channels/" + id, map[string]any{"name": "CRM 2"}, 200},
		{"POST", "/api/v1/channels/{id}/test", "/api/v1/channels/" + id + "/test", nil, 202},
		{"GET", "/api/v1/channels/{id}/deliveries", "/api/v1/channels/" + id + "/deliveries", nil, 200},
		{"POST", "/api/v1/channels/{id}/rotate-secret", "/api/v1/channels/" + id + "/rotate-secret", nil, 200},
	} {
		o, ok := doc.operation(c.method, c.template)
		if !ok {
			t.Errorf("%s %s is not documented", c.method, c.template)
			continue
		}
		r := h.call(c.method, c.path, h.adminToken, c.body)
		name := c.method + " " + c.path
		if r.status != c.status {
			t.Errorf("%s = %d %s, want %d", name, r.status, r.body, c.status)
			continue
		}
		resp := doc.deref(o.op["responses"].(map[string]any)[fmt.Sprint(r.status)])
		if resp == nil {
			t.Errorf("%s answered %d, which openapi.json does not document", name, r.status)
			continue
		}
		content, _ := resp["content"].(map[string]any)
		aj, _ := content["application/json"].(map[string]any)
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil || aj == nil {
			t.Errorf("%s: %v, documented content %v", name, err, content)
			continue
		}
		for _, p := range doc.conform(v, aj["schema"], "") {
			t.Errorf("%s: %s", name, p)
		}
	}
}
