package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/routing"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// Tests of the routing API (docs/ROUTING.md, docs/API.md "Routing") through the real HTTP
// server with a real routing service over the harness's database. Every answer goes through
// convFixture.api, which also holds it to openapi.json.

// wireRouting gives h's server a routing service over h's database, wired as the app wires it:
// the workspace's fields and users, the reps' presence and open conversations, the visitor's
// fields. It rebuilds the server, so call it before any request that should be routed. A server
// that has a routing service already keeps it.
func wireRouting(t testing.TB, h *harness) *routing.Service {
	t.Helper()
	if h.s.deps.Routing != nil {
		return h.s.deps.Routing
	}
	var srv *Server // set below, before any request; decisions call its RoutingOffer
	rt := routing.New(routing.Options{DB: h.d, Clock: h.clk, Jobs: h.s.jobs,
		Log: slog.New(slog.NewTextHandler(testLogOut(), nil)),
		Env: func(ctx context.Context, wsID string) (routing.Env, error) {
			defs, err := h.fields.List(ctx, wsID)
			if err != nil {
				return routing.Env{}, err
			}
			users, err := h.id.ListUsers(ctx, wsID)
			if err != nil {
				return routing.Env{}, err
			}
			env := routing.Env{Users: map[string]routing.UserInfo{}}
			for _, d := range defs {
				env.Fields = append(env.Fields, routing.FieldDef{Key: d.Key, Label: d.Label, Type: string(d.Type), Options: d.Options})
			}
			for _, u := range users {
				env.Users[u.ID] = routing.UserInfo{Name: u.Name(), Role: string(u.Role), Active: u.Active}
			}
			return env, nil
		},
		Reps: func(ctx context.Context, wsID string) (map[string]routing.RepState, error) {
			users, err := h.id.ListUsers(ctx, wsID)
			if err != nil {
				return nil, err
			}
			states, err := h.presence.List(ctx, wsID)
			if err != nil {
				return nil, err
			}
			loads, err := h.chat.Loads(ctx, wsID)
			if err != nil {
				return nil, err
			}
			out := map[string]routing.RepState{}
			for _, u := range users {
				out[u.ID] = routing.RepState{Name: u.Name(), Status: routing.StatusOffline, Load: loads[u.ID], Active: u.Active, Role: string(u.Role)}
			}
			for _, st := range states {
				if r, ok := out[st.UserID]; ok {
					r.Status = st.Status
					out[st.UserID] = r
				}
			}
			return out, nil
		},
		Visitor: func(ctx context.Context, wsID, visitorID string) (*routing.Visitor, string, error) {
			vals, err := h.fields.EffectiveValues(ctx, wsID, []string{visitorID})
			if err != nil {
				return nil, "", err
			}
			return &routing.Visitor{Fields: vals[visitorID]}, "", nil
		},
		Waiting: func(ctx context.Context, wsID, convID string) (bool, error) {
			c, err := h.chat.Get(ctx, wsID, convID)
			if errs.Is(err, errs.NotFound) {
				return false, nil
			}
			return err == nil && c.Status == chat.StatusOpen && !c.WaitingSince.IsZero(), err
		},
		OnOffer: func(ctx context.Context, o routing.Offer) { srv.RoutingOffer(ctx, o) },
	})
	deps := h.s.deps
	deps.Routing = rt
	srv = New(deps)
	h.s = srv
	h.srv.Config.Handler = srv
	return rt
}

// routedConversation opens a conversation as a visitor does, with a first message through the
// messenger (POST /m/v1/messages), which routes it; it allows the site's origin first. It
// returns the conversation's id.
func routedConversation(t testing.TB, h *harness, text string) string {
	t.Helper()
	origins := []string{siteOrigin}
	if _, err := h.wss.Update(context.Background(), h.ws.ID, workspace.Patch{AllowedOrigins: &origins}); err != nil {
		t.Fatal(err)
	}
	vid := h.newVisitor(h.ws.ID, siteOrigin+"/pricing", "Pricing").VisitorID
	r := h.m("POST", "/m/v1/messages", h.tokens.Issue(h.ws.SiteID, vid, time.Now()), map[string]string{"text": text}, siteOrigin)
	conv, _ := r.json["conversation_id"].(string)
	if r.status != 201 || conv == "" {
		t.Fatalf("visitor message: %d %s", r.status, r.body)
	}
	return conv
}

// contractRoutingConfig is a configuration that uses every part of the schema: a territory, a
// team, a pool with a fallback and one without, a rule with a condition, a disabled rule.
func contractRoutingConfig(userID string) map[string]any {
	return map[string]any{
		"territories": []any{map[string]any{"name": "EMEA", "countries": []string{"de", "FR"}}},
		"teams":       []any{map[string]any{"id": "all", "name": "Everyone", "members": []string{userID}}},
		"pools": []any{
			map[string]any{"id": "emea", "name": "EMEA sales", "members": []any{map[string]any{"user_id": userID, "weight": 2}},
				"fallback": map[string]any{"kind": "team", "team": "all"}},
			map[string]any{"id": "rest", "strategy": "least_busy", "members": []any{map[string]any{"user_id": userID}}},
		},
		"rules": []any{
			map[string]any{"id": "emea", "name": "EMEA", "then": map[string]any{"kind": "pool", "pool": "emea"},
				"when": map[string]any{"all": []any{
					map[string]any{"subject": "geo.territory", "op": "in", "value": []string{"emea"}},
					map[string]any{"not": map[string]any{"subject": "session.page_url", "op": "matches", "value": "*/careers*"}},
				}}},
			map[string]any{"id": "off", "disabled": true, "then": map[string]any{"kind": "capture"}},
		},
		"default":      map[string]any{"kind": "pool", "pool": "rest", "fallback": map[string]any{"kind": "booker"}},
		"ring_seconds": 45,
	}
}

