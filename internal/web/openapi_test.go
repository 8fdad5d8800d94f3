package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/routing"
	"github.com/beckonhq/beckon/internal/testkit"
)

// The tests in this file keep openapi.json true to the route table and the handlers. The
// conventions they enforce:
//
//   - every /api/v1 route is one operation, and nothing else is;
//   - a route with a scope has "x-beckon-scope" equal to it and names it in its description;
//     a route whose scope the handler decides ("" in the route table) has no "x-beckon-scope"
//     and states its rule in a "**Scope:**" line of its description;
//   - a public route has "security": []; an authenticated one keeps the global bearerAuth;
//   - error responses are the shared components/responses, whose example code matches the status.

// oaDoc is the parsed OpenAPI document.
type oaDoc struct {
	root map[string]any
}

var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oaOp is one operation of the document.
type oaOp struct {
	method, path string // "GET", "/api/v1/users/{id}"
	item, op     map[string]any
}

func (o oaOp) String() string { return o.method + " " + o.path }

func loadOpenAPI(t *testing.T) *oaDoc {
	t.Helper()
	if err := noDuplicateKeys(json.NewDecoder(bytes.NewReader(openapiDoc)), ""); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var root map[string]any
	if err := json.Unmarshal(openapiDoc, &root); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return &oaDoc{root: root}
}

