package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/idverify"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// TestUnprovenEmailNeverMerges: typing, posting or identifying with someone's email address
// without a signed token records it on one's own record only; it never hands over that person's
// record, token or conversations.
func TestUnprovenEmailNeverMerges(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		victim := h.hello(t, nil)
		vt := victim.json["visitor_token"].(string)
		r := h.m("POST", "/m/v1/form", vt, map[string]any{"fields": map[string]string{"email": "Ada@Acme.example", "company": "Acme", "message": "ignored"}}, siteOrigin)
		if r.status != 200 || r.json["visitor_id"] != victim.json["visitor_id"] {
			t.Fatalf("form: %d %s", r.status, r.body)
		}
		if ig, _ := r.json["ignored_fields"].([]any); len(ig) != 1 || ig[0] != "message" {
			t.Fatalf("ignored fields: %s", r.body)
		}
		if fc, _ := r.json["fields_captured"].([]any); len(fc) != 2 {
			t.Fatalf("fields captured: %s", r.body)
		}
		h.m("POST", "/m/v1/messages", vt, map[string]string{"text": "my private question"}, siteOrigin)

		attacker := h.hello(t, nil)
		at := attacker.json["visitor_token"].(string)
		for _, call := range []struct{ path, body string }{
			{"/m/v1/identify", `{"fields":{"email":"ada@acme.example"}}`},
			{"/m/v1/form", `{"fields":{"email":"ada@acme.example"}}`},
			{"/m/v1/messages", `{"text":"I am ada@acme.example"}`},
		} {
			r := h.m("POST", call.path, at, call.body, siteOrigin)
			if r.status >= 300 || (r.json["visitor_id"] != nil && r.json["visitor_id"] != attacker.json["visitor_id"]) || r.json["visitor_token"] != nil {
				t.Fatalf("%s with the victim's email: %d %s", call.path, r.status, r.body)
			}
		}
		msgs := h.m("GET", "/m/v1/messages", at, nil, siteOrigin)
		if strings.Contains(string(msgs.body), "private question") {
			t.Fatalf("the attacker reads the victim's conversation: %s", msgs.body)
		}
		v, _ := h.visitors.Get(context.Background(), h.ws.ID, attacker.json["visitor_id"].(string))
		if v.MergedInto != "" || v.Email != "ada@acme.example" {
			t.Fatalf("attacker's record: %+v", v)
		}
		if r := h.m("POST", "/m/v1/form", vt, map[string]any{"fields": map[string]string{"email": "not an email"}}, siteOrigin); r.status != 422 || r.errField() != "email" {
			t.Fatalf("bad email: %d %s", r.status, r.body)
		}
	})
}