// at walks a decoded JSON value by object keys and list indexes; nil when a step is missing.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k < 0 || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// strs returns a decoded JSON list of strings.
func strs(v any) []string {
	out := []string{}
	l, _ := v.([]any)
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// available makes reps available, as an open console does, until the test ends.
func (f *convFixture) available(users ...*identity.User) {
	f.t.Helper()
	for _, u := range users {
		release, err := f.presence.Connect(context.Background(), f.ws.ID, u.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(release)
	}
}

// routingFixture is a convFixture whose server routes, with a token holding only routing:read.
func routingFixture(t *testing.T, d *db.DB) (*convFixture, string) {
	f := newConvFixture(t, d)
	wireRouting(t, f.harness)
	_, readTok := f.user("rory@acme.example", "Rory", identity.RoleAdmin, "routing:read")
	return f, readTok
}

// emeaConfig routes visitors of the EMEA territory to a round-robin pool of rep1 and rep2, which
// falls back to the team of all three reps; everyone else goes to the pool too.
func (f *convFixture) emeaConfig() map[string]any {
	return map[string]any{
		"territories": []any{map[string]any{"name": "EMEA", "countries": []string{"de", "FR"}}},
		"teams":       []any{map[string]any{"id": "all", "members": []string{f.rep1.ID, f.rep2.ID, f.rep3.ID}}},
		"pools": []any{map[string]any{"id": "emea", "name": "EMEA sales",
			"members":  []any{map[string]any{"user_id": f.rep1.ID}, map[string]any{"user_id": f.rep2.ID}},
			"fallback": map[string]any{"kind": "team", "team": "all"}}},
		"rules": []any{map[string]any{"id": "emea", "name": "EMEA",
			"when": map[string]any{"subject": "geo.territory", "op": "in", "value": []string{"emea"}},
			"then": map[string]any{"kind": "pool", "pool": "emea"}}},
		"default": map[string]any{"kind": "pool", "pool": "emea"},
	}
}

const routingBase = "/api/v1/routing"

func TestAPIRoutingAccess(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f, readTok := routingFixture(t, d)
		conv := routedConversation(t, f.harness, "Hello")
		_, noRouting := f.user("nora@acme.example", "Nora", identity.RoleAdmin, "users:read", "conversations:read")
		demoted, demotedTok := f.user("dora@acme.example", "Dora", identity.RoleAdmin, "routing:read", "routing:write")
		if r := f.api("PATCH", "/api/v1/users/"+demoted.ID, f.adminToken, map[string]string{"role": "rep"}); r.status != 200 {
			t.Fatalf("demote: %d %s", r.status, r.body)
		}
		sim := map[string]any{"visitor": map[string]any{"country": "DE"}}
		f.run([]convStep{
			{name: "no token", method: "GET", path: routingBase + "/config", status: 401, code: "unauthenticated"},
			{name: "rep", method: "GET", path: routingBase + "/config", token: f.rep1Tok, status: 403, code: "forbidden"},
			{name: "rep simulates", method: "POST", path: routingBase + "/simulate", token: f.rep1Tok, body: sim, status: 403, code: "forbidden"},
			{name: "rep reports", method: "GET", path: routingBase + "/report", token: f.rep1Tok, status: 403, code: "forbidden"},
			{name: "meetings-only", method: "GET", path: routingBase + "/versions", token: f.meetTok, status: 403, code: "forbidden"},
			{name: "admin token without routing:read", method: "GET", path: routingBase + "/config", token: noRouting, status: 403, code: "forbidden"},
			{name: "admin token without routing:read subjects", method: "GET", path: routingBase + "/subjects", token: noRouting, status: 403, code: "forbidden"},
			{name: "token of an admin demoted to rep", method: "GET", path: routingBase + "/config", token: demotedTok, status: 403, code: "forbidden"},
			{name: "demoted admin saves", method: "PUT", path: routingBase + "/config", token: demotedTok, body: map[string]any{}, status: 403, code: "forbidden"},
			{name: "routing:read reads", method: "GET", path: routingBase + "/config", token: readTok, status: 200},
			{name: "routing:read simulates", method: "POST", path: routingBase + "/simulate", token: readTok, body: sim, status: 200},
			{name: "routing:read replays", method: "POST", path: routingBase + "/replay", token: readTok, body: map[string]any{}, status: 200},
			{name: "routing:read saves", method: "PUT", path: routingBase + "/config", token: readTok, body: map[string]any{}, status: 403, code: "forbidden"},
			{name: "routing:read publishes", method: "POST", path: routingBase + "/publish", token: readTok, status: 403, code: "forbidden"},
			{name: "routing:read explains a conversation", method: "GET", path: "/api/v1/conversations/" + conv + "/routing", token: readTok, status: 403, code: "forbidden"},
			{name: "rep explains a conversation", method: "GET", path: "/api/v1/conversations/" + conv + "/routing", token: f.convReadTok, status: 200},
		})

		// A server built without routing answers 503 on every routing route.
		plain := newConvFixture(t, testkit.SQLite(t))
		deps := plain.s.deps
		deps.Routing = nil
		plain.s = New(deps)
		plain.srv.Config.Handler = plain.s
		for _, c := range []struct{ method, path string }{
			{"GET", routingBase + "/config"}, {"PUT", routingBase + "/config"}, {"POST", routingBase + "/publish"},
			{"GET", routingBase + "/versions"}, {"GET", routingBase + "/versions/1"}, {"GET", routingBase + "/subjects"},
			{"POST", routingBase + "/simulate"}, {"POST", routingBase + "/replay"}, {"GET", routingBase + "/report"},
			{"GET", "/api/v1/conversations/" + conv + "/routing"},
		} {
			var body any
			if c.method != "GET" {
				body = map[string]any{}
			}
			if r := plain.api(c.method, c.path, plain.adminToken, body); r.status != 503 || r.errCode() != "unavailable" {
				t.Errorf("without routing: %s %s = %d %s, want 503", c.method, c.path, r.status, r.body)
			}
		}
	})
}

