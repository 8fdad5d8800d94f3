package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

const (
	siteOrigin = "https://www.acme.example"
	chromeUA   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)

// visitorHarness is a harness whose workspace allows siteOrigin.
func visitorHarness(t *testing.T, d *db.DB) *harness {
	h := newHarness(t, d)
	origins := []string{siteOrigin}
	if _, err := h.wss.Update(context.Background(), h.ws.ID, workspace.Patch{AllowedOrigins: &origins}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) m(method, path, token string, body any, origin string) response {
	h.t.Helper()
	hdr := map[string]string{"User-Agent": chromeUA}
	if origin != "" {
		hdr["Origin"] = origin
	}
	return h.callWith(method, path, token, body, hdr)
}

func (h *harness) hello(t *testing.T, extra map[string]any) response {
	t.Helper()
	body := map[string]any{"site_id": h.ws.SiteID, "page": map[string]string{"url": siteOrigin + "/pricing?utm_source=news&utm_campaign=fall", "title": "Pricing", "referrer": "https://duckduckgo.com/"},
		"time_zone": "Asia/Kolkata", "language": "en-IN"}
	for k, v := range extra {
		body[k] = v
	}
	return h.m("POST", "/m/v1/hello", "", body, siteOrigin)
}

func TestMessengerHelloAndPages(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		r := h.hello(t, nil)
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != siteOrigin {
			t.Fatalf("hello: %d %s %v", r.status, r.body, r.header)
		}
		tok, _ := r.json["visitor_token"].(string)
		vid, _ := r.json["visitor_id"].(string)
		st, _ := r.json["settings"].(map[string]any)
		if !strings.HasPrefix(tok, "bkv2."+h.ws.SiteID+".") || vid == "" || r.json["new_session"] != true || st["launcher_text"] != "Chat with us" {
			t.Fatalf("hello answer %s", r.body)
		}
		for i := 0; i < 3; i++ {
			if r := h.m("POST", "/m/v1/page", tok, map[string]string{"url": fmt.Sprintf("%s/docs/%d", siteOrigin, i), "title": "Docs"}, siteOrigin); r.status != 204 {
				t.Fatalf("page: %d %s", r.status, r.body)
			}
		}
		if r := h.m("POST", "/m/v1/heartbeat", tok, map[string]any{}, siteOrigin); r.status != 204 {
			t.Fatalf("heartbeat: %d %s", r.status, r.body)
		}
		h.visitors.Flush(context.Background())
		sess, err := h.visitors.Sessions(context.Background(), h.ws.ID, vid, 10)
		if err != nil || len(sess) != 1 {
			t.Fatalf("sessions: %+v %v", sess, err)
		}
		s := sess[0]
		if s.PageViews != 4 || s.Source != "news" || s.Name != "fall" || s.Country != "IN" || s.Region != "APAC" ||
			s.Device != "desktop" || s.Language != "en-IN" || !strings.HasSuffix(s.LandingURL, "/pricing?utm_source=news&utm_campaign=fall") {
			t.Fatalf("session %+v", s)
		}
		// A returning page load keeps the visitor and the session.
		r2 := h.hello(t, map[string]any{"visitor_token": tok})
		if r2.json["visitor_id"] != vid || r2.json["new_session"] != false || r2.json["visitor_token"] != tok {
			t.Fatalf("returning hello: %s", r2.body)
		}
		// Leave by beacon: token in the body, text/plain.
		if r := h.m("POST", "/m/v1/leave", "", `{"visitor_token":"`+tok+`"}`, siteOrigin); r.status != 204 {
			t.Fatalf("leave: %d %s", r.status, r.body)
		}
	})
}

