package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// Tests of the conversations and presence API (docs/API.md "Conversations and presence") through
// the real HTTP server. Every answer is also held to openapi.json: its status must be documented
// for the operation, and its body must conform to the documented schema.

// convFixture is a harness with reps and the OpenAPI document.
type convFixture struct {
	*harness
	t   *testing.T
	doc *oaDoc
	// rep1, rep2, rep3: reps holding conversations:read and conversations:write.
	rep1, rep2, rep3   *identity.User
	rep1Tok, rep2Tok   string
	rep3Tok            string
	meet               *identity.User // meetings-only
	meetTok, readerTok string         // readerTok holds users:read only
	convReadTok        string         // conversations:read only
}

func newConvFixture(t *testing.T, d *db.DB) *convFixture {
	t.Helper()
	f := &convFixture{harness: visitorHarness(t, d), t: t, doc: loadOpenAPI(t)}
	rw := []string{"conversations:read", "conversations:write"}
	f.rep1, f.rep1Tok = f.user("rita@acme.example", "Rita", identity.RoleRep, rw...)
	f.rep2, f.rep2Tok = f.user("sam@acme.example", "Sam", identity.RoleRep, rw...)
	f.rep3, f.rep3Tok = f.user("tom@acme.example", "Tom", identity.RoleRep, rw...)
	f.meet, f.meetTok = f.user("mo@acme.example", "Mo", identity.RoleMeetingsOnly, "users:read", "profile:write")
	_, f.readerTok = f.user("rea@acme.example", "Rea", identity.RoleRep, "users:read")
	_, f.convReadTok = f.user("cora@acme.example", "Cora", identity.RoleRep, "conversations:read")
	return f
}

// user creates an active user with a first name, and a token with scopes.
func (f *convFixture) user(email, first string, role identity.Role, scopes ...string) (*identity.User, string) {
	f.t.Helper()
	ctx := context.Background()
	u, err := f.id.CreateUser(ctx, f.d, identity.NewUser{WorkspaceID: f.ws.ID, Email: email, Role: role, FirstName: first, Password: "user password 1"})
	if err != nil {
		f.t.Fatal(err)
	}
	_, tok, err := f.id.CreateToken(ctx, &identity.Principal{User: u}, identity.TokenInput{Name: "t", Scopes: scopes})
	if err != nil {
		f.t.Fatal(err)
	}
	return u, tok
}

// api calls the API and checks the answer against openapi.json.
func (f *convFixture) api(method, path, token string, body any) response {
	f.t.Helper()
	r := f.call(method, path, token, body)
	f.checkDoc(method, path, r)
	return r
}

// apiWith is api with extra request headers (e.g. a Content-Type).
func (f *convFixture) apiWith(method, path, token string, body any, hdr map[string]string) response {
	f.t.Helper()
	r := f.callWith(method, path, token, body, hdr)
	f.checkDoc(method, path, r)
	return r
}

// checkDoc fails when openapi.json does not document the answer.
func (f *convFixture) checkDoc(method, path string, r response) {
	f.t.Helper()
	for _, p := range f.doc.answerProblems(method, path, r) {
		f.t.Error(p)
	}
}

// answerProblems returns how an answer departs from the document: no operation for it, an
// undocumented status, or a body that does not conform to the status's schema.
func (d *oaDoc) answerProblems(method, path string, r response) []string {
	name := method + " " + path
	o, ok := d.matchPath(method, path)
	if !ok {
		return []string{name + ": no operation of openapi.json matches"}
	}
	resp := d.deref(o.op["responses"].(map[string]any)[fmt.Sprint(r.status)])
	if resp == nil {
		return []string{fmt.Sprintf("%s answered %d %s, which openapi.json does not document for %s", name, r.status, r.body, o)}
	}
	content, _ := resp["content"].(map[string]any)
	aj, _ := content["application/json"].(map[string]any)
	if aj == nil {
		if len(r.body) > 0 {
			return []string{fmt.Sprintf("%s: the documented %d answer has no body, but it has %s", name, r.status, r.body)}
		}
		return nil
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		return []string{fmt.Sprintf("%s: answer %d is not JSON: %v", name, r.status, err)}
	}
	var out []string
	for _, p := range d.conform(v, aj["schema"], "") {
		out = append(out, fmt.Sprintf("%s (%d): %s", name, r.status, p))
	}
	return out
}

// matchPath finds the operation whose path template matches a concrete path (the query is ignored).
func (d *oaDoc) matchPath(method, path string) (oaOp, bool) {
	p, _, _ := strings.Cut(path, "?")
	for _, o := range d.operations() {
		if o.method != method {
			continue
		}
		re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pathParam.ReplaceAllString(o.path, "\x00")), "\x00", "[^/]+") + "$"
		if regexp.MustCompile(re).MatchString(p) {
			return o, true
		}
	}
	return oaOp{}, false
}

// visitorConv makes a new visitor of the harness's workspace write their first message through
// the messenger (POST /m/v1/messages), which opens a conversation waiting for a rep; nobody is
// available, so the bot answers (seq 2). It returns the visitor's id and the conversation's.
func (f *convFixture) visitorConv(text string) (visitorID, convID string) {
	f.t.Helper()
	vid := f.newVisitor(f.ws.ID, siteOrigin+"/pricing", "Pricing").VisitorID
	return vid, f.visitorSays(vid, text)
}

// visitorSays sends a visitor's message through the messenger and returns its conversation.
func (f *convFixture) visitorSays(visitorID, text string) string {
	f.t.Helper()
	tok := f.tokens.Issue(f.ws.SiteID, visitorID, time.Now())
	r := f.m("POST", "/m/v1/messages", tok, map[string]string{"text": text}, siteOrigin)
	conv, _ := r.json["conversation_id"].(string)
	if r.status != 201 || conv == "" {
		f.t.Fatalf("visitor message: %d %s", r.status, r.body)
	}
	return conv
}

// accept makes the token's rep accept a conversation, or fails.
func (f *convFixture) accept(token, conv string) {
	f.t.Helper()
	if r := f.api("POST", "/api/v1/conversations/"+conv+"/accept", token, nil); r.status != 200 {
		f.t.Fatalf("accept %s: %d %s", conv, r.status, r.body)
	}
}

// convIDs returns the ids of a list answer's conversations, in order.
func convIDs(r response) []string {
	list, _ := r.json["conversations"].([]any)
	out := []string{}
	for _, c := range list {
		id, _ := c.(map[string]any)["id"].(string)
		out = append(out, id)
	}
	return out
}