func TestAPIRoutingConfigSaveAndPublish(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f, _ := routingFixture(t, d)
		empty := f.api("GET", routingBase+"/config", f.adminToken, nil)
		if empty.status != 200 || empty.json["published_version"] != 0.0 || empty.json["unpublished"] != false ||
			empty.json["updated_by"] != nil || at(empty.json, "config", "default", "kind") != "capture" ||
			at(empty.json, "config", "ring_seconds") != 30.0 || len(at(empty.json, "config", "pools").([]any)) != 0 {
			t.Fatalf("the first draft: %d %s", empty.status, empty.body)
		}

		// Configurations that do not pass: nothing is saved, and the error names the JSON path.
		with := func(change func(c map[string]any)) map[string]any {
			c := f.emeaConfig()
			change(c)
			return c
		}
		pool := func(c map[string]any) map[string]any { return at(c, "pools", 0).(map[string]any) }
		// Two pools whose fallbacks go round in a circle.
		cycle := with(func(c map[string]any) {
			pool(c)["fallback"] = map[string]any{"kind": "pool", "pool": "b"}
			c["pools"] = append(c["pools"].([]any), map[string]any{"id": "b", "members": []any{map[string]any{"user_id": f.rep3.ID}},
				"fallback": map[string]any{"kind": "pool", "pool": "emea"}})
		})
		huge := `{"rules": [], "x": "` + strings.Repeat("a", routing.MaxConfigSize) + `"}`
		for _, c := range []struct {
			name   string
			body   any
			hdr    map[string]string
			status int
			code   string
			field  string
		}{
			{"unknown member", with(func(c map[string]any) { pool(c)["members"] = []any{map[string]any{"user_id": "usr_nobody"}} }), nil, 422, "invalid", "pools[0].members[0].user_id"},
			{"meetings-only team member", with(func(c map[string]any) { at(c, "teams", 0).(map[string]any)["members"] = []string{f.meet.ID} }), nil, 422, "invalid", "teams[0].members[0]"},
			{"bad country in a condition", with(func(c map[string]any) {
				at(c, "rules", 0).(map[string]any)["when"] = map[string]any{"all": []any{map[string]any{"subject": "geo.country", "op": "eq", "value": "DEU"}}}
			}), nil, 422, "invalid", "rules[0].when.all[0].value"},
			{"condition that can never match", with(func(c map[string]any) {
				at(c, "rules", 0).(map[string]any)["when"] = map[string]any{"all": []any{
					map[string]any{"subject": "geo.country", "op": "eq", "value": "US"},
					map[string]any{"subject": "geo.country", "op": "eq", "value": "DE"}}}
			}), nil, 422, "invalid", "rules[0].when"},
			{"unknown key", with(func(c map[string]any) { pool(c)["colour"] = "red" }), nil, 422, "invalid", "pools[0].colour"},
			{"repeated key", `{"max_chats": 2, "max_chats": 3}`, nil, 422, "invalid", "max_chats"},
			{"wrong type", with(func(c map[string]any) { c["ring_seconds"] = "30" }), nil, 422, "invalid", "ring_seconds"},
			{"ring too short", with(func(c map[string]any) { c["ring_seconds"] = 5 }), nil, 422, "invalid", "ring_seconds"},
			{"weight in a broadcast pool", with(func(c map[string]any) {
				pool(c)["strategy"] = "broadcast"
				pool(c)["members"] = []any{map[string]any{"user_id": f.rep1.ID, "weight": 3}}
			}), nil, 422, "invalid", "pools[0].members[0].weight"},
			{"unknown pool", with(func(c map[string]any) { c["default"] = map[string]any{"kind": "pool", "pool": "nope"} }), nil, 422, "invalid", "default.pool"},
			{"fallback cycle", cycle, nil, 422, "invalid", "pools[0].fallback"},
			{"malformed JSON", `{"pools": [`, nil, 400, "malformed", "pools"},
			{"not an object", `[]`, nil, 400, "malformed", ""},
			{"empty body", ``, nil, 400, "malformed", ""},
			{"octet-stream", []byte(`{}`), nil, 400, "malformed", ""},
			{"text/plain", `{}`, map[string]string{"Content-Type": "text/plain"}, 400, "malformed", ""},
			{"over 4 MiB", huge, nil, 413, "too_large", ""},
		} {
			r := f.apiWith("PUT", routingBase+"/config", f.adminToken, c.body, c.hdr)
			if r.status != c.status || r.errCode() != c.code || r.errField() != c.field {
				t.Errorf("%s: %d %s %q, want %d %s %q (%.300s)", c.name, r.status, r.errCode(), r.errField(), c.status, c.code, c.field, r.body)
			}
		}
		f.run([]convStep{{name: "nothing was saved", method: "GET", path: routingBase + "/config", token: f.adminToken, status: 200,
			check: func(r response) string {
				if r.json["updated_by"] != nil || r.json["unpublished"] != false || !reflect.DeepEqual(r.json["config"], empty.json["config"]) {
					return "a refused configuration changed the draft"
				}
				return ""
			}}})

		// A good one is saved normalised.
		saved := f.api("PUT", routingBase+"/config", f.adminToken, f.emeaConfig())
		if saved.status != 200 {
			t.Fatalf("save: %d %s", saved.status, saved.body)
		}
		cfg := saved.json["config"]
		for _, c := range []struct {
			path []any
			want any
		}{
			{[]any{"territories", 0, "countries"}, []any{"DE", "FR"}},
			{[]any{"teams", 0, "name"}, "all"},
			{[]any{"pools", 0, "strategy"}, "round_robin"},
			{[]any{"pools", 0, "members", 1, "weight"}, 1.0},
			{[]any{"pools", 0, "max_chats"}, 0.0},
			{[]any{"rules", 0, "when"}, map[string]any{"subject": "geo.territory", "op": "in", "value": []any{"EMEA"}}},
			{[]any{"rules", 0, "disabled"}, false},
			{[]any{"ring_seconds"}, 30.0},
			{[]any{"max_chats"}, 3.0},
			{[]any{"owner_takes_turn"}, false},
		} {
			if got := at(cfg, c.path...); !reflect.DeepEqual(got, c.want) {
				t.Errorf("saved config %v = %#v, want %#v", c.path, got, c.want)
			}
		}
		if saved.json["updated_by"] != f.admin.ID || saved.json["unpublished"] != true || saved.json["published_version"] != 0.0 {
			t.Errorf("saved draft: %s", saved.body)
		}

		v1 := f.api("POST", routingBase+"/publish", f.adminToken, nil)
		f.run([]convStep{
			{name: "publish again", method: "POST", path: routingBase + "/publish", token: f.adminToken, status: 409, code: "conflict"},
			{name: "the draft is in force", method: "GET", path: routingBase + "/config", token: f.adminToken, status: 200, check: func(r response) string {
				if r.json["published_version"] != 1.0 || r.json["unpublished"] != false {
					return "want version 1 in force and nothing unpublished"
				}
				return ""
			}},
		})
		if v1.status != 201 || v1.json["version"] != 1.0 || v1.json["published_by"] != f.admin.ID || !reflect.DeepEqual(v1.json["config"], cfg) {
			t.Fatalf("publish: %d %s", v1.status, v1.body)
		}

		// A second version; the list is newest first, without configurations.
		second := f.emeaConfig()
		second["max_chats"] = 5
		if r := f.api("PUT", routingBase+"/config", f.adminToken, second); r.status != 200 || r.json["unpublished"] != true {
			t.Fatalf("save v2: %d %s", r.status, r.body)
		}
		if r := f.api("POST", routingBase+"/publish", f.adminToken, nil); r.status != 201 || r.json["version"] != 2.0 {
			t.Fatalf("publish v2: %d %s", r.status, r.body)
		}
		_, otherTok := otherWorkspace(t, f.harness)
		f.run([]convStep{
			{name: "versions", method: "GET", path: routingBase + "/versions", token: f.adminToken, status: 200, check: func(r response) string {
				vs, _ := r.json["versions"].([]any)
				if len(vs) != 2 || at(vs, 0, "version") != 2.0 || at(vs, 1, "version") != 1.0 || at(vs, 0, "config") != nil {
					return "want versions 2 and 1, newest first, without config"
				}
				return ""
			}},
			{name: "version 1", method: "GET", path: routingBase + "/versions/1", token: f.adminToken, status: 200, check: func(r response) string {
				if !reflect.DeepEqual(r.json["config"], cfg) || r.json["version"] != 1.0 {
					return "version 1 is not the configuration published first"
				}
				return ""
			}},
			{name: "version 3", method: "GET", path: routingBase + "/versions/3", token: f.adminToken, status: 404, code: "not_found"},
			{name: "version 0", method: "GET", path: routingBase + "/versions/0", token: f.adminToken, status: 404, code: "not_found"},
			{name: "version abc", method: "GET", path: routingBase + "/versions/abc", token: f.adminToken, status: 404, code: "not_found"},
			{name: "version of another workspace", method: "GET", path: routingBase + "/versions/1", token: otherTok, status: 404, code: "not_found"},
			{name: "versions of another workspace", method: "GET", path: routingBase + "/versions", token: otherTok, status: 200, check: func(r response) string {
				if vs, _ := r.json["versions"].([]any); len(vs) != 0 {
					return "another workspace sees our versions"
				}
				return ""
			}},
			{name: "draft of another workspace", method: "GET", path: routingBase + "/config", token: otherTok, status: 200, check: func(r response) string {
				if r.json["published_version"] != 0.0 || r.json["updated_by"] != nil {
					return "another workspace sees our draft"
				}
				return ""
			}},
		})

		// A draft whose member was deactivated since it was saved no longer publishes; the first
		// place that names them is the team.
		third := f.emeaConfig()
		pool(third)["members"] = append(pool(third)["members"].([]any), map[string]any{"user_id": f.rep3.ID})
		if r := f.api("PUT", routingBase+"/config", f.adminToken, third); r.status != 200 {
			t.Fatalf("save v3: %d %s", r.status, r.body)
		}
		if r := f.api("POST", "/api/v1/users/"+f.rep3.ID+"/deactivate", f.adminToken, nil); r.status != 200 {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
		f.run([]convStep{
			{name: "publish a broken draft", method: "POST", path: routingBase + "/publish", token: f.adminToken, status: 422, code: "invalid", field: "teams[0].members[2]"},
			{name: "still version 2", method: "GET", path: routingBase + "/versions", token: f.adminToken, status: 200, check: func(r response) string {
				if vs, _ := r.json["versions"].([]any); len(vs) != 2 {
					return "a refused publish made a version"
				}
				return ""
			}},
		})
	})
}