// TestProvenIdentifyMerges: the same person on two browsers, identified by tokens the customer's
// server signed, becomes one visitor with the conversation and fields of both (V4).
func TestProvenIdentifyMerges(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		ctx := context.Background()
		sec := h.call("POST", "/api/v1/workspace/identity-secret", h.adminToken, nil).json["secret"].(string)
		on := true
		h.wss.Update(ctx, h.ws.ID, workspace.Patch{Settings: &workspace.SettingsPatch{IdentityVerification: &on}})
		signed := func(jti string) string {
			now := time.Now()
			return idverify.Sign([]byte(sec), idverify.Claims{Email: "ada@acme.example", JTI: jti, IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute)})
		}
		laptop, phone := h.hello(t, nil), h.hello(t, nil)
		lt, pt := laptop.json["visitor_token"].(string), phone.json["visitor_token"].(string)
		h.m("POST", "/m/v1/messages", lt, map[string]string{"text": "from my laptop"}, siteOrigin) // both have an open conversation
		if r := h.m("POST", "/m/v1/identify", lt, map[string]any{"fields": map[string]string{"company": "Acme"}, "signature": signed("jti-laptop-1")}, siteOrigin); r.status != 200 {
			t.Fatalf("laptop: %d %s", r.status, r.body)
		}
		h.m("POST", "/m/v1/messages", pt, map[string]string{"text": "from my phone"}, siteOrigin)
		r := h.m("POST", "/m/v1/identify", pt, map[string]any{"fields": map[string]string{"first_name": "Ada"}, "signature": signed("jti-phone-1")}, siteOrigin)
		if r.status != 200 || r.json["visitor_id"] != laptop.json["visitor_id"] || r.json["visitor_token"] == nil {
			t.Fatalf("the phone did not merge into the laptop's visitor: %s", r.body)
		}
		msgs := h.m("GET", "/m/v1/messages", r.json["visitor_token"].(string), nil, siteOrigin)
		// The laptop's message and the bot's reply to it (nobody was available).
		if list, _ := msgs.json["messages"].([]any); len(list) != 2 || !strings.Contains(string(msgs.body), "from my laptop") ||
			strings.Contains(string(msgs.body), "from my phone") {
			t.Fatalf("the survivor's open conversation after merge: %s", msgs.body)
		}
		// The phone's old token writes to the survivor's open conversation.
		if r := h.m("POST", "/m/v1/messages", pt, map[string]string{"text": "again from my phone"}, siteOrigin); r.status != 201 {
			t.Fatalf("old token after merge: %d %s", r.status, r.body)
		}
		msgs = h.m("GET", "/m/v1/messages", lt, nil, siteOrigin)
		if !strings.Contains(string(msgs.body), "again from my phone") {
			t.Fatalf("the old token's message is not in the survivor's conversation: %s", msgs.body)
		}
		vals, _ := h.fields.Values(ctx, h.ws.ID, laptop.json["visitor_id"].(string))
		got := map[string]string{}
		for _, v := range vals {
			got[v.Key] = v.Value
		}
		if got["email"] != "ada@acme.example" || got["company"] != "Acme" || got["first_name"] != "Ada" {
			t.Fatalf("fields after merge: %v", got)
		}
	})
}

// TestIdentityVerification: with verification on, identify needs a fresh token signed with the
// workspace secret; forged, expired, replayed and mismatched ones are refused and change nothing.
func TestIdentityVerification(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		ctx := context.Background()
		r := h.call("POST", "/api/v1/workspace/identity-secret", h.adminToken, nil)
		sec, _ := r.json["secret"].(string)
		if r.status != 201 || len(sec) < 40 {
			t.Fatalf("secret: %d %s", r.status, r.body)
		}
		on := true
		if _, err := h.wss.Update(ctx, h.ws.ID, workspace.Patch{Settings: &workspace.SettingsPatch{IdentityVerification: &on}}); err != nil {
			t.Fatal(err)
		}
		tok := h.hello(t, nil).json["visitor_token"].(string)
		now := time.Now()
		sign := func(secret, email, jti string, exp time.Time) string {
			return idverify.Sign([]byte(secret), idverify.Claims{Email: email, JTI: jti, IssuedAt: now.Add(-time.Minute), ExpiresAt: exp,
				Fields: map[string]string{"company": "Acme Verified"}})
		}
		good := sign(sec, "ada@acme.example", "jti-00000001", now.Add(10*time.Minute))
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"no signature", map[string]any{"fields": map[string]string{"email": "ada@acme.example"}}},
			{"wrong secret", map[string]any{"fields": map[string]string{}, "signature": sign("another secret that is long enough to use ok", "ada@acme.example", "jti-00000002", now.Add(time.Minute))}},
			{"expired", map[string]any{"fields": map[string]string{}, "signature": sign(sec, "ada@acme.example", "jti-00000003", now.Add(-time.Second))}},
			{"email differs", map[string]any{"fields": map[string]string{"email": "ceo@acme.example"}, "signature": good}},
		} {
			r := h.m("POST", "/m/v1/identify", tok, tc.body, siteOrigin)
			if r.status != 401 || r.errField() != "signature" {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			}
		}
		r = h.m("POST", "/m/v1/identify", tok, map[string]any{"fields": map[string]string{"first_name": "Ada"}, "signature": good}, siteOrigin)
		if r.status != 200 {
			t.Fatalf("signed identify: %d %s", r.status, r.body)
		}
		if again := h.m("POST", "/m/v1/identify", tok, map[string]any{"fields": map[string]string{}, "signature": good}, siteOrigin); again.status != 401 {
			t.Fatalf("replayed token accepted: %d %s", again.status, again.body)
		}
		vals, _ := h.fields.Values(ctx, h.ws.ID, r.json["visitor_id"].(string))
		got := map[string]string{}
		for _, v := range vals {
			got[v.Key] = v.Value
		}
		if got["email"] != "ada@acme.example" || got["company"] != "Acme Verified" || got["first_name"] != "Ada" {
			t.Fatalf("verified fields: %v", got)
		}
	})
}

