package web

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

func TestAPIBadInput(t *testing.T) {
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
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.call(tc.method, tc.path, tc.token, tc.body)
				if r.status != tc.status || r.errCode() != tc.code || r.errField() != tc.field {
					t.Fatalf("%s %s = %d %s; want %d %s field %q", tc.method, tc.path, r.status, r.body, tc.status, tc.code, tc.field)
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
		rep, repTok := h.userWithToken(h.ws.ID, "rep@acme.example", identity.RoleRep, "tokens:write")
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