func TestMessengerRefusals(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		tok := h.hello(t, nil).json["visitor_token"].(string)
		other, _ := h.wss.Create(context.Background(), d, workspace.New{Name: "Globex", AllowedOrigins: []string{"https://globex.example"}})
		foreign := h.tokens.Issue(other.SiteID, "vis_aaaaaaaaaaaaaaaaaaaaaaaaaa", time.Now())
		page := map[string]string{"url": siteOrigin + "/x"}
		for _, tc := range []struct {
			name, method, path, token string
			body                      any
			origin                    string
			status                    int
			code                      string
		}{
			{"hello from another origin", "POST", "/m/v1/hello", "", map[string]any{"site_id": h.ws.SiteID, "page": page}, "https://evil.example", 403, "forbidden"},
			{"hello without origin", "POST", "/m/v1/hello", "", map[string]any{"site_id": h.ws.SiteID, "page": page}, "", 403, "forbidden"},
			{"unknown site", "POST", "/m/v1/hello", "", map[string]any{"site_id": "site_aaaaaaaaaaaaaaaaaaaaaaaaaa", "page": page}, siteOrigin, 404, "not_found"},
			{"page without token", "POST", "/m/v1/page", "", page, siteOrigin, 401, "unauthenticated"},
			{"forged token", "POST", "/m/v1/page", tok[:len(tok)-3] + "AAA", page, siteOrigin, 401, "unauthenticated"},
			{"another site's token", "POST", "/m/v1/page", foreign, page, siteOrigin, 403, "forbidden"},
			{"another site's token from its origin", "POST", "/m/v1/page", strings.Replace(tok, h.ws.SiteID, other.SiteID, 1), page, "https://globex.example", 401, "unauthenticated"},
			{"token from another origin", "POST", "/m/v1/page", tok, page, "https://evil.example", 403, "forbidden"},
			{"javascript url", "POST", "/m/v1/page", tok, map[string]string{"url": "javascript:alert(1)"}, siteOrigin, 422, "invalid"},
			{"oversize body", "POST", "/m/v1/page", tok, map[string]string{"url": siteOrigin + "/" + strings.Repeat("a", 17<<10)}, siteOrigin, 413, "too_large"},
			{"malformed", "POST", "/m/v1/messages", tok, `{"text":`, siteOrigin, 400, "malformed"},
			{"unknown field", "POST", "/m/v1/messages", tok, `{"text":"hi","html":"<b>"}`, siteOrigin, 400, "malformed"},
			{"empty message", "POST", "/m/v1/messages", tok, map[string]string{"text": "  "}, siteOrigin, 422, "invalid"},
			{"huge message", "POST", "/m/v1/messages", tok, map[string]string{"text": strings.Repeat("x", 4001)}, siteOrigin, 422, "invalid"},
			{"bad after", "GET", "/m/v1/messages?after=-1", tok, nil, siteOrigin, 422, "invalid"},
			{"consent without answer", "POST", "/m/v1/consent", tok, map[string]any{}, siteOrigin, 422, "invalid"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.m(tc.method, tc.path, tc.token, tc.body, tc.origin)
				if r.status != tc.status || r.errCode() != tc.code {
					t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
				}
			})
		}
	})
}

func TestMessengerMessages(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		tok := h.hello(t, nil).json["visitor_token"].(string)
		r := h.m("POST", "/m/v1/messages", tok, map[string]string{"text": "<img src=x onerror=alert(1)> Hi!", "client_id": "c-1"}, siteOrigin)
		if r.status != 201 || r.json["first"] != true {
			t.Fatalf("first message: %d %s", r.status, r.body)
		}
		again := h.m("POST", "/m/v1/messages", tok, map[string]string{"text": "<img src=x onerror=alert(1)> Hi!", "client_id": "c-1"}, siteOrigin)
		if again.status != 201 || again.json["first"] != false {
			t.Fatalf("retry: %s", again.body)
		}
		h.m("POST", "/m/v1/messages", tok, map[string]string{"text": "Second", "client_id": "c-2"}, siteOrigin)
		// After the first message, the bot's reply (nobody is available: seq 2), then "Second".
		list := h.m("GET", "/m/v1/messages?after=2", tok, nil, siteOrigin)
		msgs, _ := list.json["messages"].([]any)
		if list.status != 200 || len(msgs) != 1 || msgs[0].(map[string]any)["text"] != "Second" {
			t.Fatalf("list: %s", list.body)
		}
		// The stored text is the text: never interpreted, escaped when shown.
		all := h.m("GET", "/m/v1/messages", tok, nil, siteOrigin)
		if !strings.Contains(string(all.body), `\u003cimg src=x onerror=alert(1)\u003e Hi!`) {
			t.Fatalf("text not kept verbatim: %s", all.body)
		}
		// hello reports the open conversation: two messages and the bot's reply.
		if c, _ := h.hello(t, map[string]any{"visitor_token": tok}).json["conversation"].(map[string]any); c["last_seq"] != 3.0 {
			t.Fatalf("conversation in hello: %v", c)
		}
	})
}