func TestFieldsAPI(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		r := h.call("POST", "/api/v1/fields", h.adminToken, map[string]any{"key": "plan", "label": "Plan", "type": "picklist", "options": []string{"Team", "Business"}})
		if r.status != 201 || r.json["key"] != "plan" {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if r := h.call("POST", "/api/v1/fields", h.adminToken, map[string]any{"key": "email", "label": "E", "type": "text"}); r.status != 409 && r.status != 422 {
			t.Fatalf("standard key reused: %d %s", r.status, r.body)
		}
		if r := h.call("PATCH", "/api/v1/fields/email", h.adminToken, map[string]any{"precedence": []string{"visitor", "crm"}}); r.status != 200 {
			t.Fatalf("reorder email precedence: %d %s", r.status, r.body)
		}
		list := h.call("GET", "/api/v1/fields", h.adminToken, nil)
		if data, _ := list.json["data"].([]any); len(data) < 13 {
			t.Fatalf("list: %s", list.body)
		}
		if r := h.call("DELETE", "/api/v1/fields/plan", h.adminToken, nil); r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		if r := h.call("DELETE", "/api/v1/fields/email", h.adminToken, nil); r.status != 409 {
			t.Fatalf("delete a standard field: %d %s", r.status, r.body)
		}
	})
}

func TestChatAnswerEmail(t *testing.T) {
	for text, want := range map[string]string{
		"ada@acme.example":                          "ada@acme.example",
		"Sure, it's Ada@Acme.example.":              "Ada@Acme.example",
		"mail me at <ada@acme.example> thanks!":     "",
		"my colleague bob@x.example will follow up": "",
		"ada@acme.example or bob@acme.example":      "",
		"no address here":                           "",
		"@handle on twitter":                        "",
		"ada@localhost":                             "",
	} {
		if got := chatEmail(text); got != want {
			t.Errorf("chatEmail(%q) = %q, want %q", text, got, want)
		}
	}
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		first := h.hello(t, nil)
		ft := first.json["visitor_token"].(string)
		h.m("POST", "/m/v1/form", ft, map[string]any{"fields": map[string]string{"email": "ada@acme.example", "company": "Acme"}}, siteOrigin)
		later := h.hello(t, nil) // another browser, not yet known
		lt := later.json["visitor_token"].(string)
		r := h.m("POST", "/m/v1/messages", lt, map[string]string{"text": "Hi, I'm not sure"}, siteOrigin)
		if fc, _ := r.json["fields_captured"].([]any); r.status != 201 || len(fc) != 0 {
			t.Fatalf("plain message: %d %s", r.status, r.body)
		}
		r = h.m("POST", "/m/v1/messages", lt, map[string]string{"text": "It's ada@acme.example"}, siteOrigin)
		if fc, _ := r.json["fields_captured"].([]any); r.status != 201 || len(fc) != 1 || fc[0] != "email" {
			t.Fatalf("email answer: %d %s", r.status, r.body)
		}
		if r.json["visitor_id"] != nil || r.json["visitor_token"] != nil {
			t.Fatalf("a typed email merged records: %s", r.body)
		}
		if r := h.m("POST", "/m/v1/messages", lt, map[string]string{"text": "x@y.zz and also a@b.cc"}, siteOrigin); r.status != 201 {
			t.Fatalf("two addresses: %d %s", r.status, r.body)
		}
	})
}