// convParticipant returns a conversation answer's participant userID, or nil.
func convParticipant(conv map[string]any, userID string) map[string]any {
	ps, _ := conv["participants"].([]any)
	for _, p := range ps {
		if pm, _ := p.(map[string]any); pm["user_id"] == userID {
			return pm
		}
	}
	return nil
}

func convMailCount(m *mailbox) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

// convStep is one call of a table and what it must answer.
type convStep struct {
	name         string
	method, path string
	token        string
	body         any
	status       int
	code, field  string                  // of an error answer, when given
	check        func(r response) string // "" when the answer is right
}

// run runs the steps in order.
func (f *convFixture) run(steps []convStep) {
	f.t.Helper()
	for _, s := range steps {
		r := f.api(s.method, s.path, s.token, s.body)
		if r.status != s.status {
			f.t.Errorf("%s: %s %s = %d %s, want %d", s.name, s.method, s.path, r.status, r.body, s.status)
			continue
		}
		if s.code != "" && r.errCode() != s.code {
			f.t.Errorf("%s: error code %q, want %q (%s)", s.name, r.errCode(), s.code, r.body)
		}
		if s.field != "" && r.errField() != s.field {
			f.t.Errorf("%s: error field %q, want %q (%s)", s.name, r.errField(), s.field, r.body)
		}
		if s.check != nil {
			if msg := s.check(r); msg != "" {
				f.t.Errorf("%s: %s (%s)", s.name, msg, r.body)
			}
		}
	}
}

func TestAPIConversationsListStreamsAndCounts(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newConvFixture(t, d)
		_, waiting := f.visitorConv("Is there a free plan?")
		_, live := f.visitorConv("Pricing for 50 seats?")
		f.accept(f.rep1Tok, live)
		_, guested := f.visitorConv("Do you integrate with Salesforce?")
		f.accept(f.rep2Tok, guested)
		if r := f.api("POST", "/api/v1/conversations/"+guested+"/invite", f.rep2Tok, map[string]string{"user_id": f.rep1.ID}); r.status != 200 {
			t.Fatalf("invite: %d %s", r.status, r.body)
		}
		_, closed := f.visitorConv("Thanks, bye")
		f.accept(f.rep2Tok, closed)
		if r := f.api("POST", "/api/v1/conversations/"+closed+"/close", f.rep2Tok, nil); r.status != 200 {
			t.Fatalf("close: %d %s", r.status, r.body)
		}

		for _, c := range []struct {
			who, token, stream string
			want               []string // in any order
			counts             map[string]float64
		}{
			{"rep1", f.rep1Tok, "waiting", []string{waiting}, nil},
			{"rep1", f.rep1Tok, "mine", []string{live, guested}, nil},
			{"rep1", f.rep1Tok, "live", []string{live, guested}, nil},
			{"rep1", f.rep1Tok, "closed", []string{closed}, nil},
			{"rep1", f.rep1Tok, "all", []string{waiting, live, guested, closed}, nil},
			{"rep1", f.rep1Tok, "", []string{waiting, live, guested, closed},
				map[string]float64{"waiting": 1, "mine": 2, "live": 2, "closed": 1, "all": 4}},
			{"rep2", f.rep2Tok, "mine", []string{guested},
				map[string]float64{"waiting": 1, "mine": 1, "live": 2, "closed": 1, "all": 4}},
			{"rep3", f.rep3Tok, "mine", []string{},
				map[string]float64{"waiting": 1, "mine": 0, "live": 2, "closed": 1, "all": 4}},
			{"read-only token", f.convReadTok, "waiting", []string{waiting}, nil},
		} {
			path := "/api/v1/conversations"
			if c.stream != "" {
				path += "?stream=" + c.stream
			}
			r := f.api("GET", path, c.token, nil)
			if r.status != 200 {
				t.Errorf("%s %s: %d %s", c.who, path, r.status, r.body)
				continue
			}
			got := convIDs(r)
			want := slices.Clone(c.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: %v, want %v", c.who, path, got, want)
			}
			if r.json["next"] != "" {
				t.Errorf("%s %s: next = %v on a page that is not full", c.who, path, r.json["next"])
			}
			if c.counts != nil {
				counts, _ := r.json["counts"].(map[string]any)
				for k, n := range c.counts {
					if counts[k] != n {
						t.Errorf("%s: counts[%s] = %v, want %v (%v)", c.who, k, counts[k], n, counts)
					}
				}
			}
		}

		// The items carry participants, the last message and the visitor; in a stream ordered by
		// latest activity the closed conversation, changed last, comes first.
		all := f.api("GET", "/api/v1/conversations?stream=all", f.rep1Tok, nil)
		if ids := convIDs(all); len(ids) != 4 || ids[0] != closed {
			t.Errorf("all: %v, want %s first (latest activity)", ids, closed)
		}
		for _, c := range all.json["conversations"].([]any) {
			cm := c.(map[string]any)
			lm, _ := cm["last_message"].(map[string]any)
			if lm == nil || lm["seq"] != cm["last_seq"] {
				t.Errorf("%v: last_message %v does not match last_seq %v", cm["id"], lm, cm["last_seq"])
			}
			if v, _ := cm["visitor"].(map[string]any); v["id"] != cm["visitor_id"] {
				t.Errorf("%v: visitor %v, want id %v", cm["id"], v, cm["visitor_id"])
			}
		}
		if ps := convParticipant(all.json["conversations"].([]any)[0].(map[string]any), f.rep2.ID); ps == nil || ps["role"] != "owner" {
			t.Errorf("closed conversation: participant rep2 = %v, want the owner", ps)
		}

		// A visitor's conversations (Visitor 360); an unknown visitor has none.
		vid, first := f.visitorConv("First question")
		f.accept(f.rep1Tok, first)
		f.api("POST", "/api/v1/conversations/"+first+"/close", f.rep1Tok, nil)
		second := f.visitorSays(vid, "Second question")
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"visitor_id=" + vid, []string{first, second}},
			{"visitor_id=" + vid + "&stream=waiting", []string{second}},
			{"visitor_id=" + vid + "&stream=closed", []string{first}},
			{"visitor_id=vis_aaaaaaaaaaaaaaaaaaaaaaaaaa", []string{}},
		} {
			r := f.api("GET", "/api/v1/conversations?"+c.query, f.rep1Tok, nil)
			got := convIDs(r)
			slices.Sort(got)
			slices.Sort(c.want)
			if r.status != 200 || !slices.Equal(got, c.want) {
				t.Errorf("?%s: %d %v, want %v", c.query, r.status, got, c.want)
			}
		}

		// Wrong queries.
		f.run([]convStep{
			{name: "unknown stream", method: "GET", path: "/api/v1/conversations?stream=open", token: f.rep1Tok, status: 422, code: "invalid", field: "stream"},
			{name: "limit 0", method: "GET", path: "/api/v1/conversations?limit=0", token: f.rep1Tok, status: 422, code: "invalid", field: "limit"},
			{name: "limit 201", method: "GET", path: "/api/v1/conversations?limit=201", token: f.rep1Tok, status: 422, code: "invalid", field: "limit"},
			{name: "limit not a number", method: "GET", path: "/api/v1/conversations?limit=ten", token: f.rep1Tok, status: 422, code: "invalid", field: "limit"},
			{name: "forged cursor", method: "GET", path: "/api/v1/conversations?before=bm9wZQ", token: f.rep1Tok, status: 422, code: "invalid", field: "before"},
			{name: "cursor not base64", method: "GET", path: "/api/v1/conversations?before=%21%21", token: f.rep1Tok, status: 422, code: "invalid", field: "before"},
		})
	})
}