// noDuplicateKeys walks one JSON value and fails on an object that names a key twice, which
// encoding/json would silently resolve to the last.
func noDuplicateKeys(dec *json.Decoder, at string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("at %q: %w", at, err)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("at %q: %w", at, err)
			}
			key := kt.(string)
			if seen[key] {
				return fmt.Errorf("at %q: duplicate key %q", at, key)
			}
			seen[key] = true
			if err := noDuplicateKeys(dec, at+"/"+key); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := noDuplicateKeys(dec, fmt.Sprintf("%s/%d", at, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// pointer resolves a local reference such as "#/components/schemas/User".
func (d *oaDoc) pointer(ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	var cur any = d.root
	if p == "" {
		return cur, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	for _, part := range strings.Split(p[1:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			if cur, ok = c[part]; !ok {
				return nil, false
			}
		case []any:
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// deref follows $ref until it reaches an object without one (nil when a reference is broken).
func (d *oaDoc) deref(v any) map[string]any {
	m, _ := v.(map[string]any)
	for i := 0; m != nil && i < 32; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, _ := d.pointer(ref)
		m, _ = target.(map[string]any)
	}
	return nil
}

func (d *oaDoc) operations() []oaOp {
	paths, _ := d.root["paths"].(map[string]any)
	var out []oaOp
	for path, v := range paths {
		item, _ := v.(map[string]any)
		for _, m := range oaMethods {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, oaOp{method: strings.ToUpper(m), path: path, item: item, op: op})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (d *oaDoc) operation(method, path string) (oaOp, bool) {
	for _, o := range d.operations() {
		if o.method == method && o.path == path {
			return o, true
		}
	}
	return oaOp{}, false
}

// apiRoutes returns the /api/v1 routes of a real server, by "METHOD pattern".
func apiRoutes(t *testing.T) map[string]RouteInfo {
	t.Helper()
	h := newHarness(t, testkit.SQLite(t))
	out := map[string]RouteInfo{}
	for _, r := range h.s.Routes() {
		if strings.HasPrefix(r.Pattern, "/api/v1/") {
			out[r.Method+" "+r.Pattern] = r
		}
	}
	if len(out) == 0 {
		t.Fatal("no /api/v1 routes in Routes()")
	}
	return out
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	d := loadOpenAPI(t)
	if v := d.root["openapi"]; v != "3.1.0" {
		t.Errorf(`"openapi" = %v, want "3.1.0"`, v)
	}
	info, _ := d.root["info"].(map[string]any)
	if info["title"] != "Beckon API" || info["version"] != "v1" {
		t.Errorf("info = %v %v, want title Beckon API and version v1", info["title"], info["version"])
	}
	if s, _ := info["description"].(string); !strings.Contains(s, "Authorization: Bearer bkt_") || !strings.Contains(s, "POST /api/v1/tokens") {
		t.Error("info.description must explain 'Authorization: Bearer bkt_…' tokens and POST /api/v1/tokens")
	}
	if !reflect.DeepEqual(d.root["servers"], []any{map[string]any{"url": "/"}}) {
		t.Errorf(`servers = %v, want [{"url": "/"}]`, d.root["servers"])
	}
	if !reflect.DeepEqual(d.root["security"], []any{map[string]any{"bearerAuth": []any{}}}) {
		t.Errorf(`security = %v, want [{"bearerAuth": []}]`, d.root["security"])
	}
	scheme := d.deref(d.root["components"].(map[string]any)["securitySchemes"].(map[string]any)["bearerAuth"])
	if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
		t.Errorf("components.securitySchemes.bearerAuth = %v, want http bearer", scheme)
	}

	routes := apiRoutes(t)
	documented := map[string]bool{}
	for _, o := range d.operations() {
		documented[o.String()] = true
	}
	paths, _ := d.root["paths"].(map[string]any)
	for path, v := range paths {
		if !strings.HasPrefix(path, "/api/v1/") {
			t.Errorf("paths has %s: only /api/v1 routes belong in the document", path)
		}
		for key := range v.(map[string]any) {
			if !slices.Contains(oaMethods, key) && !slices.Contains([]string{"parameters", "summary", "description"}, key) {
				t.Errorf("paths[%s] has unexpected key %q", path, key)
			}
		}
	}
	var missing, extra []string
	for k := range routes {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if _, ok := routes[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is not in openapi.json", k)
	}
	for _, k := range extra {
		t.Errorf("openapi.json documents %s, which is not a route", k)
	}
}

var pathParam = regexp.MustCompile(`\{([^}]*)\}`)

func TestOpenAPIOperations(t *testing.T) {
	d := loadOpenAPI(t)
	routes := apiRoutes(t)

	// Every $ref resolves within the document.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"]; ok {
				s, _ := ref.(string)
				if _, ok := d.pointer(s); !ok || !strings.HasPrefix(s, "#/") {
					t.Errorf("%s: $ref %v does not resolve within the document", at, ref)
				}
			}
			for k, e := range x {
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range x {
				walk(e, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(d.root, "#")

	// Enumerations that mirror Go values.
	schemas := d.root["components"].(map[string]any)["schemas"].(map[string]any)
	enumOf := func(name string) []string {
		s := d.deref(schemas[name])
		var out []string
		for _, e := range s["enum"].([]any) {
			out = append(out, e.(string))
		}
		return out
	}
	var scopes, roles, states, codes []string
	for _, s := range identity.AllScopes {
		scopes = append(scopes, string(s))
	}
	for _, r := range identity.Roles {
		roles = append(roles, string(r))
	}
	for _, s := range jobs.States {
		states = append(states, string(s))
	}
	codeStatus := map[string]string{}
	for k, st := range statusOf {
		codes = append(codes, k.String())
		codeStatus[k.String()] = fmt.Sprint(st)
	}
	for _, c := range []struct {
		name string
		want []string
	}{{"Scope", scopes}, {"Role", roles}, {"JobState", states}} {
		if got := enumOf(c.name); !reflect.DeepEqual(got, c.want) {
			t.Errorf("components.schemas.%s.enum = %v, want %v", c.name, got, c.want)
		}
	}
	errBody := d.deref(d.deref(schemas["Error"])["properties"].(map[string]any)["error"])
	var gotCodes []string
	for _, e := range d.deref(errBody["properties"].(map[string]any)["code"])["enum"].([]any) {
		gotCodes = append(gotCodes, e.(string))
	}
	sort.Strings(codes)
	sort.Strings(gotCodes)
	if !reflect.DeepEqual(gotCodes, codes) {
		t.Errorf("Error code enum = %v, want the kinds of statusOf %v", gotCodes, codes)
	}

	ids := map[string]string{}
	for _, o := range d.operations() {
		rt, isRoute := routes[o.String()]
		id, _ := o.op["operationId"].(string)
		switch {
		case id == "":
			t.Errorf("%s has no operationId", o)
		case ids[id] != "":
			t.Errorf("%s and %s share operationId %q", ids[id], o, id)
		default:
			ids[id] = o.String()
		}
		if s, _ := o.op["summary"].(string); s == "" {
			t.Errorf("%s has no summary", o)
		}
		desc, _ := o.op["description"].(string)

		// Path parameters: exactly those of the template, declared on the path item or the operation.
		var inPath []string
		for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
			inPath = append(inPath, m[1])
		}
		declared := map[string]bool{}
		for _, list := range []any{o.item["parameters"], o.op["parameters"]} {
			ps, _ := list.([]any)
			for _, p := range ps {
				pm := d.deref(p)
				if pm == nil {
					t.Errorf("%s: parameter %v does not resolve", o, p)
					continue
				}
				if pm["in"] != "path" {
					continue
				}
				name, _ := pm["name"].(string)
				declared[name] = true
				if pm["required"] != true {
					t.Errorf("%s: path parameter %q must be required", o, name)
				}
				if !slices.Contains(inPath, name) {
					t.Errorf("%s: declares path parameter %q that is not in the path", o, name)
				}
			}
		}
		for _, name := range inPath {
			if !declared[name] {
				t.Errorf("%s: path parameter {%s} is not declared", o, name)
			}
		}

		// Security and scope.
		scope, hasScope := o.op["x-beckon-scope"]
		sec, hasSec := o.op["security"]
		if isRoute {
			switch rt.Auth {
			case "public":
				if !hasSec || !reflect.DeepEqual(sec, []any{}) {
					t.Errorf(`%s is public: want "security": [], have %v`, o, sec)
				}
				if hasScope {
					t.Errorf("%s is public but has x-beckon-scope %v", o, scope)
				}
			case "api":
				if hasSec && !strings.Contains(fmt.Sprint(sec), "bearerAuth") {
					t.Errorf("%s needs authentication, but its security %v drops bearerAuth", o, sec)
				}
				if rt.Scope != "" {
					if scope != rt.Scope {
						t.Errorf("%s: x-beckon-scope = %v, want %q (routes.go)", o, scope, rt.Scope)
					}
					if !strings.Contains(desc, "`"+rt.Scope+"`") {
						t.Errorf("%s: description does not name its scope `%s`", o, rt.Scope)
					}
				} else {
					if hasScope {
						t.Errorf("%s: the handler decides its scope (routes.go has none), so x-beckon-scope %v must be absent", o, scope)
					}
					if !strings.Contains(desc, "**Scope:**") {
						t.Errorf("%s: description must state who may call it in a **Scope:** line", o)
					}
				}
			default:
				t.Errorf("%s has auth %q; only public and api routes belong under /api/v1", o, rt.Auth)
			}
		}

		// Responses: a success, the errors that always apply, and error components whose code matches
		// the status they are used for.
		resps, _ := o.op["responses"].(map[string]any)
		hasSuccess := false
		for status, r := range resps {
			if strings.HasPrefix(status, "2") {
				hasSuccess = true
			}
			rm := d.deref(r)
			if rm == nil {
				t.Errorf("%s: response %s does not resolve", o, status)
				continue
			}
			if s, _ := rm["description"].(string); s == "" {
				t.Errorf("%s: response %s has no description", o, status)
			}
			content, _ := rm["content"].(map[string]any)
			aj, _ := content["application/json"].(map[string]any)
			if status >= "400" && aj != nil {
				ex, _ := aj["example"].(map[string]any)
				e, _ := ex["error"].(map[string]any)
				code, _ := e["code"].(string)
				if codeStatus[code] != status {
					t.Errorf("%s: response %s is an error of code %q, which has status %s", o, status, code, codeStatus[code])
				}
			}
		}
		if !hasSuccess {
			t.Errorf("%s has no 2xx response", o)
		}
		var want []string
		if isRoute && rt.Auth == "api" {
			want = append(want, "401", "500")
			if rt.Scope != "" || o.method != "GET" {
				want = append(want, "403")
			}
		}
		if len(inPath) > 0 {
			want = append(want, "404")
		}
		if body := d.deref(o.op["requestBody"]); body != nil {
			content, _ := body["content"].(map[string]any)
			if aj, ok := content["application/json"].(map[string]any); ok {
				want = append(want, "400", "413", "422")
				if s := d.deref(aj["schema"]); s["additionalProperties"] != false {
					t.Errorf(`%s: the request body schema must have "additionalProperties": false (unknown fields are refused)`, o)
				}
			}
		}
		for _, status := range want {
			if _, ok := resps[status]; !ok {
				t.Errorf("%s does not document its %s response", o, status)
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, testkit.SQLite(t))
	r := h.call("GET", "/api/v1/openapi.json", "", nil)
	if r.status != 200 {
		t.Fatalf("GET /api/v1/openapi.json = %d %s, want 200", r.status, r.body)
	}
	if mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", r.header.Get("Content-Type"))
	}
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.body, file) || !bytes.Equal(r.body, openapiDoc) {
		t.Errorf("the served document (%d bytes) differs from openapi.json (%d bytes)", len(r.body), len(file))
	}
}

// TestOpenAPIContract calls the API and checks every answer against the schema documented for its
// status: each object's keys are declared properties, required ones are present, and types,
// enums and date-times agree.
func TestOpenAPIContract(t *testing.T) {
	d := loadOpenAPI(t)
	h := newHarness(t, testkit.SQLite(t))
	ctx := context.Background()

	// Routing, and a conversation it routed with the built-in default (nothing is published yet).
	wireRouting(t, h)
	routedConv := routedConversation(t, h, "Hello")

	// Two jobs with a secret payload, so that the jobs list has items and a next page.
	h.s.jobs.Register("test.contract", func(context.Context, *jobs.Job) error { return nil }, 3)
	var jobIDs []string
	for i := range 2 {
		id, err := h.s.jobs.Enqueue(ctx, h.d, jobs.NewJob{WorkspaceID: h.ws.ID, Kind: "test.contract",
			Payload: map[string]string{"secret": "s3cret"}, DedupeKey: fmt.Sprintf("contract:%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		jobIDs = append(jobIDs, id)
		time.Sleep(2 * time.Millisecond) // distinct created_at, for a stable order
	}

	invited := h.call("POST", "/api/v1/users", h.adminToken, map[string]any{"email": "grace@acme.example", "first_name": "Grace"})
	userID, _ := invited.json["id"].(string)

	for _, c := range []struct {
		method, template, path string
		body                   any
		status                 int
	}{
		{"GET", "/api/v1/me", "/api/v1/me", nil, 200},
		{"GET", "/api/v1/users", "/api/v1/users", nil, 200},
		{"GET", "/api/v1/workspace", "/api/v1/workspace", nil, 200},
		{"GET", "/api/v1/tokens", "/api/v1/tokens", nil, 200},
		{"GET", "/api/v1/jobs", "/api/v1/jobs", nil, 200},
		{"GET", "/api/v1/jobs", "/api/v1/jobs?limit=1", nil, 200},
		{"GET", "/api/v1/jobs", "/api/v1/jobs?state=nope", nil, 422},
		{"GET", "/api/v1/jobs/{id}", "/api/v1/jobs/" + jobIDs[0], nil, 200},
		{"POST", "/api/v1/jobs/{id}/retry", "/api/v1/jobs/" + jobIDs[0] + "/retry", nil, 409},
		{"GET", "/api/v1/users/{id}", "/api/v1/users/" + userID, nil, 200},
		{"GET", "/api/v1/users/{id}", "/api/v1/users/usr_nobody", nil, 404},
		{"PATCH", "/api/v1/me", "/api/v1/me", map[string]any{"job_title": "Founder"}, 200},
		{"PATCH", "/api/v1/me", "/api/v1/me", map[string]any{"nickname": "Ada"}, 400},
		{"PATCH", "/api/v1/workspace", "/api/v1/workspace", map[string]any{"allowed_origins": []string{"https://www.acme.example"}}, 200},
		{"POST", "/api/v1/tokens", "/api/v1/tokens", map[string]any{"name": "contract", "scopes": []string{"users:read"}}, 201},
		{"POST", "/api/v1/tokens", "/api/v1/tokens", map[string]any{"name": "contract", "scopes": []string{}}, 422},
		// Routing (docs/ROUTING.md).
		{"GET", "/api/v1/routing/config", "/api/v1/routing/config", nil, 200},
		{"PUT", "/api/v1/routing/config", "/api/v1/routing/config", contractRoutingConfig(h.admin.ID), 200},
		{"PUT", "/api/v1/routing/config", "/api/v1/routing/config", map[string]any{"ring_seconds": 5}, 422},
		{"PUT", "/api/v1/routing/config", "/api/v1/routing/config", `{"pools": [`, 400},
		{"PUT", "/api/v1/routing/config", "/api/v1/routing/config", `{"x": "` + strings.Repeat("a", routing.MaxConfigSize) + `"}`, 413},
		{"POST", "/api/v1/routing/publish", "/api/v1/routing/publish", nil, 201},
		{"POST", "/api/v1/routing/publish", "/api/v1/routing/publish", nil, 409},
		{"GET", "/api/v1/routing/config", "/api/v1/routing/config", nil, 200},
		{"GET", "/api/v1/routing/versions", "/api/v1/routing/versions", nil, 200},
		{"GET", "/api/v1/routing/versions/{version}", "/api/v1/routing/versions/1", nil, 200},
		{"GET", "/api/v1/routing/versions/{version}", "/api/v1/routing/versions/2", nil, 404},
		{"GET", "/api/v1/routing/subjects", "/api/v1/routing/subjects", nil, 200},
		{"POST", "/api/v1/routing/simulate", "/api/v1/routing/simulate", map[string]any{"visitor": map[string]any{"country": "DE"},
			"reps": map[string]any{h.admin.ID: map[string]any{"status": "available"}}}, 200},
		{"POST", "/api/v1/routing/simulate", "/api/v1/routing/simulate", map[string]any{"visitor": map[string]any{"country": "US"}}, 200},
		{"POST", "/api/v1/routing/simulate", "/api/v1/routing/simulate", map[string]any{"reps": map[string]any{"usr_nobody": map[string]any{}}}, 422},
		{"POST", "/api/v1/routing/simulate", "/api/v1/routing/simulate", map[string]any{"config": "x"}, 400},
		{"POST", "/api/v1/routing/simulate", "/api/v1/routing/simulate", `{"config": {"x": "` + strings.Repeat("a", routing.MaxConfigSize) + `"}}`, 413},
		{"POST", "/api/v1/routing/replay", "/api/v1/routing/replay", map[string]any{"days": 1}, 200},
		{"POST", "/api/v1/routing/replay", "/api/v1/routing/replay", map[string]any{"days": 91}, 422},
		{"POST", "/api/v1/routing/replay", "/api/v1/routing/replay", map[string]any{"weeks": 1}, 400},
		{"GET", "/api/v1/routing/report", "/api/v1/routing/report", nil, 200},
		{"GET", "/api/v1/routing/report", "/api/v1/routing/report?from=yesterday", nil, 422},
		{"GET", "/api/v1/conversations/{id}/routing", "/api/v1/conversations/" + routedConv + "/routing", nil, 200},
		{"GET", "/api/v1/conversations/{id}/routing", "/api/v1/conversations/conv_nobody/routing", nil, 404},
	} {
		o, ok := d.operation(c.method, c.template)
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
		resp := d.deref(o.op["responses"].(map[string]any)[fmt.Sprint(r.status)])
		if resp == nil {
			t.Errorf("%s answered %d, which openapi.json does not document", name, r.status)
			continue
		}
		content, _ := resp["content"].(map[string]any)
		aj, _ := content["application/json"].(map[string]any)
		if aj == nil {
			t.Errorf("%s: the documented %d response has no application/json content", name, r.status)
			continue
		}
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Errorf("%s: answer is not JSON: %v", name, err)
			continue
		}
		if _, ok := v.(map[string]any); !ok {
			t.Errorf("%s: answer is not a JSON object: %s", name, r.body)
		}
		for _, p := range d.conform(v, aj["schema"], "") {
			t.Errorf("%s: %s", name, p)
		}
		if c.path == "/api/v1/jobs?limit=1" {
			if r.json["next_cursor"] != jobIDs[1] { // newest first: the page holds the second job
				t.Errorf("%s: next_cursor = %v, want %s (a next page must be announced)", name, r.json["next_cursor"], jobIDs[1])
			}
		}
	}
	if invited.status != 201 {
		t.Errorf("POST /api/v1/users = %d %s", invited.status, invited.body)
	}
}

// conform returns how v departs from schema s: undeclared or missing properties, wrong types,
// values outside an enum, and date-times that are not RFC 3339.
func (d *oaDoc) conform(v any, schemaRef any, at string) []string {
	s := d.deref(schemaRef)
	if s == nil {
		return []string{fmt.Sprintf("%s: schema %v does not resolve", orRoot(at), schemaRef)}
	}
	var out []string
	if !typeMatches(v, s["type"]) {
		return []string{fmt.Sprintf("%s: %s is not of type %v", orRoot(at), jsonTypeOf(v), s["type"])}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		out = append(out, fmt.Sprintf("%s: %v is not one of %v", orRoot(at), v, enum))
	}
	if str, ok := v.(string); ok && s["format"] == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			out = append(out, fmt.Sprintf("%s: %q is not an RFC 3339 date-time", orRoot(at), str))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, hasProps := s["properties"].(map[string]any)
		if !hasProps {
			return out
		}
		for k, e := range x {
			ps, declared := props[k]
			if !declared {
				out = append(out, fmt.Sprintf("%s: key %q is not declared in the schema", orRoot(at), k))
				continue
			}
			out = append(out, d.conform(e, ps, at+"."+k)...)
		}
		req, _ := s["required"].([]any)
		for _, k := range req {
			if _, ok := x[k.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s: required key %q is missing", orRoot(at), k))
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, e := range x {
				out = append(out, d.conform(e, items, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return out
}

func orRoot(at string) string {
	if at == "" {
		return "(body)"
	}
	return strings.TrimPrefix(at, ".")
}

func jsonTypeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// typeMatches reports whether v has the JSON Schema type t (a name or a list of names; none
// matches anything).
func typeMatches(v any, t any) bool {
	var names []string
	switch x := t.(type) {
	case nil:
		return true
	case string:
		names = []string{x}
	case []any:
		for _, n := range x {
			s, _ := n.(string)
			names = append(names, s)
		}
	}
	got := jsonTypeOf(v)
	for _, n := range names {
		if n == got || (n == "number" && got == "integer") {
			return true
		}
	}
	return false
}
