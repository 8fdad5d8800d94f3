package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

func TestAPIBadInput(t *testing.T) {
	wantMessages := map[string]string{ // by case name, where the exact message matters
		"cursor not UTF-8": "the URL must be UTF-8 text without NUL bytes",
		"null body":        "the body must be a JSON object",
		"string body":      "the body must be a JSON object",
		"not an object":    "the body must be a JSON object",
		"wrong method":     "this path answers only GET, HEAD, PATCH",
	}
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		rep, repTok := h.userWithToken(h.ws.ID, "rep@acme.example", identity.RoleRep, "users:read", "profile:write", "tokens:write")
		for _, tc := range []struct {
			name         string
			method, path string
			token        string
			body         any
			status       int
			code, field  string
		}{
			{"no token", "GET", "/api/v1/me", "", nil, 401, "unauthenticated", ""},
			{"garbage token", "GET", "/api/v1/me", "bkt_nope", nil, 401, "unauthenticated", ""},
			{"not a bearer", "GET", "/api/v1/users", "", nil, 401, "unauthenticated", ""},
			{"rep cannot invite", "POST", "/api/v1/users", repTok, map[string]any{"email": "x@acme.example"}, 403, "forbidden", ""},
			{"rep cannot list jobs", "GET", "/api/v1/jobs", repTok, nil, 403, "forbidden", ""},
			{"rep cannot change others", "PATCH", "/api/v1/users/" + h.admin.ID, repTok, map[string]any{"first_name": "x"}, 403, "forbidden", ""},
			{"rep cannot promote self", "PATCH", "/api/v1/users/" + rep.ID, repTok, map[string]any{"role": "admin"}, 403, "forbidden", ""},
			{"malformed JSON", "POST", "/api/v1/users", h.adminToken, `{"email": "a@b.c"`, 400, "malformed", ""},
			{"not an object", "POST", "/api/v1/users", h.adminToken, `[1,2]`, 400, "malformed", ""},
			{"trailing data", "POST", "/api/v1/users", h.adminToken, `{"email":"a@acme.example"} {}`, 400, "malformed", ""},
			{"unknown field", "POST", "/api/v1/users", h.adminToken, `{"email":"a@acme.example","admin":true}`, 400, "malformed", "admin"},
			{"wrong type", "POST", "/api/v1/users", h.adminToken, `{"email":42}`, 400, "malformed", "email"},
			{"empty body", "POST", "/api/v1/users", h.adminToken, ``, 400, "malformed", ""},
			{"missing email", "POST", "/api/v1/users", h.adminToken, `{"role":"rep"}`, 422, "invalid", "email"},
			{"bad email", "POST", "/api/v1/users", h.adminToken, `{"email":"not an email"}`, 422, "invalid", "email"},
			{"bad role", "POST", "/api/v1/users", h.adminToken, `{"email":"a@acme.example","role":"owner"}`, 422, "invalid", "role"},
			{"bad zone", "PATCH", "/api/v1/me", h.adminToken, `{"time_zone":"Europe/Atlantis"}`, 422, "invalid", "time_zone"},
			{"bad origin", "PATCH", "/api/v1/workspace", h.adminToken, `{"allowed_origins":["javascript:alert(1)"]}`, 422, "invalid", "allowed_origins[0]"},
			{"duplicate email", "POST", "/api/v1/users", h.adminToken, `{"email":"REP@acme.example"}`, 409, "conflict", "email"},
			{"oversize body", "PATCH", "/api/v1/me", h.adminToken, `{"first_name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large", ""},
			{"bad job state", "GET", "/api/v1/jobs?state=exploded", h.adminToken, nil, 422, "invalid", "state"},
			{"bad job limit", "GET", "/api/v1/jobs?limit=100000", h.adminToken, nil, 422, "invalid", "limit"},
			{"bad cursor", "GET", "/api/v1/jobs?cursor=job_x", h.adminToken, nil, 422, "invalid", "cursor"},
			{"unknown user", "GET", "/api/v1/users/usr_aaaaaaaaaaaaaaaaaaaaaaaaaa", h.adminToken, nil, 404, "not_found", ""},
			{"garbage id", "GET", "/api/v1/users/..%2F..%2Fetc", h.adminToken, nil, 404, "not_found", ""},
			{"unknown route", "GET", "/api/v1/nope", h.adminToken, nil, 404, "not_found", ""},
			{"last admin", "POST", "/api/v1/users/" + h.admin.ID + "/deactivate", h.adminToken, nil, 409, "conflict", ""},
			{"scope beyond role", "POST", "/api/v1/tokens", repTok, `{"name":"x","scopes":["jobs:read"]}`, 403, "forbidden", "scopes"},
			{"photo not image", "PUT", "/api/v1/users/" + rep.ID + "/photo", repTok, []byte("<svg onload=alert(1)>"), 422, "invalid", "photo"},
			{"photo too big", "PUT", "/api/v1/users/" + rep.ID + "/photo", repTok, make([]byte, 2<<20+10), 413, "too_large", ""},
			// Bytes PostgreSQL cannot store never reach a handler, so never the database (no 500).
			{"cursor not UTF-8", "GET", "/api/v1/jobs?cursor=%ff", h.adminToken, nil, 400, "malformed", ""},
			{"cursor with NUL", "GET", "/api/v1/jobs?cursor=a%00b", h.adminToken, nil, 400, "malformed", ""},
			{"state not UTF-8", "GET", "/api/v1/jobs?state=%c3", h.adminToken, nil, 400, "malformed", ""},
			{"query name not UTF-8", "GET", "/api/v1/jobs?%fe=1", h.adminToken, nil, 400, "malformed", ""},
			{"job id not UTF-8", "GET", "/api/v1/jobs/%ff", h.adminToken, nil, 400, "malformed", ""},
			{"job id with NUL", "GET", "/api/v1/jobs/a%00b", h.adminToken, nil, 400, "malformed", ""},
			{"retry id not UTF-8", "POST", "/api/v1/jobs/%ff/retry", h.adminToken, nil, 400, "malformed", ""},
			{"user id not UTF-8", "GET", "/api/v1/users/%ff", h.adminToken, nil, 400, "malformed", ""},
			{"token id with NUL", "DELETE", "/api/v1/tokens/tok_%00", h.adminToken, nil, 400, "malformed", ""},
			{"bad URL before auth", "GET", "/api/v1/jobs/%ff", "", nil, 400, "malformed", ""},
			{"unknown path not UTF-8", "GET", "/api/v1/nope%ff", h.adminToken, nil, 400, "malformed", ""},
			{"lone percent is fine", "GET", "/api/v1/jobs?limit=5&x=100%", h.adminToken, nil, 200, "", ""},
			// Text that is not a job id is refused before a query.
			{"job id not a job id", "GET", "/api/v1/jobs/caf%C3%A9", h.adminToken, nil, 404, "not_found", ""},
			{"retry of no job", "POST", "/api/v1/jobs/job_aaaaaaaaaaaaaaaaaaaaaaaaaa/retry", h.adminToken, nil, 404, "not_found", ""},
			{"cursor not a job id", "GET", "/api/v1/jobs?cursor=caf%C3%A9", h.adminToken, nil, 422, "invalid", "cursor"},
			// The body must be an object.
			{"null body", "PATCH", "/api/v1/me", h.adminToken, `null`, 400, "malformed", ""},
			{"null body with spaces", "PATCH", "/api/v1/me", h.adminToken, " \n null \n", 400, "malformed", ""},
			{"string body", "PATCH", "/api/v1/me", h.adminToken, `"Ada"`, 400, "malformed", ""},
			{"number body", "PATCH", "/api/v1/me", h.adminToken, `42`, 400, "malformed", ""},
			{"boolean body", "PATCH", "/api/v1/me", h.adminToken, `true`, 400, "malformed", ""},
			{"null workspace", "PATCH", "/api/v1/workspace", h.adminToken, `null`, 400, "malformed", ""},
			{"null invite", "POST", "/api/v1/users", h.adminToken, `null`, 400, "malformed", ""},
			// A known path with a method it does not answer.
			{"wrong method", "DELETE", "/api/v1/me", h.adminToken, nil, 405, "method_not_allowed", ""},
			{"invented method", "FOOA", "/api/v1/jobs", h.adminToken, nil, 405, "method_not_allowed", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.call(tc.method, tc.path, tc.token, tc.body)
				if r.status != tc.status || r.errCode() != tc.code || r.errField() != tc.field {
					t.Fatalf("%s %s = %d %s; want %d %s field %q", tc.method, tc.path, r.status, r.body, tc.status, tc.code, tc.field)
				}
				if msg, ok := wantMessages[tc.name]; ok {
					if e, _ := r.json["error"].(map[string]any); e["message"] != msg {
						t.Errorf("%s %s: message %v, want %q", tc.method, tc.path, e["message"], msg)
					}
				}
				if r.header.Get("Content-Type") != "application/json; charset=utf-8" {
					t.Errorf("content type %q", r.header.Get("Content-Type"))
				}
			})
		}
		// Nothing was half-written by the failures above.
		if r := h.call("GET", "/api/v1/users", h.adminToken, nil); len(r.json["data"].([]any)) != 2 {
			t.Fatalf("users after bad input: %s", r.body)
		}
	})
}

// TestAPITenancy proves that another workspace's ids answer 404, and never its data (SEC1).
func TestAPITenancy(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		other, err := h.wss.Create(t.Context(), d, workspace.New{Name: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		victim, victimTok := h.userWithToken(other.ID, "ceo@globex.example", identity.RoleAdmin, "users:write", "tokens:write", "jobs:read")
		tokList := h.call("GET", "/api/v1/tokens", victimTok, nil)
		victimTokenID := tokList.json["data"].([]any)[0].(map[string]any)["id"].(string)
		for _, tc := range []struct{ method, path string }{
			{"GET", "/api/v1/users/" + victim.ID},
			{"PATCH", "/api/v1/users/" + victim.ID},
			{"POST", "/api/v1/users/" + victim.ID + "/deactivate"},
			{"POST", "/api/v1/users/" + victim.ID + "/resend-invite"},
			{"GET", "/api/v1/users/" + victim.ID + "/photo"},
			{"DELETE", "/api/v1/tokens/" + victimTokenID},
		} {
			var body any
			if tc.method == "PATCH" {
				body = map[string]any{"first_name": "pwned"}
			}
			r := h.call(tc.method, tc.path, h.adminToken, body)
			if r.status != http.StatusNotFound || strings.Contains(string(r.body), "globex") {
				t.Errorf("%s %s from another workspace = %d %s, want 404", tc.method, tc.path, r.status, r.body)
			}
		}
		if r := h.call("GET", "/api/v1/me", victimTok, nil); r.status != 200 {
			t.Fatalf("victim token revoked by another workspace: %d", r.status)
		}
		r := h.call("GET", "/api/v1/users", h.adminToken, nil)
		if strings.Contains(string(r.body), "globex") {
			t.Fatal("user list leaks another workspace")
		}
	})
}

func TestAPIUsersLifecycle(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		r := h.call("POST", "/api/v1/users", h.adminToken, map[string]any{"email": "New@Acme.example", "role": "meetings_only", "first_name": "Nia", "time_zone": "Asia/Kathmandu"})
		if r.status != 201 || r.json["email"] != "new@acme.example" || r.json["status"] != "invited" || r.json["time_zone"] != "Asia/Kathmandu" {
			t.Fatalf("invite: %d %s", r.status, r.body)
		}
		id := r.json["id"].(string)
		for _, k := range []string{"id", "email", "role", "first_name", "last_name", "time_zone", "active"} {
			if _, ok := r.json[k]; !ok {
				t.Errorf("user object lacks %q", k)
			}
		}
		if m := h.mail.last(); len(m.To) != 1 || m.To[0] != "new@acme.example" || !strings.Contains(m.Text, "/activate/inv_") {
			t.Fatalf("invitation email: %+v", m)
		}
		if r := h.call("POST", "/api/v1/users/"+id+"/resend-invite", h.adminToken, nil); r.status != 204 {
			t.Fatalf("resend: %d %s", r.status, r.body)
		}
		if r := h.call("PATCH", "/api/v1/users/"+id, h.adminToken, map[string]any{"role": "rep", "job_title": "AE"}); r.status != 200 || r.json["role"] != "rep" {
			t.Fatalf("update: %d %s", r.status, r.body)
		}
		if r := h.call("POST", "/api/v1/users/"+id+"/deactivate", h.adminToken, nil); r.status != 200 || r.json["active"] != false {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
		if r := h.call("POST", "/api/v1/users/"+id+"/resend-invite", h.adminToken, nil); r.status != 409 {
			t.Fatalf("resend to deactivated: %d %s", r.status, r.body)
		}
		if r := h.call("POST", "/api/v1/users/"+id+"/reactivate", h.adminToken, nil); r.status != 200 || r.json["active"] != true {
			t.Fatalf("reactivate: %d %s", r.status, r.body)
		}
	})
}

func TestAPITokensAndDeactivation(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		rep, repTok := h.userWithToken(h.ws.ID, "rep@acme.example", identity.RoleRep, "tokens:write", "users:read")
		r := h.call("POST", "/api/v1/tokens", repTok, map[string]any{"name": "laptop", "scopes": []string{"users:read"}})
		if r.status != 201 || !strings.HasPrefix(r.json["secret"].(string), "bkt_") {
			t.Fatalf("create token: %d %s", r.status, r.body)
		}
		secret := r.json["secret"].(string)
		if r := h.call("GET", "/api/v1/users", secret, nil); r.status != 200 {
			t.Fatalf("new token: %d", r.status)
		}
		if r := h.call("GET", "/api/v1/tokens", h.adminToken, nil); strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), "token_hash") {
			t.Fatal("token list shows a secret")
		}
		// Deactivation ends every token at once.
		if r := h.call("POST", "/api/v1/users/"+rep.ID+"/deactivate", h.adminToken, nil); r.status != 200 {
			t.Fatalf("deactivate: %d", r.status)
		}
		for _, tok := range []string{repTok, secret} {
			if r := h.call("GET", "/api/v1/me", tok, nil); r.status != 401 {
				t.Fatalf("token of deactivated user: %d", r.status)
			}
		}
		// Revocation.
		r = h.call("POST", "/api/v1/tokens", h.adminToken, map[string]any{"name": "temp", "scopes": []string{"workspace:read"}})
		tokID, tok := r.json["token"].(map[string]any)["id"].(string), r.json["secret"].(string)
		if r := h.call("DELETE", "/api/v1/tokens/"+tokID, h.adminToken, nil); r.status != 204 {
			t.Fatalf("revoke: %d", r.status)
		}
		if r := h.call("GET", "/api/v1/workspace", tok, nil); r.status != 401 {
			t.Fatalf("revoked token: %d", r.status)
		}
	})
}

func TestAPIWorkspaceAndPhoto(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		r := h.call("PATCH", "/api/v1/workspace", h.adminToken, map[string]any{"name": "Acme Inc", "allowed_origins": []string{"https://www.acme.example", "https://*.acme.example"}})
		if r.status != 200 || r.json["name"] != "Acme Inc" || len(r.json["allowed_origins"].([]any)) != 2 || r.json["site_id"] != h.ws.SiteID {
			t.Fatalf("workspace: %d %s", r.status, r.body)
		}
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		var b bytes.Buffer
		png.Encode(&b, img)
		if r := h.call("PUT", "/api/v1/users/"+h.admin.ID+"/photo", h.adminToken, b.Bytes()); r.status != 204 {
			t.Fatalf("photo: %d %s", r.status, r.body)
		}
		r = h.call("GET", "/api/v1/users/"+h.admin.ID+"/photo", h.adminToken, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "image/png" || !bytes.Equal(r.body, b.Bytes()) || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("get photo: %d %v", r.status, r.header)
		}
	})
}

func TestOperationalEndpoints(t *testing.T) {
	h := newHarness(t, testkit.SQLite(t))
	r := h.call("GET", "/healthz", "", nil)
	if r.status != 200 || r.json["tzdata"] == "" || r.json["go"] == "" || r.json["version"] == "" {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	if r := h.call("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	h.call("GET", "/api/v1/me", h.adminToken, nil)
	r = h.call("GET", "/metrics", "", nil)
	for _, want := range []string{"beckon_http_request_duration_seconds_bucket", `route="GET /api/v1/me"`, "beckon_jobs{state=\"queued\"}", "beckon_build_info", "go_goroutines"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Security headers on API answers.
	r = h.call("GET", "/api/v1/me", h.adminToken, nil)
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Content-Security-Policy": apiCSP, "Cache-Control": "no-store"} {
		if r.header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, r.header.Get(k), v)
		}
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	// A failing dependency makes /readyz answer 503 naming it, while /healthz stays 200.
	h.s.checks = append(h.s.checks, Check{Name: "bus", Ping: func(context.Context) error { return errors.New("down") }})
	r = h.call("GET", "/readyz", "", nil)
	if checks, _ := r.json["checks"].(map[string]any); r.status != 503 || checks["bus"] != "unavailable" || checks["database"] != "ok" {
		t.Fatalf("readyz with bus down: %d %s", r.status, r.body)
	}
	if r := h.call("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz with bus down: %d", r.status)
	}
}

// TestMethodNotAllowed proves that a known path asked with a method it does not answer gets 405
// with an Allow header, as JSON under /api and as a console page elsewhere, while an unknown path
// still gets 404.
func TestMethodNotAllowed(t *testing.T) {
	h := newHarness(t, testkit.SQLite(t))
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
		json         bool
	}{
		{"DELETE", "/api/v1/me", 405, "GET, HEAD, PATCH", true},
		{"OPTIONS", "/api/v1/me", 405, "GET, HEAD, PATCH", true},
		{"FOOA", "/api/v1/me", 405, "GET, HEAD, PATCH", true},
		{"GET", "/api/v1/jobs/job_aaaaaaaaaaaaaaaaaaaaaaaaaa/retry", 405, "POST", true},
		{"PUT", "/api/v1/users/usr_x", 405, "GET, HEAD, PATCH", true},
		{"POST", "/api/v1/tokens/tok_x", 405, "DELETE", true},
		{"POST", "/metrics", 405, "GET, HEAD", true},
		{"DELETE", "/healthz", 405, "GET, HEAD", true},
		{"PUT", "/login", 405, "GET, HEAD, POST", false},
		{"DELETE", "/users/usr_x/photo", 405, "GET, HEAD", false},
		{"POST", "/", 405, "GET, HEAD", false},
		{"GET", "/api/v1/nope", 404, "", true},
		{"DELETE", "/api/v1/nope", 404, "", true},
		{"GET", "/nope", 404, "", false},
		{"GET", "/api/v1/me", 200, "", true},
	} {
		r := h.call(tc.method, tc.path, h.adminToken, nil)
		if r.status != tc.status || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d Allow %q; want %d Allow %q (%s)", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.status, tc.allow, r.body)
			continue
		}
		ct := r.header.Get("Content-Type")
		if tc.json && (ct != "application/json; charset=utf-8" || (tc.status == 405 && r.errCode() != "method_not_allowed")) {
			t.Errorf("%s %s: %s %s, want a JSON method_not_allowed error", tc.method, tc.path, ct, r.body)
		}
		if !tc.json && !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s %s: content type %q, want the console's error page", tc.method, tc.path, ct)
		}
	}
}

// syncBuffer is a log destination that server goroutines and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// withServer returns a copy of h whose requests go to another server on h's database and
// services, built with the given log and metrics token.
func (h *harness) withServer(log *slog.Logger, metricsToken string) *harness {
	h.t.Helper()
	q := jobs.New(h.d, h.clk, log, jobs.Options{})
	s := New(Deps{Log: log, Identity: h.id, Workspaces: h.wss, Jobs: q, Metrics: NewMetrics(q),
		Checks: []Check{{Name: "database", Ping: h.d.Ping}}, MaxBody: 64 << 10, MetricsToken: metricsToken})
	srv := httptest.NewServer(s)
	h.t.Cleanup(srv.Close)
	h2 := *h
	h2.s, h2.srv = s, srv
	return &h2
}

// TestMetricsMethodLabel proves that invented methods do not add metric series or log values:
// they are all "other".
func TestMetricsMethodLabel(t *testing.T) {
	h := newHarness(t, testkit.SQLite(t))
	logs := &syncBuffer{}
	h = h.withServer(slog.New(slog.NewJSONHandler(logs, nil)), "")
	for _, m := range []string{"FOOA", "FOOB", "FOOC"} {
		h.call(m, "/api/v1/me", h.adminToken, nil)
		h.call(m, "/no/such/page", "", nil)
	}
	h.call("PATCH", "/api/v1/me", h.adminToken, map[string]any{"first_name": "Ada"})
	r := h.call("GET", "/metrics", "", nil)
	if r.status != 200 {
		t.Fatalf("/metrics: %d %s", r.status, r.body)
	}
	body := string(r.body)
	if strings.Contains(body, "FOO") {
		t.Errorf("/metrics has a series per invented method:\n%s", grepLines(body, "FOO"))
	}
	for _, want := range []string{`method="other"`, `method="PATCH"`, `route="PATCH /api/v1/me"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if l := logs.String(); strings.Contains(l, "FOO") || !strings.Contains(l, `"method":"other"`) {
		t.Errorf("access log names invented methods:\n%s", grepLines(l, "FOO"))
	}
	for m, want := range map[string]string{"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH",
		"DELETE": "DELETE", "OPTIONS": "OPTIONS", "CONNECT": "other", "TRACE": "other", "get": "other", "PROPFIND": "other"} {
		if got := methodLabel(m); got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", m, got, want)
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsToken proves that with a metrics token GET /metrics answers only its bearer, and
// that without one it stays public.
func TestMetricsToken(t *testing.T) {
	h := newHarness(t, testkit.SQLite(t))
	if r := h.call("GET", "/metrics", "", nil); r.status != 200 {
		t.Fatalf("/metrics without a configured token: %d", r.status)
	}
	const token = "scrape-3c9f0a5e"
	h = h.withServer(slog.New(slog.DiscardHandler), token)
	for _, tc := range []struct {
		auth   string
		status int
	}{
		{"", 401},
		{"Bearer", 401},
		{"Bearer ", 401},
		{"Bearer wrong", 401},
		{"Bearer " + token + "x", 401},
		{"Bearer " + token[:len(token)-1], 401},
		{"Basic " + token, 401},
		{"Bearer " + h.adminToken, 401}, // an API token is not the metrics token
		{"Bearer " + token, 200},
		{"bearer  " + token + " ", 200},
	} {
		req, err := http.NewRequest("GET", h.srv.URL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, resp.StatusCode, tc.status)
			continue
		}
		if tc.status == 200 && !strings.Contains(string(b), "beckon_build_info") {
			t.Errorf("Authorization %q: no metrics in %.200s", tc.auth, b)
		}
		if tc.status == 401 {
			if strings.Contains(string(b), "beckon_") || resp.Header.Get("WWW-Authenticate") == "" ||
				resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("Authorization %q: 401 %v %.200s, want a JSON error with WWW-Authenticate and no metrics", tc.auth, resp.Header, b)
			}
		}
	}
}

// TestClassifyDataException proves that a PostgreSQL data exception — the database refusing a
// value a client sent — answers 400 malformed, never 500, while other database errors stay
// internal.
func TestClassifyDataException(t *testing.T) {
	const msg = "the request holds text the database cannot store (invalid UTF-8 or a NUL byte)"
	logs := &syncBuffer{}
	s := &Server{log: slog.New(slog.NewJSONHandler(logs, nil))}
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"invalid byte sequence", fmt.Errorf("jobs.Get: %w", &pgconn.PgError{Code: "22021"}), 400, "malformed"},
		{"untranslatable character", &pgconn.PgError{Code: "22P05"}, 400, "malformed"},
		{"string too long", fmt.Errorf("a: %w", fmt.Errorf("b: %w", &pgconn.PgError{Code: "22001"})), 400, "malformed"},
		{"unique violation", fmt.Errorf("x: %w", &pgconn.PgError{Code: "23505"}), 500, "internal"},
		{"syntax error", &pgconn.PgError{Code: "42601"}, 500, "internal"},
		{"not a database error", errors.New("disk full"), 500, "internal"},
		{"a kind is kept", errs.Wrap(errs.Conflict, &pgconn.PgError{Code: "22021"}, "taken"), 409, "conflict"},
	}
	if os.Getenv(testkit.EnvPostgres) != "" {
		d := testkit.Postgres(t)
		var out string
		err := d.QueryRowContext(t.Context(), `SELECT $1::text`, "a\x00b").Scan(&out)
		if !db.IsDataException(err) {
			t.Fatalf("PostgreSQL took a NUL byte: %q, %v", out, err)
		}
		cases = append(cases, struct {
			name   string
			err    error
			status int
			code   string
		}{"from PostgreSQL", fmt.Errorf("identity.Get: %w", err), 400, "malformed"})
		err = d.QueryRowContext(t.Context(), `SELECT $1::text`, "caf\xe9").Scan(&out)
		if !db.IsDataException(err) {
			t.Fatalf("PostgreSQL took Latin-1: %q, %v", out, err)
		}
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/api/v1/jobs", nil)
		status, body := s.classify(r, tc.err)
		if status != tc.status || body.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body.Code, tc.status, tc.code)
		}
		if tc.code == "malformed" && body.Message != msg {
			t.Errorf("%s: message %q", tc.name, body.Message)
		}
	}
	if db.IsDataException(nil) || db.IsDataException(errors.New("22021")) {
		t.Error("IsDataException of a non-PostgreSQL error")
	}
}

// TestInternalErrorLogsRoute proves that an internal error is logged with the route pattern, never
// the path, which may hold a secret such as an activation token.
func TestInternalErrorLogsRoute(t *testing.T) {
	logs := &syncBuffer{}
	s := &Server{log: slog.New(slog.NewJSONHandler(logs, nil))}
	const secret = "inv_2v6dlxq3ysnb5kqzbdb5pq2z2ke7f4rmsayzbcl6ivwfhr3g3rba"
	r := httptest.NewRequest("POST", "/activate/"+secret, nil)
	r.Pattern = "POST /activate/{token}"
	if status, _ := s.classify(r, errors.New("database is down")); status != 500 {
		t.Fatalf("status %d, want 500", status)
	}
	l := logs.String()
	if strings.Contains(l, secret) {
		t.Errorf("the log holds the secret path: %s", l)
	}
	for _, want := range []string{`"route":"POST /activate/{token}"`, `"method":"POST"`, "database is down"} {
		if !strings.Contains(l, want) {
			t.Errorf("the log lacks %s: %s", want, l)
		}
	}
}