func TestAPIRoutingSubjects(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f, readTok := routingFixture(t, d)
		if r := f.api("PUT", routingBase+"/config", f.adminToken, f.emeaConfig()); r.status != 200 {
			t.Fatalf("save: %d %s", r.status, r.body)
		}
		r := f.api("GET", routingBase+"/subjects", readTok, nil)
		if r.status != 200 {
			t.Fatalf("subjects: %d %s", r.status, r.body)
		}
		byName := map[string]map[string]any{}
		for _, s := range r.json["subjects"].([]any) {
			m := s.(map[string]any)
			byName[m["name"].(string)] = m
		}
		for _, c := range []struct {
			name, kind string
			options    []string
			op         string // one operator it must offer
		}{
			{"field.email", "text", nil, "contains"},
			{"session.page_url", "url", nil, "matches"},
			{"geo.territory", "territory", []string{"EMEA"}, "not_in"},
			{"geo.region", "picklist", []string{"AMER", "EMEA", "APAC"}, "in"},
			{"company.size", "number", nil, "between"},
			{"account.target", "bool", nil, "is"},
			{"visitor.previous_rep", "user", nil, "eq"},
		} {
			s := byName[c.name]
			if s == nil {
				t.Errorf("%s is not among the subjects", c.name)
				continue
			}
			var ops []string
			for _, o := range s["ops"].([]any) {
				ops = append(ops, o.(map[string]any)["name"].(string))
			}
			if s["kind"] != c.kind || !slices.Contains(ops, c.op) {
				t.Errorf("%s: kind %v ops %v, want %s with %s", c.name, s["kind"], ops, c.kind, c.op)
			}
			if c.options != nil && !slices.Equal(strs(s["options"]), c.options) {
				t.Errorf("%s: options %v, want %v", c.name, s["options"], c.options)
			}
		}
	})
}