func TestAPIConversationsPaging(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newConvFixture(t, d)
		for i := range 5 {
			_, c := f.visitorConv(fmt.Sprintf("Question %d", i))
			if i >= 3 {
				f.accept(f.rep1Tok, c) // 3 waiting, 2 live, 5 in all
			}
		}
		for _, c := range []struct {
			stream string
			limit  int
			pages  int // the number of pages, counting an empty last page after a full one
		}{
			{"waiting", 1, 4},
			{"waiting", 2, 2},
			{"waiting", 3, 2},
			{"waiting", 4, 1},
			{"all", 2, 3},
			{"all", 5, 2},
			{"live", 1, 3},
			{"mine", 2, 2},
		} {
			name := fmt.Sprintf("%s by %d", c.stream, c.limit)
			whole := f.api("GET", "/api/v1/conversations?stream="+c.stream, f.rep1Tok, nil)
			want := convIDs(whole)
			var got []string
			before, pages := "", 0
			for pages < 10 {
				q := url.Values{"stream": {c.stream}, "limit": {fmt.Sprint(c.limit)}}
				if before != "" {
					q.Set("before", before)
				}
				r := f.api("GET", "/api/v1/conversations?"+q.Encode(), f.rep1Tok, nil)
				if r.status != 200 {
					t.Fatalf("%s: %d %s", name, r.status, r.body)
				}
				pages++
				ids := convIDs(r)
				if len(ids) > c.limit {
					t.Errorf("%s: a page of %d, over the limit", name, len(ids))
				}
				got = append(got, ids...)
				next, _ := r.json["next"].(string)
				if (next != "") != (len(ids) == c.limit) {
					t.Errorf("%s: page %d of %d items has next %q: want a cursor exactly when the page is full", name, pages, len(ids), next)
				}
				if next == "" {
					break
				}
				before = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: pages hold %v, want %v (the order of the whole list, each once)", name, got, want)
			}
			if pages != c.pages {
				t.Errorf("%s: %d pages, want %d", name, pages, c.pages)
			}
		}
		// The waiting stream is oldest first.
		w := f.api("GET", "/api/v1/conversations?stream=waiting", f.rep1Tok, nil)
		var since []time.Time
		for _, c := range w.json["conversations"].([]any) {
			at, err := time.Parse(time.RFC3339Nano, c.(map[string]any)["waiting_since"].(string))
			if err != nil {
				t.Fatal(err)
			}
			since = append(since, at)
		}
		if !slices.IsSortedFunc(since, time.Time.Compare) || len(since) != 3 {
			t.Errorf("waiting_since of the waiting stream: %v, want 3, oldest first", since)
		}
	})
}

func TestAPIConversationsGetAndMessages(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newConvFixture(t, d)
		vid, conv := f.visitorConv("Hello, anyone there?")
		f.setFields(f.ws.ID, vid, field.SourceRep, map[string]string{"email": "ann@globex.example", "first_name": "Ann", "last_name": "Lee", "company": "Globex"})
		f.accept(f.rep1Tok, conv)
		if r := f.api("POST", "/api/v1/conversations/"+conv+"/messages", f.rep1Tok, map[string]string{"text": "Hi Ann!", "client_id": "r-1"}); r.status != 201 {
			t.Fatalf("send: %d %s", r.status, r.body)
		}
		base := "/api/v1/conversations/" + conv
		seqs := func(r response) string {
			var out []string
			for _, m := range r.json["messages"].([]any) {
				mm := m.(map[string]any)
				out = append(out, fmt.Sprintf("%v:%v", mm["seq"], mm["author"]))
			}
			return strings.Join(out, " ")
		}
		f.run([]convStep{
			{name: "get", method: "GET", path: base, token: f.rep2Tok, status: 200, check: func(r response) string {
				v, _ := r.json["visitor"].(map[string]any)
				switch {
				case r.json["id"] != conv || r.json["visitor_id"] != vid || r.json["status"] != "open" || r.json["last_seq"] != 4.0:
					return "wrong conversation"
				case r.json["assignee_id"] != f.rep1.ID || r.json["started_by"] != "visitor":
					return "wrong owner or starter"
				case v["name"] != "Ann Lee" || v["email"] != "ann@globex.example" || v["company"] != "Globex" || v["id"] != vid:
					return fmt.Sprintf("visitor summary %v", v)
				case r.json["waiting_since"] != nil || r.json["closed_at"] != nil:
					return "an accepted open conversation neither waits nor has closed"
				}
				return ""
			}},
			{name: "unknown id", method: "GET", path: "/api/v1/conversations/conv_aaaaaaaaaaaaaaaaaaaaaaaaaa", token: f.rep1Tok, status: 404, code: "not_found"},
			{name: "not an id", method: "GET", path: "/api/v1/conversations/nope", token: f.rep1Tok, status: 404, code: "not_found"},
			{name: "all messages", method: "GET", path: base + "/messages", token: f.rep2Tok, status: 200, check: func(r response) string {
				if s := seqs(r); s != "1:visitor 2:bot 3:system 4:rep" {
					return "messages " + s
				}
				msgs := r.json["messages"].([]any)
				if m := msgs[3].(map[string]any); m["name"] != "Rita" || m["text"] != "Hi Ann!" || m["conversation_id"] != conv {
					return fmt.Sprintf("rep message %v", m)
				}
				if m := msgs[0].(map[string]any); m["name"] != "" || m["text"] != "Hello, anyone there?" {
					return fmt.Sprintf("visitor message %v", m)
				}
				return ""
			}},
			{name: "after 2", method: "GET", path: base + "/messages?after=2", token: f.rep1Tok, status: 200, check: func(r response) string {
				if s := seqs(r); s != "3:system 4:rep" {
					return "messages " + s
				}
				return ""
			}},
			{name: "after 1, limit 2", method: "GET", path: base + "/messages?after=1&limit=2", token: f.rep1Tok, status: 200, check: func(r response) string {
				if s := seqs(r); s != "2:bot 3:system" {
					return "messages " + s
				}
				return ""
			}},
			{name: "after the last", method: "GET", path: base + "/messages?after=4", token: f.rep1Tok, status: 200, check: func(r response) string {
				if s := string(r.body); !strings.Contains(s, `"messages":[]`) {
					return "want an empty list, not null"
				}
				return ""
			}},
			{name: "after -1", method: "GET", path: base + "/messages?after=-1", token: f.rep1Tok, status: 422, code: "invalid", field: "after"},
			{name: "after x", method: "GET", path: base + "/messages?after=x", token: f.rep1Tok, status: 422, code: "invalid", field: "after"},
			{name: "limit 0", method: "GET", path: base + "/messages?limit=0", token: f.rep1Tok, status: 422, code: "invalid", field: "limit"},
			{name: "limit 501", method: "GET", path: base + "/messages?limit=501", token: f.rep1Tok, status: 422, code: "invalid", field: "limit"},
			{name: "messages of an unknown conversation", method: "GET", path: "/api/v1/conversations/conv_aaaaaaaaaaaaaaaaaaaaaaaaaa/messages", token: f.rep1Tok, status: 404, code: "not_found"},
		})
	})
}