func TestMessengerBotsAndConsent(t *testing.T) {
	h := visitorHarness(t, testkit.SQLite(t))
	bot := h.callWith("POST", "/m/v1/hello", "", map[string]any{"site_id": h.ws.SiteID, "page": map[string]string{"url": siteOrigin + "/"}},
		map[string]string{"Origin": siteOrigin, "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"})
	if bot.status != 200 || bot.json["bot"] != true || bot.json["visitor_token"] != "" {
		t.Fatalf("bot hello: %s", bot.body)
	}
	wd := h.hello(t, map[string]any{"webdriver": true})
	if wd.json["bot"] != true {
		t.Fatalf("webdriver hello: %s", wd.body)
	}
	var n int
	h.d.QueryRow(`SELECT COUNT(*) FROM visitors`).Scan(&n)
	if n != 0 {
		t.Fatalf("bots stored %d visitors", n)
	}
	yes := true
	h.wss.Update(context.Background(), h.ws.ID, workspace.Patch{Settings: &workspace.SettingsPatch{ConsentRequired: &yes}})
	before := h.hello(t, nil)
	if before.json["consent_required"] != true || before.json["visitor_token"] != "" {
		t.Fatalf("hello before consent: %s", before.body)
	}
	h.d.QueryRow(`SELECT COUNT(*) FROM visitors`).Scan(&n)
	if n != 0 {
		t.Fatalf("stored a visitor before consent")
	}
	after := h.hello(t, map[string]any{"consent": "granted"})
	if tok, _ := after.json["visitor_token"].(string); tok == "" {
		t.Fatalf("hello with consent: %s", after.body)
	}
}

func TestMessengerRateLimit(t *testing.T) {
	h := visitorHarness(t, testkit.SQLite(t))
	tok := h.hello(t, nil).json["visitor_token"].(string)
	var last response
	for i := 0; i <= MessengerVisitorBurst; i++ {
		last = h.m("POST", "/m/v1/heartbeat", tok, map[string]any{}, siteOrigin)
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("after the burst: %d %v", last.status, last.header)
	}
}

func TestMessengerPreflightAndScripts(t *testing.T) {
	h := visitorHarness(t, testkit.SQLite(t))
	// A refused token still reaches the page, so that the messenger can start again with hello.
	bad := h.callWith("POST", "/m/v1/page", "garbage", map[string]string{"url": siteOrigin + "/"}, map[string]string{"Origin": siteOrigin})
	if bad.status != 401 || bad.header.Get("Access-Control-Allow-Origin") != siteOrigin {
		t.Fatalf("401 without CORS headers: %d %v", bad.status, bad.header)
	}
	pre := h.callWith("OPTIONS", "/m/v1/page", "", nil, map[string]string{"Origin": siteOrigin, "Access-Control-Request-Method": "POST"})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" {
		t.Fatalf("preflight: %d %v", pre.status, pre.header)
	}
	r := h.call("GET", "/js/beckon.js", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") || r.header.Get("Cache-Control") != "public, max-age=300" ||
		r.header.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
		t.Fatalf("loader: %d %v", r.status, r.header)
	}
	etag := strings.Trim(r.header.Get("ETag"), `"`)
	if v := h.call("GET", "/js/beckon.js?v="+etag, "", nil); !strings.Contains(v.header.Get("Cache-Control"), "immutable") {
		t.Fatalf("versioned loader not immutable: %v", v.header)
	}
	if r := h.call("GET", "/js/messenger.nope.txt", "", nil); r.status != 404 {
		t.Fatalf("unknown asset: %d", r.status)
	}
}