func TestAPIRoutingSimulate(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f, readTok := routingFixture(t, d)
		if r := f.api("PUT", routingBase+"/config", f.adminToken, f.emeaConfig()); r.status != 200 {
			t.Fatalf("save: %d %s", r.status, r.body)
		}
		first := min(f.rep1.ID, f.rep2.ID) // an empty ledger: ties go to the smaller user id
		on := map[string]any{"status": "available"}
		away := map[string]any{"status": "away"}
		emea := map[string]any{"draft": true, "visitor": map[string]any{"country": "DE", "session": map[string]any{"page_url": siteOrigin + "/pricing"}},
			"reps": map[string]any{f.rep1.ID: on, f.rep2.ID: on}}

		check := func(r response) []string {
			var bad []string
			want := func(what string, got, w any) {
				if !reflect.DeepEqual(got, w) {
					bad = append(bad, fmt.Sprintf("%s = %#v, want %#v", what, got, w))
				}
			}
			dec := r.json["decision"]
			want("config", r.json["config"], "draft")
			want("outcome", at(dec, "outcome"), "offer")
			want("rule_id", at(dec, "rule_id"), "emea")
			want("strategy", at(dec, "strategy"), "round_robin")
			want("pool_id", at(dec, "pool_id"), "emea")
			want("offer", strs(at(dec, "offer")), []string{first})
			want("turns[0].user_id", at(dec, "turns", 0, "user_id"), first)
			want("trace.chosen", strs(at(dec, "trace", "chosen")), []string{first})
			want("trace.rules[0].matched", at(dec, "trace", "rules", 0, "matched"), true)
			want("trace.rules[0].steps[0].fact", at(dec, "trace", "rules", 0, "steps", 0, "fact"), "geo.country")
			want("trace.rules[0].steps[0].got", at(dec, "trace", "rules", 0, "steps", 0, "got"), "DE")
			want("trace.rules[0].steps[0].held", at(dec, "trace", "rules", 0, "steps", 0, "held"), true)
			want("trace.targets[0].result", at(dec, "trace", "targets", 0, "result"), "placed")
			want("trace.targets[0].candidates", len(at(dec, "trace", "targets", 0, "candidates").([]any)), 2)
			if s, _ := at(dec, "trace", "summary").(string); !strings.Contains(s, "EMEA sales") {
				bad = append(bad, "the summary does not name the pool: "+s)
			}
			return bad
		}
		// Twice the same answer: a simulation takes no turn.
		for i := range 2 {
			r := f.api("POST", routingBase+"/simulate", readTok, emea)
			if r.status != 200 {
				t.Fatalf("simulate %d: %d %s", i, r.status, r.body)
			}
			for _, p := range check(r) {
				t.Errorf("simulate %d: %s", i, p)
			}
		}

		// Nobody can take the visitor: the pool falls back to the team, which ends in capture,
		// and the trace says why at each step.
		r := f.api("POST", routingBase+"/simulate", readTok, map[string]any{"draft": true, "visitor": map[string]any{"country": "US"},
			"reps": map[string]any{f.rep1.ID: away, f.rep2.ID: away}})
		dec := r.json["decision"]
		var kinds, skips []string
		for _, tt := range at(dec, "trace", "targets").([]any) {
			kinds = append(kinds, at(tt, "kind").(string))
			cands, _ := at(tt, "candidates").([]any)
			for _, c := range cands {
				if s, ok := at(c, "skip").(string); ok {
					skips = append(skips, at(c, "user_id").(string)+":"+s)
				}
			}
		}
		if r.status != 200 || at(dec, "outcome") != "capture" || at(dec, "rule_id") != "" || at(dec, "trace", "rules", 0, "matched") != false ||
			!slices.Equal(kinds, []string{"pool", "team", "capture"}) || at(dec, "offer") != nil ||
			!slices.Contains(skips, f.rep1.ID+":away") || !slices.Contains(skips, f.rep3.ID+":offline") ||
			at(dec, "trace", "targets", 1, "note") != "the fallback of pool EMEA sales" {
			t.Errorf("nobody available: kinds %v, skips %v: %d %s", kinds, skips, r.status, r.body)
		}

		// The configuration in force (the built-in default: nothing is published) and one given.
		f.run([]convStep{
			{name: "in force", method: "POST", path: routingBase + "/simulate", token: readTok, body: map[string]any{}, status: 200, check: func(r response) string {
				if r.json["config"] != "default" || at(r.json, "decision", "trace", "targets", 0, "kind") != "team" {
					return "want the built-in default, a team of everyone"
				}
				return ""
			}},
			{name: "given", method: "POST", path: routingBase + "/simulate", token: readTok,
				body: map[string]any{"config": map[string]any{"default": map[string]any{"kind": "booker"}}}, status: 200, check: func(r response) string {
					if r.json["config"] != "request" || at(r.json, "decision", "outcome") != "booker" {
						return "want the booker of the configuration given"
					}
					return ""
				}},
		})

		// Nothing was written: no decision, no ring job, and the ledger is as it was.
		f.run([]convStep{
			{name: "no decision recorded", method: "GET", path: routingBase + "/report", token: readTok, status: 200, check: func(r response) string {
				if n := at(r.json, "decisions", "offer").(float64) + at(r.json, "decisions", "capture").(float64) + at(r.json, "decisions", "booker").(float64); n != 0 {
					return fmt.Sprintf("%v decisions recorded by simulations", n)
				}
				return ""
			}},
			{name: "no ring job", method: "GET", path: "/api/v1/jobs", token: f.adminToken, status: 200, check: func(r response) string {
				if strings.Contains(string(r.body), routing.RingJob) {
					return "a simulation queued a ring"
				}
				return ""
			}},
		})
		if r := f.api("POST", routingBase+"/simulate", readTok, emea); !slices.Equal(strs(at(r.json, "decision", "offer")), []string{first}) {
			t.Errorf("after the simulations, the pool's turn moved: %s", r.body)
		}

		manyFields := map[string]string{}
		for i := range 201 {
			manyFields[fmt.Sprintf("f%d", i)] = "x"
		}
		huge := `{"config": {"x": "` + strings.Repeat("a", routing.MaxSimulateBody) + `"}}`
		f.run([]convStep{
			{name: "bad config", method: "POST", path: routingBase + "/simulate", token: readTok,
				body: map[string]any{"config": map[string]any{"default": map[string]any{"kind": "pool", "pool": "nope"}}}, status: 422, code: "invalid", field: "config.default.pool"},
			{name: "bad condition in config", method: "POST", path: routingBase + "/simulate", token: readTok,
				body: map[string]any{"config": map[string]any{"rules": []any{map[string]any{"id": "r", "then": map[string]any{"kind": "capture"},
					"when": map[string]any{"subject": "geo.region", "op": "eq", "value": "Mars"}}}}}, status: 422, code: "invalid", field: "config.rules[0].when.value"},
			{name: "config not an object", method: "POST", path: routingBase + "/simulate", token: readTok, body: map[string]any{"config": "x"}, status: 400, code: "malformed", field: "config"},
			{name: "unknown rep", method: "POST", path: routingBase + "/simulate", token: readTok, body: map[string]any{"reps": map[string]any{"usr_nobody": on}}, status: 422, code: "invalid", field: "reps.usr_nobody"},
			{name: "too many fields", method: "POST", path: routingBase + "/simulate", token: readTok, body: map[string]any{"visitor": map[string]any{"fields": manyFields}}, status: 422, code: "invalid", field: "visitor.fields"},
			{name: "unknown key", method: "POST", path: routingBase + "/simulate", token: readTok, body: map[string]any{"visitor": map[string]any{"colour": "red"}}, status: 400, code: "malformed"},
			{name: "wrong type", method: "POST", path: routingBase + "/simulate", token: readTok, body: map[string]any{"draft": "yes"}, status: 400, code: "malformed", field: "draft"},
			{name: "malformed JSON", method: "POST", path: routingBase + "/simulate", token: readTok, body: `{"visitor": `, status: 400, code: "malformed"},
			{name: "octet-stream", method: "POST", path: routingBase + "/simulate", token: readTok, body: []byte(`{}`), status: 400, code: "malformed"},
			{name: "over the limit", method: "POST", path: routingBase + "/simulate", token: readTok, body: huge, status: 413, code: "too_large"},
		})
	})
}