func TestAPIConversationsLifecycle(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newConvFixture(t, d)
		ctx := context.Background()
		vid, conv := f.visitorConv("I need a demo")
		base := "/api/v1/conversations/" + conv
		gone, _ := f.user("gus@acme.example", "Gus", identity.RoleRep, "users:read")
		if r := f.api("POST", "/api/v1/users/"+gone.ID+"/deactivate", f.adminToken, nil); r.status != 200 {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
		other, err := f.wss.Create(ctx, d, workspace.New{Name: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		stranger, _ := f.userWithToken(other.ID, "sid@globex.example", identity.RoleRep, "conversations:read")

		owner := func(id string) func(r response) string {
			return func(r response) string {
				if r.json["assignee_id"] != id {
					return fmt.Sprintf("assignee %v, want %s", r.json["assignee_id"], id)
				}
				if p := convParticipant(r.json, id); p == nil || p["role"] != "owner" || p["left_at"] != nil {
					return fmt.Sprintf("owner participant %v", p)
				}
				return ""
			}
		}
		var lastSeq float64
		f.run([]convStep{
			{name: "a rep writes before accepting", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": "Hi"}, status: 403, code: "forbidden"},
			{name: "accept", method: "POST", path: base + "/accept", token: f.rep1Tok, status: 200, check: func(r response) string {
				if r.json["waiting_since"] != nil {
					return "still waiting"
				}
				lastSeq, _ = r.json["last_seq"].(float64)
				return owner(f.rep1.ID)(r)
			}},
			{name: "accept again changes nothing", method: "POST", path: base + "/accept", token: f.rep1Tok, status: 200, check: func(r response) string {
				if r.json["last_seq"] != lastSeq {
					return "a second accept stored a message"
				}
				return owner(f.rep1.ID)(r)
			}},
			{name: "another rep accepts after", method: "POST", path: base + "/accept", token: f.rep2Tok, status: 409, code: "conflict", check: func(r response) string {
				if msg := r.json["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "already accepted by Rita") {
					return "message " + msg
				}
				return ""
			}},
			{name: "meetings-only accepts", method: "POST", path: base + "/accept", token: f.meetTok, status: 403, code: "forbidden"},
			{name: "send", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": "  Sure, when suits you?  ", "client_id": "r-1"}, status: 201, check: func(r response) string {
				if r.json["author"] != "rep" || r.json["text"] != "Sure, when suits you?" || r.json["name"] != "Rita" || r.json["seq"] != lastSeq+1 {
					return "wrong message"
				}
				return ""
			}},
			{name: "a retry is stored once", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": "Sure, when suits you?", "client_id": "r-1"}, status: 201, check: func(r response) string {
				if r.json["seq"] != lastSeq+1 {
					return "the retry was stored again"
				}
				return ""
			}},
			{name: "empty text", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": " \n "}, status: 422, code: "invalid", field: "text"},
			{name: "text too long", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": strings.Repeat("é", 4001)}, status: 422, code: "invalid", field: "text"},
			{name: "control characters", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": "a\x07b"}, status: 422, code: "invalid", field: "text"},
			{name: "client id with a space", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": "x", "client_id": "a b"}, status: 422, code: "invalid", field: "client_id"},

			{name: "transfer by a rep who does not own it", method: "POST", path: base + "/transfer", token: f.rep2Tok, body: map[string]string{"user_id": f.rep3.ID}, status: 403, code: "forbidden"},
			{name: "transfer to a meetings-only user", method: "POST", path: base + "/transfer", token: f.rep1Tok, body: map[string]string{"user_id": f.meet.ID}, status: 422, code: "invalid", field: "user_id"},
			{name: "transfer to a deactivated user", method: "POST", path: base + "/transfer", token: f.rep1Tok, body: map[string]string{"user_id": gone.ID}, status: 422, code: "invalid", field: "user_id"},
			{name: "transfer to an unknown id", method: "POST", path: base + "/transfer", token: f.rep1Tok, body: map[string]string{"user_id": "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, status: 404, code: "not_found"},
			{name: "transfer to another workspace's user", method: "POST", path: base + "/transfer", token: f.rep1Tok, body: map[string]string{"user_id": stranger.ID}, status: 404, code: "not_found"},
			{name: "transfer to nobody", method: "POST", path: base + "/transfer", token: f.rep1Tok, body: map[string]string{}, status: 422, code: "invalid", field: "user_id"},
			{name: "transfer to oneself", method: "POST", path: base + "/transfer", token: f.rep1Tok, body: map[string]string{"user_id": f.rep1.ID}, status: 422, code: "invalid"},
			{name: "transfer to an active rep", method: "POST", path: base + "/transfer", token: f.rep1Tok, body: map[string]string{"user_id": f.rep2.ID}, status: 200, check: func(r response) string {
				if p := convParticipant(r.json, f.rep1.ID); p == nil || p["left_at"] == nil {
					return fmt.Sprintf("the previous owner is still present: %v", p)
				}
				return owner(f.rep2.ID)(r)
			}},
			{name: "transfer to the owner", method: "POST", path: base + "/transfer", token: f.adminToken, body: map[string]string{"user_id": f.rep2.ID}, status: 409, code: "conflict"},
			{name: "the previous owner writes", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": "Still here?"}, status: 403, code: "forbidden"},

			{name: "invite by a rep who left", method: "POST", path: base + "/invite", token: f.rep1Tok, body: map[string]string{"user_id": f.rep3.ID}, status: 403, code: "forbidden"},
			{name: "invite a meetings-only user", method: "POST", path: base + "/invite", token: f.rep2Tok, body: map[string]string{"user_id": f.meet.ID}, status: 422, code: "invalid", field: "user_id"},
			{name: "invite an unknown id", method: "POST", path: base + "/invite", token: f.rep2Tok, body: map[string]string{"user_id": "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, status: 404, code: "not_found"},
			{name: "invite", method: "POST", path: base + "/invite", token: f.rep2Tok, body: map[string]string{"user_id": f.rep1.ID}, status: 200, check: func(r response) string {
				if p := convParticipant(r.json, f.rep1.ID); p == nil || p["role"] != "guest" || p["left_at"] != nil {
					return fmt.Sprintf("guest %v", p)
				}
				return owner(f.rep2.ID)(r)
			}},
			{name: "invite a rep already in", method: "POST", path: base + "/invite", token: f.rep2Tok, body: map[string]string{"user_id": f.rep1.ID}, status: 409, code: "conflict"},
			{name: "the guest writes", method: "POST", path: base + "/messages", token: f.rep1Tok, body: map[string]string{"text": "I can show the demo"}, status: 201},

			{name: "leave by a rep not in it", method: "POST", path: base + "/leave", token: f.rep3Tok, status: 403, code: "forbidden"},
			{name: "the owner leaves", method: "POST", path: base + "/leave", token: f.rep2Tok, status: 409, code: "conflict"},
			{name: "the guest leaves", method: "POST", path: base + "/leave", token: f.rep1Tok, status: 200, check: func(r response) string {
				if p := convParticipant(r.json, f.rep1.ID); p == nil || p["left_at"] == nil {
					return fmt.Sprintf("the guest is still present: %v", p)
				}
				return owner(f.rep2.ID)(r)
			}},
			{name: "leave twice", method: "POST", path: base + "/leave", token: f.rep1Tok, status: 403, code: "forbidden"},

			{name: "close by a rep not in it", method: "POST", path: base + "/close", token: f.rep3Tok, status: 403, code: "forbidden"},
			{name: "close", method: "POST", path: base + "/close", token: f.rep2Tok, status: 200, check: func(r response) string {
				if r.json["status"] != "closed" || r.json["closed_by"] != f.rep2.ID || r.json["closed_at"] == nil {
					return "not closed by rep2"
				}
				return ""
			}},
			{name: "close twice", method: "POST", path: base + "/close", token: f.rep2Tok, status: 409, code: "conflict"},
			{name: "write to a closed conversation", method: "POST", path: base + "/messages", token: f.rep2Tok, body: map[string]string{"text": "one more thing"}, status: 409, code: "conflict"},
			{name: "accept a closed conversation", method: "POST", path: base + "/accept", token: f.rep3Tok, status: 409, code: "conflict"},
			{name: "transfer a closed conversation", method: "POST", path: base + "/transfer", token: f.rep2Tok, body: map[string]string{"user_id": f.rep3.ID}, status: 409, code: "conflict"},
			{name: "reopen by a rep not in it", method: "POST", path: base + "/reopen", token: f.rep3Tok, status: 403, code: "forbidden"},
			{name: "reopen", method: "POST", path: base + "/reopen", token: f.rep2Tok, status: 200, check: func(r response) string {
				if r.json["status"] != "open" || r.json["closed_at"] != nil || r.json["closed_by"] != nil {
					return "not open"
				}
				return owner(f.rep2.ID)(r)
			}},
			{name: "reopen an open conversation", method: "POST", path: base + "/reopen", token: f.rep2Tok, status: 409, code: "conflict"},
			{name: "an admin closes a conversation they are not in", method: "POST", path: base + "/close", token: f.adminToken, status: 200},
		})

		// The visitor writes again: a new conversation. The old one cannot be reopened while it is
		// open, by its owner or by an admin.
		newer := f.visitorSays(vid, "Back again")
		if newer == conv {
			t.Fatal("a closed conversation took the visitor's new message")
		}
		for _, tok := range []string{f.rep2Tok, f.adminToken} {
			r := f.api("POST", base+"/reopen", tok, nil)
			if r.status != 409 || r.errCode() != "conflict" || !strings.Contains(string(r.body), newer) {
				t.Errorf("reopen while another is open: %d %s, want 409 naming %s", r.status, r.body, newer)
			}
		}
		// The transcript of system messages tells the story.
		r := f.api("GET", base+"/messages", f.rep3Tok, nil)
		var system []string
		for _, m := range r.json["messages"].([]any) {
			if mm := m.(map[string]any); mm["author"] == "system" {
				system = append(system, mm["text"].(string))
			}
		}
		want := []string{"Rita joined the conversation", "Rita transferred the conversation to Sam", "Sam invited Rita to the conversation",
			"Rita left the conversation", "Conversation closed by Sam", "Conversation reopened by Sam", "Conversation closed by Ada Admin"}
		if !slices.Equal(system, want) {
			t.Errorf("system messages:\n%q\nwant\n%q", system, want)
		}
	})
}

func TestAPIConversationsTranscript(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newConvFixture(t, d)
		vid, conv := f.visitorConv("Please send me the details")
		f.accept(f.rep1Tok, conv)
		f.api("POST", "/api/v1/conversations/"+conv+"/messages", f.rep1Tok, map[string]string{"text": "Here they are: 42 seats"})
		path := "/api/v1/conversations/" + conv + "/transcript"
		queued := func(to string) func(r response) string {
			return func(r response) string {
				if r.json["status"] != "queued" {
					return "status not queued"
				}
				m := f.mail.last()
				if !slices.Equal(m.To, []string{to}) || !strings.Contains(m.Text, "Here they are: 42 seats") || !strings.Contains(m.Text, "Please send me the details") {
					return fmt.Sprintf("mail to %v: %q", m.To, m.Text)
				}
				return ""
			}
		}
		before := convMailCount(f.mail)
		f.run([]convStep{
			{name: "by a rep not in it", method: "POST", path: path, token: f.rep2Tok, body: map[string]string{"email": "buyer@globex.example"}, status: 403, code: "forbidden"},
			{name: "bad address", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{"email": "not an address"}, status: 422, code: "invalid", field: "email"},
			{name: "no address, and the visitor left none", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{}, status: 422, code: "invalid", field: "email"},
			{name: "no body", method: "POST", path: path, token: f.rep1Tok, body: "", status: 400, code: "malformed"},
			{name: "to an address", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{"email": "buyer@globex.example"}, status: 202, check: queued("buyer@globex.example")},
		})
		if n := convMailCount(f.mail) - before; n != 1 {
			t.Fatalf("%d emails queued, want 1 (refused calls queue nothing)", n)
		}
		f.setFields(f.ws.ID, vid, field.SourceVisitor, map[string]string{"email": "ann@globex.example"})
		f.run([]convStep{
			{name: "to the visitor's email", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{}, status: 202, check: queued("ann@globex.example")},
			{name: "by an admin not in it", method: "POST", path: path, token: f.adminToken, body: map[string]string{"email": ""}, status: 202, check: queued("ann@globex.example")},
			{name: "fourth", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{}, status: 202},
			{name: "fifth", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{}, status: 202},
			{name: "sixth", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{}, status: 429, code: "too_many_requests"},
		})
		if n := convMailCount(f.mail) - before; n != 5 {
			t.Errorf("%d emails queued, want 5", n)
		}
		if r := f.api("GET", "/api/v1/conversations/"+conv, f.rep1Tok, nil); r.json["transcripts_sent"] != 5.0 {
			t.Errorf("transcripts_sent = %v, want 5", r.json["transcripts_sent"])
		}
	})
}

func TestAPIConversationsStart(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newConvFixture(t, d)
		vid := f.newVisitor(f.ws.ID, siteOrigin+"/pricing", "Pricing").VisitorID
		path := "/api/v1/visitors/" + vid + "/conversations"
		var conv, msg string
		started := func(r response) string {
			c, _ := r.json["conversation"].(map[string]any)
			m, _ := r.json["message"].(map[string]any)
			if c["visitor_id"] != vid || c["assignee_id"] != f.rep1.ID || c["started_by"] != "rep" || c["status"] != "open" || c["waiting_since"] != nil {
				return "wrong conversation"
			}
			if m["author"] != "rep" || m["text"] != "Can I help you with pricing?" || m["conversation_id"] != c["id"] || m["seq"] != 2.0 {
				return "wrong message"
			}
			if conv == "" {
				conv, msg = c["id"].(string), m["id"].(string)
			} else if c["id"] != conv || m["id"] != msg {
				return "a retry started another conversation"
			}
			if loc := r.header.Get("Location"); loc != "/api/v1/conversations/"+conv {
				return "Location " + loc
			}
			return ""
		}
		_, waitingConv := f.visitorConv("Hi")
		waitingVisitor := f.api("GET", "/api/v1/conversations/"+waitingConv, f.rep1Tok, nil).json["visitor_id"].(string)
		f.run([]convStep{
			{name: "meetings-only", method: "POST", path: path, token: f.meetTok, body: map[string]string{"text": "Hi"}, status: 403, code: "forbidden"},
			{name: "read-only token", method: "POST", path: path, token: f.convReadTok, body: map[string]string{"text": "Hi"}, status: 403, code: "forbidden"},
			{name: "empty text", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{"text": ""}, status: 422, code: "invalid", field: "text"},
			{name: "unknown visitor", method: "POST", path: "/api/v1/visitors/vis_aaaaaaaaaaaaaaaaaaaaaaaaaa/conversations", token: f.rep1Tok, body: map[string]string{"text": "Hi"}, status: 404, code: "not_found"},
			{name: "not a visitor id", method: "POST", path: "/api/v1/visitors/nope/conversations", token: f.rep1Tok, body: map[string]string{"text": "Hi"}, status: 404, code: "not_found"},
			{name: "start", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{"text": "Can I help you with pricing?", "client_id": "s-1"}, status: 201, check: started},
			{name: "a retry", method: "POST", path: path, token: f.rep1Tok, body: map[string]string{"text": "Can I help you with pricing?", "client_id": "s-1"}, status: 201, check: started},
			{name: "another rep while it is open", method: "POST", path: path, token: f.rep2Tok, body: map[string]string{"text": "Hello"}, status: 409, code: "conflict"},
			{name: "a visitor whose conversation waits", method: "POST", path: "/api/v1/visitors/" + waitingVisitor + "/conversations", token: f.rep2Tok, body: map[string]string{"text": "Hello"}, status: 409, code: "conflict"},
		})
		if conv == "" {
			t.Fatal("no conversation started")
		}
		mine := f.api("GET", "/api/v1/conversations?stream=mine", f.rep1Tok, nil)
		if ids := convIDs(mine); !slices.Equal(ids, []string{conv}) {
			t.Errorf("rep1's conversations: %v, want the started one %s", ids, conv)
		}
		// Once it is closed, the rep can start another.
		f.api("POST", "/api/v1/conversations/"+conv+"/close", f.rep1Tok, nil)
		if r := f.api("POST", path, f.rep2Tok, map[string]string{"text": "Anything else?"}); r.status != 201 {
			t.Errorf("start after close: %d %s", r.status, r.body)
		}
	})
}

func TestAPIPresence(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newConvFixture(t, d)
		state := func(user, chosen, status, reason string) func(r response) string {
			return func(r response) string {
				if r.json["user_id"] != user || r.json["chosen"] != chosen || r.json["status"] != status || r.json["reason"] != reason {
					return fmt.Sprintf("want %s %s %s %s", user, chosen, status, reason)
				}
				return ""
			}
		}
		listed := func(want map[string]string) func(r response) string {
			return func(r response) string {
				got := map[string]string{}
				for _, p := range r.json["presence"].([]any) {
					pm := p.(map[string]any)
					got[pm["user_id"].(string)] = pm["chosen"].(string) + "/" + pm["status"].(string)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					return fmt.Sprintf("presence %v, want %v", got, want)
				}
				return ""
			}
		}
		f.run([]convStep{
			{name: "never seen", method: "GET", path: "/api/v1/me/presence", token: f.rep1Tok, status: 200, check: state(f.rep1.ID, "available", "offline", "disconnected")},
			{name: "nobody seen yet", method: "GET", path: "/api/v1/presence", token: f.rep2Tok, status: 200, check: listed(map[string]string{})},
			{name: "away", method: "PUT", path: "/api/v1/me/presence", token: f.rep1Tok, body: map[string]string{"status": "away"}, status: 200, check: state(f.rep1.ID, "away", "offline", "disconnected")},
			{name: "bad status", method: "PUT", path: "/api/v1/me/presence", token: f.rep1Tok, body: map[string]string{"status": "busy"}, status: 422, code: "invalid", field: "status"},
			{name: "offline is not a choice", method: "PUT", path: "/api/v1/me/presence", token: f.rep1Tok, body: map[string]string{"status": "offline"}, status: 422, code: "invalid", field: "status"},
			{name: "no status", method: "PUT", path: "/api/v1/me/presence", token: f.rep1Tok, body: map[string]string{}, status: 422, code: "invalid", field: "status"},
			{name: "the bad ones changed nothing", method: "GET", path: "/api/v1/me/presence", token: f.rep1Tok, status: 200, check: state(f.rep1.ID, "away", "offline", "disconnected")},
			{name: "listed", method: "GET", path: "/api/v1/presence", token: f.rep2Tok, status: 200, check: listed(map[string]string{f.rep1.ID: "away/offline"})},
			{name: "meetings-only reads their own", method: "GET", path: "/api/v1/me/presence", token: f.meetTok, status: 200, check: state(f.meet.ID, "available", "offline", "disconnected")},
			{name: "meetings-only sets a status", method: "PUT", path: "/api/v1/me/presence", token: f.meetTok, body: map[string]string{"status": "available"}, status: 403, code: "forbidden"},
			{name: "read-only token sets a status", method: "PUT", path: "/api/v1/me/presence", token: f.convReadTok, body: map[string]string{"status": "available"}, status: 403, code: "forbidden"},
			{name: "list without conversations:read", method: "GET", path: "/api/v1/presence", token: f.readerTok, status: 403, code: "forbidden"},
			{name: "available again", method: "PUT", path: "/api/v1/me/presence", token: f.rep1Tok, body: map[string]string{"status": "available"}, status: 200, check: state(f.rep1.ID, "available", "offline", "disconnected")},
		})
		// With a console open, the chosen status is the status.
		release, err := f.presence.Connect(context.Background(), f.ws.ID, f.rep2.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		f.run([]convStep{
			{name: "connected", method: "GET", path: "/api/v1/me/presence", token: f.rep2Tok, status: 200, check: func(r response) string {
				if r.json["status"] != "available" || r.json["connections"] != 1.0 {
					return "not available with one connection"
				}
				return ""
			}},
			{name: "connected, away", method: "PUT", path: "/api/v1/me/presence", token: f.rep2Tok, body: map[string]string{"status": "away"}, status: 200, check: state(f.rep2.ID, "away", "away", "chosen")},
			{name: "both listed", method: "GET", path: "/api/v1/presence", token: f.rep1Tok, status: 200, check: listed(map[string]string{f.rep1.ID: "available/offline", f.rep2.ID: "away/away"})},
		})
	})
}

// TestAPIConversationsRefusals covers scopes, tenancy and bodies the API refuses.
func TestAPIConversationsRefusals(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newConvFixture(t, d)
		ctx := context.Background()
		vid, conv := f.visitorConv("Hello")
		f.accept(f.rep1Tok, conv)
		base := "/api/v1/conversations/" + conv

		// Another workspace, its visitor and its waiting conversation.
		other, err := f.wss.Create(ctx, d, workspace.New{Name: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		otherVisitor := f.newVisitor(other.ID, "https://globex.example/", "Globex").VisitorID
		oc, _, _, err := f.chat.VisitorMessage(ctx, other.ID, otherVisitor, "theirs", "")
		if err != nil {
			t.Fatal(err)
		}
		_, otherTok := f.userWithToken(other.ID, "gina@globex.example", identity.RoleAdmin, "conversations:read", "conversations:write")
		ob := "/api/v1/conversations/" + oc.ID
		userBody := map[string]string{"user_id": f.rep2.ID}
		textBody := map[string]string{"text": "mine now"}

		steps := []convStep{
			// Scopes.
			{name: "list without conversations:read", method: "GET", path: "/api/v1/conversations", token: f.readerTok, status: 403, code: "forbidden"},
			{name: "get without conversations:read", method: "GET", path: base, token: f.readerTok, status: 403, code: "forbidden"},
			{name: "messages without conversations:read", method: "GET", path: base + "/messages", token: f.readerTok, status: 403, code: "forbidden"},
			{name: "meetings-only lists", method: "GET", path: "/api/v1/conversations", token: f.meetTok, status: 403, code: "forbidden"},
			{name: "read-only token reads", method: "GET", path: base, token: f.convReadTok, status: 200},
			{name: "no token", method: "GET", path: "/api/v1/conversations", token: "", status: 401, code: "unauthenticated"},
			{name: "a bad token", method: "GET", path: "/api/v1/me/presence", token: "bkt_nope", status: 401, code: "unauthenticated"},
		}
		for _, a := range []struct {
			action string
			body   any
		}{{"messages", textBody}, {"accept", nil}, {"transfer", userBody}, {"invite", userBody}, {"leave", nil}, {"close", nil}, {"reopen", nil}, {"transcript", map[string]string{}}} {
			steps = append(steps, convStep{name: "read-only token: " + a.action, method: "POST", path: base + "/" + a.action, token: f.convReadTok, body: a.body, status: 403, code: "forbidden"})
		}
		// Tenancy: another workspace's conversation and visitor are not found, whatever the call.
		for _, a := range []struct {
			method, path string
			body         any
		}{
			{"GET", ob, nil}, {"GET", ob + "/messages", nil}, {"POST", ob + "/messages", textBody}, {"POST", ob + "/accept", nil},
			{"POST", ob + "/transfer", userBody}, {"POST", ob + "/invite", userBody}, {"POST", ob + "/leave", nil},
			{"POST", ob + "/close", nil}, {"POST", ob + "/reopen", nil}, {"POST", ob + "/transcript", map[string]string{"email": "x@acme.example"}},
			{"POST", ob + "/transcript", map[string]string{}},
			{"POST", "/api/v1/visitors/" + otherVisitor + "/conversations", textBody},
		} {
			steps = append(steps, convStep{name: "another workspace's, by its admin", method: a.method, path: a.path, token: f.adminToken, body: a.body, status: 404, code: "not_found"})
		}
		steps = append(steps,
			convStep{name: "this workspace's, by another's admin", method: "GET", path: base, token: otherTok, status: 404, code: "not_found"},
			convStep{name: "this workspace's messages, by another's admin", method: "GET", path: base + "/messages", token: otherTok, status: 404, code: "not_found"},
			convStep{name: "this workspace's, closed by another's admin", method: "POST", path: base + "/close", token: otherTok, status: 404, code: "not_found"},
			convStep{name: "this workspace's visitor, by another's admin", method: "POST", path: "/api/v1/visitors/" + vid + "/conversations", token: otherTok, body: textBody, status: 404, code: "not_found"},
			convStep{name: "another's list holds only its own", method: "GET", path: "/api/v1/conversations", token: otherTok, status: 200, check: func(r response) string {
				counts := r.json["counts"].(map[string]any)
				if ids := convIDs(r); !slices.Equal(ids, []string{oc.ID}) || counts["all"] != 1.0 || counts["waiting"] != 1.0 {
					return fmt.Sprintf("ids %v counts %v", ids, counts)
				}
				return ""
			}},
			convStep{name: "filtering by another's visitor finds nothing", method: "GET", path: "/api/v1/conversations?visitor_id=" + otherVisitor, token: f.adminToken, status: 200, check: func(r response) string {
				if ids := convIDs(r); len(ids) != 0 {
					return fmt.Sprintf("ids %v", ids)
				}
				return ""
			}},
		)
		// Bodies that cannot be read.
		for _, b := range []struct {
			name, method, path, body string
		}{
			{"truncated JSON", "POST", base + "/messages", `{"text":`},
			{"unknown field", "POST", base + "/messages", `{"text":"hi","html":"<b>hi</b>"}`},
			{"an array", "POST", base + "/messages", `["hi"]`},
			{"null", "PUT", "/api/v1/me/presence", `null`},
			{"data after the object", "POST", base + "/transfer", `{"user_id":"x"} {}`},
			{"a number for user_id", "POST", base + "/invite", `{"user_id":5}`},
			{"an object for client_id", "POST", "/api/v1/visitors/" + vid + "/conversations", `{"text":"hi","client_id":{}}`},
			{"a string for email", "POST", base + "/transcript", `{"email":["a@b.example"]}`},
			{"an empty body", "PUT", "/api/v1/me/presence", ``},
		} {
			steps = append(steps, convStep{name: b.name, method: b.method, path: b.path, token: f.rep1Tok, body: b.body, status: 400, code: "malformed"})
		}
		f.run(steps)

		// A body of the wrong type, or too large.
		for _, c := range []struct {
			name, method, path, ct, body string
			status                       int
			code                         string
		}{
			{"text/plain message", "POST", base + "/messages", "text/plain", `{"text":"hi"}`, 400, "malformed"},
			{"form transfer", "POST", base + "/transfer", "application/x-www-form-urlencoded", `user_id=` + f.rep2.ID, 400, "malformed"},
			{"no content type", "PUT", "/api/v1/me/presence", "", `{"status":"away"}`, 400, "malformed"},
			{"xml start", "POST", "/api/v1/visitors/" + vid + "/conversations", "application/xml", `<text>hi</text>`, 400, "malformed"},
			{"over the body limit", "POST", base + "/messages", "application/json", `{"text":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "too_large"},
		} {
			r := f.apiWith(c.method, c.path, f.rep1Tok, c.body, map[string]string{"Content-Type": c.ct})
			if r.status != c.status || r.errCode() != c.code {
				t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
			}
		}

		// None of it changed anything: the other workspace's conversation still waits, untouched,
		// and this one holds the visitor's message, the bot's and the accept.
		after, err := f.chat.Get(ctx, other.ID, oc.ID)
		if err != nil || after.LastSeq != oc.LastSeq || after.Status != "open" || after.AssigneeID != "" || len(after.Participants) != 0 {
			t.Errorf("another workspace's conversation changed: %+v %v", after, err)
		}
		if r := f.api("GET", base, f.rep1Tok, nil); r.json["last_seq"] != 3.0 || r.json["status"] != "open" || r.json["assignee_id"] != f.rep1.ID {
			t.Errorf("refused calls changed the conversation: %s", r.body)
		}
		if r := f.api("GET", "/api/v1/me/presence", f.rep1Tok, nil); r.json["chosen"] != "available" {
			t.Errorf("a refused presence change was stored: %s", r.body)
		}
	})
}

// TestAPIConversationsDocCheck proves that the document check of these tests fails on answers
// the document does not describe, so that their passing means something.
func TestAPIConversationsDocCheck(t *testing.T) {
	f := newConvFixture(t, testkit.SQLite(t))
	_, conv := f.visitorConv("Hello")
	get := f.call("GET", "/api/v1/conversations/"+conv, f.rep1Tok, nil)
	list := f.call("GET", "/api/v1/conversations", f.rep1Tok, nil)
	if get.status != 200 || list.status != 200 {
		t.Fatalf("get %d, list %d", get.status, list.status)
	}
	if p := f.doc.answerProblems("GET", "/api/v1/conversations/"+conv, get); len(p) != 0 {
		t.Fatalf("the true document: %v", p)
	}
	edit := func(r response, change func(m map[string]any)) response {
		var m map[string]any
		json.Unmarshal(r.body, &m)
		change(m)
		r.body, _ = json.Marshal(m)
		return r
	}
	for _, c := range []struct {
		name, method, path string
		r                  response
	}{
		{"an undeclared key", "GET", "/api/v1/conversations/" + conv, edit(get, func(m map[string]any) { m["secret"] = "x" })},
		{"a required key missing", "GET", "/api/v1/conversations/" + conv, edit(get, func(m map[string]any) { delete(m, "visitor") })},
		{"a status outside the enum", "GET", "/api/v1/conversations/" + conv, edit(get, func(m map[string]any) { m["status"] = "pending" })},
		{"a wrong type deep inside", "GET", "/api/v1/conversations", edit(list, func(m map[string]any) {
			m["conversations"].([]any)[0].(map[string]any)["last_message"].(map[string]any)["seq"] = "1"
		})},
		{"a count missing", "GET", "/api/v1/conversations", edit(list, func(m map[string]any) { delete(m["counts"].(map[string]any), "mine") })},
		{"a bad date-time", "GET", "/api/v1/conversations/" + conv, edit(get, func(m map[string]any) { m["created_at"] = "yesterday" })},
		{"an undocumented status", "GET", "/api/v1/conversations/" + conv, response{status: 418, body: []byte(`{}`)}},
		{"an undocumented route", "DELETE", "/api/v1/conversations/" + conv, get},
	} {
		if p := f.doc.answerProblems(c.method, c.path, c.r); len(p) == 0 {
			t.Errorf("%s: the check found nothing wrong", c.name)
		}
	}
}
