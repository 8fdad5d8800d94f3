package web

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/liveview"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// liveHarness is a visitor harness with a Live View registry, whose leave grace and settings
// lifetime are short enough for a test.
func liveHarness(t *testing.T, d *db.DB) (*harness, *liveview.Registry) {
	t.Helper()
	h := visitorHarness(t, d)
	b := bus.NewInProcess()
	t.Cleanup(func() { b.Close() })
	reg, err := liveview.New(liveview.Options{Bus: b, Sessions: h.visitors, Fields: h.fields,
		LeaveGrace: 50 * time.Millisecond, SettingsTTL: 20 * time.Millisecond, FlushInterval: 20 * time.Millisecond,
		Settings: func(ctx context.Context, wsID string) (workspace.Settings, error) {
			w, err := h.wss.Get(ctx, wsID)
			if err != nil {
				return workspace.Settings{}, err
			}
			return w.Settings, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	h.s.deps.LiveView = reg
	return h, reg
}

// liveFeed watches a workspace and lets a test wait for a visitor to reach a state.
type liveFeed struct {
	frames chan liveview.Frame
	rows   map[string]liveview.Visitor
}

func watchLive(t *testing.T, reg *liveview.Registry, wsID string) *liveFeed {
	t.Helper()
	f := &liveFeed{frames: make(chan liveview.Frame, 1000), rows: map[string]liveview.Visitor{}}
	stop, err := reg.Watch(context.Background(), wsID, func(fr liveview.Frame) {
		select {
		case f.frames <- fr:
		default: // a test that stops reading fails on its own
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return f
}

// until applies frames until ok holds of the rows, failing after 10 s.
func (f *liveFeed) until(t *testing.T, what string, ok func(rows map[string]liveview.Visitor) bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !ok(f.rows) {
		select {
		case fr := <-f.frames:
			if fr.Op == liveview.OpSnapshot {
				clear(f.rows)
			}
			for _, v := range fr.Visitors {
				if fr.Op == liveview.OpRemove {
					delete(f.rows, v.ID)
				} else {
					f.rows[v.ID] = v
				}
			}
		case <-deadline.C:
			t.Fatalf("Live View never showed %s; rows: %+v", what, f.rows)
		}
	}
}

func liveData(t *testing.T, r response) []any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("GET /api/v1/live = %d %s", r.status, r.body)
	}
	data, ok := r.json["data"].([]any)
	if !ok {
		t.Fatalf("GET /api/v1/live: no data array: %s", r.body)
	}
	return data
}

// TestLiveView drives the messenger's endpoints and watches the visitor appear, move, identify,
// get hidden by the block list and leave, in the socket's frames and in GET /api/v1/live.
func TestLiveView(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h, reg := liveHarness(t, d)
		if data := liveData(t, h.call("GET", "/api/v1/live", h.adminToken, nil)); len(data) != 0 {
			t.Fatalf("before any visitor: %v", data)
		}
		feed := watchLive(t, reg, h.ws.ID)

		r := h.hello(t, nil)
		tok, _ := r.json["visitor_token"].(string)
		vid, _ := r.json["visitor_id"].(string)
		feed.until(t, "the visitor on /pricing", func(rows map[string]liveview.Visitor) bool {
			v, ok := rows[vid]
			return ok && v.PageTitle == "Pricing" && v.Country == "IN" && v.Device == "desktop" && v.PageViews == 1
		})
		if r := h.m("POST", "/m/v1/page", tok, map[string]string{"url": siteOrigin + "/docs", "title": "Docs"}, siteOrigin); r.status != 204 {
			t.Fatalf("page: %d %s", r.status, r.body)
		}
		feed.until(t, "the visitor on /docs", func(rows map[string]liveview.Visitor) bool {
			return rows[vid].PageURL == siteOrigin+"/docs" && rows[vid].PageViews == 2
		})
		if r := h.m("POST", "/m/v1/heartbeat", tok, nil, siteOrigin); r.status != 204 {
			t.Fatalf("heartbeat: %d %s", r.status, r.body)
		}
		r = h.m("POST", "/m/v1/identify", tok, map[string]any{"fields": map[string]string{"email": "ada@globex.example",
			"first_name": "Ada", "last_name": "Lovelace", "company": "Globex"}}, siteOrigin)
		if r.status != 200 {
			t.Fatalf("identify: %d %s", r.status, r.body)
		}
		feed.until(t, "the visitor's name", func(rows map[string]liveview.Visitor) bool {
			v := rows[vid]
			return v.Name == "Ada Lovelace" && v.Email == "ada@globex.example" && v.Company == "Globex"
		})

		resp := h.call("GET", "/api/v1/live", h.adminToken, nil)
		data := liveData(t, resp)
		if len(data) != 1 {
			t.Fatalf("GET /api/v1/live: %v", data)
		}
		// The answer is what openapi.json documents.
		doc := loadOpenAPI(t)
		op, ok := doc.operation("GET", "/api/v1/live")
		if !ok {
			t.Fatal("GET /api/v1/live is not in openapi.json")
		}
		ok200 := doc.deref(op.op["responses"].(map[string]any)["200"])
		schema := ok200["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
		var body any
		if err := json.Unmarshal(resp.body, &body); err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.conform(body, schema, "") {
			t.Errorf("GET /api/v1/live: %s", p)
		}
		row := data[0].(map[string]any)
		if row["id"] != vid || row["name"] != "Ada Lovelace" || row["page_url"] != siteOrigin+"/docs" || row["target_account"] != false {
			t.Errorf("GET /api/v1/live row = %v", row)
		}

		// Globex becomes a target account, then /docs is blocked.
		targets, block := []string{"globex.example"}, []string{"www.acme.example/docs"}
		if _, err := h.wss.Update(context.Background(), h.ws.ID, workspace.Patch{Settings: &workspace.SettingsPatch{TargetAccounts: &targets}}); err != nil {
			t.Fatal(err)
		}
		feed.until(t, "the target account", func(rows map[string]liveview.Visitor) bool { return rows[vid].TargetAccount })
		if _, err := h.wss.Update(context.Background(), h.ws.ID, workspace.Patch{Settings: &workspace.SettingsPatch{LiveViewBlock: &block}}); err != nil {
			t.Fatal(err)
		}
		feed.until(t, "the visitor hidden on a blocked page", func(rows map[string]liveview.Visitor) bool { _, ok := rows[vid]; return !ok })
		if data := liveData(t, h.call("GET", "/api/v1/live", h.adminToken, nil)); len(data) != 0 {
			t.Fatalf("a visitor on a blocked page is listed: %v", data)
		}
		if r := h.m("POST", "/m/v1/page", tok, map[string]string{"url": siteOrigin + "/pricing", "title": "Pricing"}, siteOrigin); r.status != 204 {
			t.Fatalf("page: %d %s", r.status, r.body)
		}
		feed.until(t, "the visitor back off the blocked page", func(rows map[string]liveview.Visitor) bool {
			return rows[vid].PageURL == siteOrigin+"/pricing"
		})

		// The page closes: after the grace, the visitor is gone.
		if r := h.m("POST", "/m/v1/leave", "", map[string]string{"visitor_token": tok}, siteOrigin); r.status != 204 {
			t.Fatalf("leave: %d %s", r.status, r.body)
		}
		feed.until(t, "the visitor gone", func(rows map[string]liveview.Visitor) bool { _, ok := rows[vid]; return !ok })
	})
}

func TestLiveViewAccess(t *testing.T) {
	h, _ := liveHarness(t, testkit.SQLite(t))
	r := h.hello(t, nil)
	if r.status != 200 {
		t.Fatalf("hello: %d %s", r.status, r.body)
	}
	// Without visitors:read: forbidden. Without a token: unauthenticated.
	_, tok := h.userWithToken(h.ws.ID, "rep@acme.example", identity.RoleRep, "users:read")
	if r := h.call("GET", "/api/v1/live", tok, nil); r.status != 403 || r.errCode() != "forbidden" {
		t.Errorf("without visitors:read: %d %s", r.status, r.body)
	}
	if r := h.call("GET", "/api/v1/live", "", nil); r.status != 401 {
		t.Errorf("without a token: %d %s", r.status, r.body)
	}
	// Another workspace's rep sees none of this workspace's visitors (SEC1).
	other, err := h.wss.Create(context.Background(), h.d, workspace.New{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	_, otherTok := h.userWithToken(other.ID, "rep@other.example", identity.RoleRep, "visitors:read")
	if data := liveData(t, h.call("GET", "/api/v1/live", otherTok, nil)); len(data) != 0 {
		t.Errorf("another workspace sees %v", data)
	}
	// A server without Live View answers 503.
	h.s.deps.LiveView = nil
	if r := h.call("GET", "/api/v1/live", h.adminToken, nil); r.status != 503 || r.errCode() != "unavailable" {
		t.Errorf("without a registry: %d %s", r.status, r.body)
	}
}