func TestAPIRoutingDecisionsReplayReport(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f, readTok := routingFixture(t, d)
		if r := f.api("PUT", routingBase+"/config", f.adminToken, f.emeaConfig()); r.status != 200 {
			t.Fatalf("save: %d %s", r.status, r.body)
		}
		if r := f.api("POST", routingBase+"/publish", f.adminToken, nil); r.status != 201 {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
		f.available(f.rep1, f.rep2)
		var convs []string
		for i := range 4 {
			convs = append(convs, routedConversation(t, f.harness, fmt.Sprintf("Question %d", i)))
		}

		// Each conversation's decision, with its trace; round robin alternates.
		var offered []string
		for i, conv := range convs {
			r := f.api("GET", "/api/v1/conversations/"+conv+"/routing", f.rep1Tok, nil)
			rec := at(r.json, "decisions", 0)
			if r.status != 200 || len(r.json["decisions"].([]any)) != 1 || at(rec, "conversation_id") != conv || at(rec, "version") != 1.0 ||
				at(rec, "attempt") != 1.0 || at(rec, "outcome") != "offer" || at(rec, "pool_id") != "emea" || at(rec, "strategy") != "round_robin" ||
				at(rec, "turn") != float64(i+1) || at(rec, "rule_id") != "" || at(rec, "trace", "summary") == "" {
				t.Errorf("decision of conversation %d: %d %s", i, r.status, r.body)
				continue
			}
			offered = append(offered, strs(at(rec, "offered"))...)
		}
		first, second := min(f.rep1.ID, f.rep2.ID), max(f.rep1.ID, f.rep2.ID)
		if want := []string{first, second, first, second}; !slices.Equal(offered, want) {
			t.Errorf("offered %v, want %v (round robin)", offered, want)
		}

		// Another workspace's conversation is not found; so is an unknown one.
		other, otherTok := otherWorkspace(t, f.harness)
		oc, _, _, err := f.chat.VisitorMessage(context.Background(), other.ID, f.newVisitor(other.ID, "https://globex.example/", "Globex").VisitorID, "theirs", "")
		if err != nil {
			t.Fatal(err)
		}
		f.run([]convStep{
			{name: "ours with their token", method: "GET", path: "/api/v1/conversations/" + convs[0] + "/routing", token: otherTok, status: 404, code: "not_found"},
			{name: "theirs with our token", method: "GET", path: "/api/v1/conversations/" + oc.ID + "/routing", token: f.adminToken, status: 404, code: "not_found"},
			{name: "theirs, never routed", method: "GET", path: "/api/v1/conversations/" + oc.ID + "/routing", token: otherTok, status: 200, check: func(r response) string {
				if ds, _ := r.json["decisions"].([]any); len(ds) != 0 {
					return "a conversation never routed has decisions"
				}
				return ""
			}},
			{name: "unknown", method: "GET", path: "/api/v1/conversations/conv_aaaaaaaaaaaaaaaaaaaaaaaaaa/routing", token: f.adminToken, status: 404, code: "not_found"},
		})

		// The report: two offers each, perfectly even.
		r := f.api("GET", routingBase+"/report", readTok, nil)
		if r.status != 200 || at(r.json, "decisions", "offer") != 4.0 || at(r.json, "decisions", "capture") != 0.0 ||
			at(r.json, "pools", 0, "id") != "emea" || at(r.json, "pools", 0, "placed") != 4.0 || at(r.json, "pools", 0, "max_minus_min") != 0.0 ||
			at(r.json, "pools", 0, "gini") != 0.0 || at(r.json, "reps", 0, "offers") != 2.0 || at(r.json, "reps", 1, "offers") != 2.0 {
			t.Errorf("report: %d %s", r.status, r.body)
		}
		past := url.Values{"from": {"2020-01-01T00:00:00Z"}, "to": {"2020-02-01T00:00:00+01:00"}}.Encode()
		now := time.Now().UTC()
		f.run([]convStep{
			{name: "a period without decisions", method: "GET", path: routingBase + "/report?" + past, token: readTok, status: 200, check: func(r response) string {
				if at(r.json, "decisions", "offer") != 0.0 || len(r.json["reps"].([]any)) != 0 || at(r.json, "pools", 0, "members", 0, "offers") != 0.0 {
					return "want zero decisions, no reps, the pool's members at 0"
				}
				return ""
			}},
			{name: "from not a time", method: "GET", path: routingBase + "/report?from=yesterday", token: readTok, status: 422, code: "invalid", field: "from"},
			{name: "to not a time", method: "GET", path: routingBase + "/report?to=2026-13-01", token: readTok, status: 422, code: "invalid", field: "to"},
			{name: "from after to", method: "GET", path: routingBase + "/report?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", token: readTok, status: 422, code: "invalid", field: "from"},
			{name: "from equals to", method: "GET", path: routingBase + "/report?from=2026-02-01T00:00:00Z&to=2026-02-01T00:00:00Z", token: readTok, status: 422, code: "invalid", field: "from"},
			{name: "over 366 days", method: "GET", path: routingBase + "/report?from=2024-01-01T00:00:00Z&to=2025-06-01T00:00:00Z", token: readTok, status: 422, code: "invalid", field: "to"},
			{name: "to in the past, from by default", method: "GET", path: routingBase + "/report?to=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)), token: readTok, status: 200,
				check: func(r response) string {
					if at(r.json, "decisions", "offer") != 0.0 {
						return "decisions of the last hour counted before to"
					}
					return ""
				}},
		})

		// Replay: the team of everyone would have rung both reps every time; in force, the pool
		// alternated.
		team := f.emeaConfig()
		team["default"] = map[string]any{"kind": "team", "team": "all"}
		rep := f.api("POST", routingBase+"/replay", readTok, map[string]any{"days": 1, "config": team})
		tried, actual := rep.json["tried"], rep.json["actual"]
		if rep.status != 200 || rep.json["decisions"] != 4.0 || rep.json["truncated"] != false || rep.json["config"] != "request" ||
			at(tried, "outcomes", "offer") != 4.0 || at(tried, "reps", f.rep1.ID) != 4.0 || at(tried, "reps", f.rep2.ID) != 4.0 || at(tried, "rules", "") != 4.0 ||
			at(tried, "pools", "emea", "placed") != 0.0 ||
			at(actual, "pools", "emea", "placed") != 4.0 || at(actual, "pools", "emea", "members", 0, "offers") != 2.0 ||
			at(actual, "pools", "emea", "members", 0, "share") != 0.5 || at(actual, "pools", "emea", "members", 0, "weight_share") != 0.5 {
			t.Errorf("replay: %d %s", rep.status, rep.body)
		}
		f.run([]convStep{
			{name: "replay the draft", method: "POST", path: routingBase + "/replay", token: readTok, body: map[string]any{}, status: 200, check: func(r response) string {
				if r.json["config"] != "draft" || r.json["decisions"] != 4.0 || !reflect.DeepEqual(r.json["tried"], r.json["actual"]) {
					return "want the draft, which is the version in force, to do as it did"
				}
				return ""
			}},
			{name: "91 days", method: "POST", path: routingBase + "/replay", token: readTok, body: map[string]any{"days": 91}, status: 422, code: "invalid", field: "days"},
			{name: "negative days", method: "POST", path: routingBase + "/replay", token: readTok, body: map[string]any{"days": -1}, status: 422, code: "invalid", field: "days"},
			{name: "days as text", method: "POST", path: routingBase + "/replay", token: readTok, body: map[string]any{"days": "7"}, status: 400, code: "malformed", field: "days"},
			{name: "bad config", method: "POST", path: routingBase + "/replay", token: readTok,
				body: map[string]any{"config": map[string]any{"pools": []any{map[string]any{"id": "p", "members": []any{}}}}}, status: 422, code: "invalid", field: "config.pools[0].members"},
			{name: "unknown key", method: "POST", path: routingBase + "/replay", token: readTok, body: map[string]any{"weeks": 1}, status: 400, code: "malformed"},
		})
	})
}
