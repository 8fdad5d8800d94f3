package widget

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeBeckon is a tiny Beckon server for the browser tests: it serves the embedded scripts and
// answers /m/v1 as docs/MESSENGER-PROTOCOL.md says, and records every call.
type fakeBeckon struct {
	srv    *httptest.Server
	origin string // the one allowed origin (the host page's)

	mu       sync.Mutex
	calls    []fakeCall
	sites    map[string]map[string]any // site id → settings
	tokens   map[string]string         // visitor token → site id
	msgs     []map[string]any
	byClient map[string]map[string]any
	failNext int // answer the next message posts with 503
	cssGets  int // requests for the fallback stylesheet
}

type fakeCall struct {
	Method, Path, Auth, ContentType string
	Body                            map[string]any
}

func newFakeBeckon(t *testing.T) *fakeBeckon {
	f := &fakeBeckon{
		sites:    map[string]map[string]any{},
		tokens:   map[string]string{},
		byClient: map[string]map[string]any{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBeckon) site(id string, settings map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites[id] = settings
}

// log returns the recorded calls to path ("" for all).
func (f *fakeBeckon) log(path string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if path == "" || c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// revoke makes the server refuse every visitor token it issued so far.
func (f *fakeBeckon) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok := range f.tokens {
		f.tokens[tok] = "revoked"
	}
}

func (f *fakeBeckon) addRepMessage(text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, map[string]any{"id": fmt.Sprintf("msg_%d", len(f.msgs)+1), "seq": len(f.msgs) + 1,
		"author": "rep", "author_name": "Maya Chen", "text": text, "created_at": time.Now().UTC().Format(time.RFC3339)})
}

func (f *fakeBeckon) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/js/beckon.js":
		b, _ := Loader()
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(b)
		return
	case strings.HasPrefix(r.URL.Path, "/js/messenger."):
		js, jh := Messenger()
		css, ch := Stylesheet()
		switch r.URL.Path {
		case "/js/messenger." + jh + ".js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Write(js)
		case "/js/messenger." + ch + ".css":
			f.mu.Lock()
			f.cssGets++
			f.mu.Unlock()
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			w.Write(css)
		default:
			http.NotFound(w, r)
		}
		return
	case !strings.HasPrefix(r.URL.Path, "/m/v1/"):
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Origin") != f.origin {
		jsonError(w, 403, "forbidden", "origin not allowed")
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", f.origin)
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "POST, GET")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "7200")
		w.WriteHeader(204)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/m/v1/")
	call := fakeCall{Method: r.Method, Path: path, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 16<<10))
		if err := json.Unmarshal(b, &call.Body); err != nil {
			jsonError(w, 400, "malformed", "bad JSON")
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)

	if path == "hello" {
		site, _ := call.Body["site_id"].(string)
		if site == siteAPIDown {
			jsonError(w, 503, "unavailable", "the database is down")
			return
		}
		settings, ok := f.sites[site]
		if !ok {
			jsonError(w, 404, "not_found", "no such site")
			return
		}
		consent, _ := call.Body["consent"].(string)
		if consent == "denied" || settings["consent_required"] == true && consent != "granted" {
			writeJSON(w, 200, map[string]any{"visitor_token": "", "settings": settings, "consent_required": settings["consent_required"]})
			return
		}
		tok, _ := call.Body["visitor_token"].(string)
		if f.tokens[tok] != site {
			tok = fmt.Sprintf("bkv1.vis_%d.%d.sig", len(f.tokens)+1, time.Now().Unix())
			f.tokens[tok] = site
		}
		var conv any
		if len(f.msgs) > 0 {
			conv = map[string]any{"id": "conv_1", "last_seq": len(f.msgs)}
		}
		writeJSON(w, 200, map[string]any{"visitor_token": tok, "visitor_id": "vis", "session_id": "ses",
			"new_session": true, "settings": settings, "conversation": conv, "bot": false})
		return
	}
	if path == "leave" {
		if tok, _ := call.Body["visitor_token"].(string); f.tokens[tok] == "" || f.tokens[tok] == "revoked" {
			jsonError(w, 401, "unauthenticated", "bad token")
			return
		}
		w.WriteHeader(204)
		return
	}
	if site := f.tokens[strings.TrimPrefix(call.Auth, "Bearer ")]; site == "" || site == "revoked" {
		jsonError(w, 401, "unauthenticated", "bad token")
		return
	}
	switch {
	case path == "page" || path == "heartbeat" || path == "consent":
		w.WriteHeader(204)
	case path == "identify" && call.Body["signature"] == "bad":
		writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "unauthenticated", "field": "signature", "message": "the signature does not match"}})
	case path == "identify":
		writeJSON(w, 200, map[string]any{"visitor_id": "vis"})
	case path == "form":
		writeJSON(w, 200, map[string]any{"visitor_id": "vis", "visitor_token": strings.TrimPrefix(call.Auth, "Bearer ")})
	case path == "messages" && r.Method == http.MethodPost:
		if f.failNext > 0 {
			f.failNext--
			w.Header().Set("Retry-After", "1")
			jsonError(w, 503, "unavailable", "try again")
			return
		}
		cid, _ := call.Body["client_id"].(string)
		text, _ := call.Body["text"].(string)
		m, dup := f.byClient[cid]
		first := len(f.msgs) == 0
		if !dup {
			m = map[string]any{"id": fmt.Sprintf("msg_%d", len(f.msgs)+1), "seq": len(f.msgs) + 1, "author": "visitor",
				"text": text, "created_at": time.Now().UTC().Format(time.RFC3339)}
			f.msgs = append(f.msgs, m)
			f.byClient[cid] = m
		}
		resp := map[string]any{"conversation_id": "conv_1", "message": m, "first": first && !dup}
		if strings.Contains(text, "@") {
			resp["fields_captured"] = []string{"email"}
		}
		writeJSON(w, 201, resp)
	case path == "messages":
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		out := []map[string]any{}
		for _, m := range f.msgs {
			if m["seq"].(int) > after {
				out = append(out, m)
			}
		}
		writeJSON(w, 200, map[string]any{"conversation_id": "conv_1", "messages": out})
	default:
		jsonError(w, 404, "not_found", "no such endpoint")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
