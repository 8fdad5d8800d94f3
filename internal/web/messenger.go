package web

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"mime"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/idverify"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/widget"
	"github.com/beckonhq/beckon/internal/workspace"
)

// The messenger's endpoints (/m/v1, API2; docs/MESSENGER-PROTOCOL.md) are called from visitors'
// browsers on the workspace's own sites. They accept only the workspace's allowed origins, find
// the visitor by the token the server issued (never by a cookie), cap bodies and rate-limit per
// client IP and per visitor.

// MessengerBodyLimit caps every /m/v1 request body.
const MessengerBodyLimit = 16 << 10

// Messenger rate limits: per client IP and per visitor, a minute's allowance and a burst.
const (
	MessengerIPPerMinute      = 120
	MessengerIPBurst          = 60
	MessengerVisitorPerMinute = 60
	MessengerVisitorBurst     = 30
)

// visitorCall is what the messenger middleware found out about a request.
type visitorCall struct {
	ws        *workspace.Workspace
	visitorID string // "" on hello before a visitor exists
}

type visitorKey struct{}

func callOf(r *http.Request) *visitorCall {
	c, _ := r.Context().Value(visitorKey{}).(*visitorCall)
	return c
}

// messengerPreflight answers CORS preflights of /m/v1. It cannot know the workspace (a preflight
// carries no body or token), so it allows the asking origin to send; the request itself is then
// held to the workspace's allowed origins.
func (s *Server) messengerPreflight(w http.ResponseWriter, r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Expose-Headers", "Retry-After")
		h.Set("Access-Control-Max-Age", "600")
		h.Add("Vary", "Origin")
	}
	// Limited like the calls it announces; the refusal carries the CORS headers above, so the
	// page reads its 429 and Retry-After rather than a network error. No workspace is known yet.
	if err := s.limitMessenger(r, "", ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// allowOrigin checks the request's Origin against the workspace: errs.Forbidden unless it is one
// of the workspace's allowed origins.
func allowOrigin(w http.ResponseWriter, r *http.Request, ws *workspace.Workspace) error {
	o := r.Header.Get("Origin")
	if o == "" || !ws.OriginAllowed(o) {
		return errs.E(errs.Forbidden, "this site is not among the workspace's allowed origins")
	}
	return nil // the CORS headers are set for every /m/v1 answer (Server.wrap)
}

// limitMessenger spends the client IP's and the visitor's allowance (limits shared by every
// replica), counting a refusal for workspace wsID.
func (s *Server) limitMessenger(r *http.Request, wsID, visitorID string) error {
	ip := limitKey(s.clientIP(r))
	ok, wait := s.msgIPs.Allow(ip)
	reason := RefusedRateIP
	if ok && visitorID != "" {
		ok, wait = s.msgVisitors.Allow(visitorID)
		reason = RefusedRateVisitor
	}
	if ok {
		return nil
	}
	s.refuse(r.Context(), wsID, reason, "")
	e := errs.E(errs.TooMany, "too many requests; slow down")
	e.RetryAfter = int(wait/time.Second) + 1
	return e
}

// readMessengerJSON reads a body as one JSON object. The messenger sends application/json, and
// text/plain where a request must stay "simple" (hello, sendBeacon).
func readMessengerJSON(r *http.Request, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" && mt != "text/plain" {
		return errs.E(errs.Malformed, "Content-Type must be application/json or text/plain")
	}
	return decodeBody(r, v)
}

// messengerAuth authenticates a /m/v1 request other than hello: the visitor token (from the
// Authorization header, or the body's visitor_token for sendBeacon) names the site; the Origin
// must be the workspace's; the token must verify. It returns the request with the visitor call.
func (s *Server) messengerAuth(w http.ResponseWriter, r *http.Request, bodyToken string) (*http.Request, error) {
	tok := bodyToken
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return r, errs.E(errs.Unauthenticated, "send the visitor token as 'Authorization: Bearer <token>'")
		}
		tok = strings.TrimSpace(t)
	}
	site := visitor.Site(tok)
	if site == "" {
		return r, errs.E(errs.Unauthenticated, "a visitor token is required; start with hello")
	}
	ws, err := s.workspaces.BySiteID(r.Context(), site)
	if errs.Is(err, errs.NotFound) {
		return r, errs.E(errs.Unauthenticated, "the visitor token is not valid; start again with hello")
	}
	if err != nil {
		return r, err
	}
	if err := allowOrigin(w, r, ws); err != nil {
		return r, err
	}
	vid, err := s.tokens.Verify(site, tok, s.clock.Now(), time.Duration(ws.Settings.CookieDays)*24*time.Hour)
	if err != nil {
		return r, err
	}
	if err := s.limitMessenger(r, ws.ID, vid); err != nil {
		return r, err
	}
	return r.WithContext(context.WithValue(r.Context(), visitorKey{}, &visitorCall{ws: ws, visitorID: vid})), nil
}

// messengerSettings is what hello tells the messenger about the workspace.
type messengerSettings struct {
	Color                string `json:"color"`
	Position             string `json:"position"`
	LauncherText         string `json:"launcher_text"`
	ZIndex               int    `json:"z_index"`
	Greeting             string `json:"greeting"`
	ConsentRequired      bool   `json:"consent_required"`
	CookieDays           int    `json:"cookie_days"`
	IdentityVerification bool   `json:"identity_verification"`
	Title                string `json:"title"`
	Subtitle             string `json:"subtitle"`
}

func settingsFor(ws *workspace.Workspace) messengerSettings {
	st := ws.Settings
	return messengerSettings{Color: st.Messenger.Color, Position: st.Messenger.Position, LauncherText: st.Messenger.LauncherText,
		ZIndex: st.Messenger.ZIndex, Greeting: st.Messenger.Greeting, ConsentRequired: st.ConsentRequired,
		CookieDays: st.CookieDays, IdentityVerification: st.IdentityVerification, Title: ws.Name}
}

type helloIn struct {
	SiteID       string       `json:"site_id"`
	VisitorToken string       `json:"visitor_token"`
	Page         visitor.Page `json:"page"`
	TimeZone     string       `json:"time_zone"`
	Language     string       `json:"language"`
	Screen       *struct {
		W int `json:"w"`
		H int `json:"h"`
	} `json:"screen"`
	Webdriver bool   `json:"webdriver"`
	Consent   string `json:"consent"`
}

type conversationRef struct {
	ID      string `json:"id"`
	LastSeq int64  `json:"last_seq"`
}

type helloOut struct {
	VisitorToken    string            `json:"visitor_token"`
	VisitorID       string            `json:"visitor_id,omitempty"`
	SessionID       string            `json:"session_id,omitempty"`
	NewSession      bool              `json:"new_session"`
	Settings        messengerSettings `json:"settings"`
	Conversation    *conversationRef  `json:"conversation"`
	Bot             bool              `json:"bot"`
	ConsentRequired bool              `json:"consent_required,omitempty"`
}

// mHello starts (or resumes) a visitor's page: it records the page view and answers the token,
// the session and the messenger's settings.
func (s *Server) mHello(w http.ResponseWriter, r *http.Request) error {
	var in helloIn
	if err := readMessengerJSON(r, &in); err != nil {
		return err
	}
	ws, err := s.workspaces.BySiteID(r.Context(), strings.TrimSpace(in.SiteID))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.Field(errs.NotFound, "site_id", "no such site")
		}
		return err
	}
	if err := allowOrigin(w, r, ws); err != nil {
		return err
	}
	now := s.clock.Now()
	maxAge := time.Duration(ws.Settings.CookieDays) * 24 * time.Hour
	vid := ""
	if in.VisitorToken != "" {
		if v, err := s.tokens.Verify(ws.SiteID, in.VisitorToken, now, maxAge); err == nil {
			vid = v // an invalid or expired token just starts a new visitor
		}
	}
	if err := s.limitMessenger(r, ws.ID, vid); err != nil {
		return err
	}
	out := helloOut{Settings: settingsFor(ws)}
	switch in.Consent {
	case "", "granted", "denied":
	default:
		return errs.Field(errs.Invalid, "consent", "must be granted, denied or empty")
	}
	// An opt-out, or no consent where it is required: nothing is stored, no token issued.
	if in.Consent == "denied" || (ws.Settings.ConsentRequired && in.Consent != "granted") {
		if in.Consent == "denied" && vid != "" {
			if err := s.visitors.SetConsent(r.Context(), ws.ID, vid, false); err != nil && !errs.Is(err, errs.NotFound) {
				return err
			}
		}
		out.ConsentRequired = ws.Settings.ConsentRequired
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	ip, _ := netip.ParseAddr(s.clientIP(r))
	res, err := s.visitors.Hello(r.Context(), visitor.HelloInput{WorkspaceID: ws.ID, VisitorID: vid, Page: in.Page,
		TimeZone: in.TimeZone, Language: in.Language, UserAgent: r.UserAgent(), IP: ip, Webdriver: in.Webdriver})
	if err != nil {
		return err
	}
	if res.Bot {
		out.Bot = true
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	if in.Consent == "granted" && ws.Settings.ConsentRequired {
		if err := s.visitors.SetConsent(r.Context(), ws.ID, res.VisitorID, true); err != nil {
			return err
		}
	}
	out.VisitorID, out.SessionID, out.NewSession = res.VisitorID, res.SessionID, res.NewSession
	out.VisitorToken = in.VisitorToken
	if res.VisitorID != vid || tokenOld(in.VisitorToken, now) {
		out.VisitorToken = s.tokens.Issue(ws.SiteID, res.VisitorID, now)
	}
	conv, err := s.chat.OpenConversation(r.Context(), ws.ID, res.VisitorID)
	if err != nil {
		return err
	}
	if conv != nil {
		out.Conversation = &conversationRef{ID: conv.ID, LastSeq: conv.LastSeq}
	}
	s.liveHello(r.Context(), ws.ID, &in, res, ip, r.UserAgent(), out.Conversation) // Live View (V5)
	if res.NewSession && !res.NewVisitor {
		s.alertIfTarget(r.Context(), ws, res.VisitorID, in.Page.URL)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tokenOld reports whether a token was issued more than a day ago: hello then renews it, so the
// cookie lifetime counts from the last visit.
func tokenOld(tok string, now time.Time) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 5 {
		return true
	}
	secs, err := strconv.ParseInt(parts[3], 10, 64)
	return err != nil || now.Unix()-secs > 86400
}

// visitorRequest reads the body into in (an empty body is allowed when emptyOK) and
// authenticates the visitor; a body with a VisitorToken field (sendBeacon) may carry the token.
func (s *Server) visitorRequest(w http.ResponseWriter, r *http.Request, in any, emptyOK bool) (*http.Request, *visitorCall, error) {
	if !emptyOK || r.ContentLength != 0 {
		if err := readMessengerJSON(r, in); err != nil {
			return r, nil, err
		}
	}
	tok := ""
	if b, ok := in.(*beaconIn); ok {
		tok = b.VisitorToken
	}
	r, err := s.messengerAuth(w, r, tok)
	if err != nil {
		return r, nil, err
	}
	return r, callOf(r), nil
}

// survivor returns the call's visitor after following merges: a token issued before its visitor
// merged into another keeps working for the surviving record.
func (s *Server) survivor(ctx context.Context, c *visitorCall) (string, error) {
	v, err := s.visitors.Get(ctx, c.ws.ID, c.visitorID)
	if err != nil {
		return "", err
	}
	return v.ID, nil
}

// beaconIn is the body of a request sent with sendBeacon, which cannot set headers.
type beaconIn struct {
	VisitorToken string `json:"visitor_token"`
}

// mPage records an SPA route change.
func (s *Server) mPage(w http.ResponseWriter, r *http.Request) error {
	var p visitor.Page
	r, c, err := s.visitorRequest(w, r, &p, false)
	if err == nil {
		var rec visitor.Recorded
		if rec, err = s.visitors.PageView(r.Context(), c.ws.ID, c.visitorID, p); err == nil {
			s.livePage(r.Context(), c.ws.ID, rec, p) // Live View (V5)
		}
	}
	return noContent(w, err)
}

// mHeartbeat keeps the visitor's session open while a page is visible.
func (s *Server) mHeartbeat(w http.ResponseWriter, r *http.Request) error {
	r, c, err := s.visitorRequest(w, r, &struct{}{}, true)
	if err == nil {
		var rec visitor.Recorded
		if rec, err = s.visitors.Heartbeat(r.Context(), c.ws.ID, c.visitorID); err == nil {
			s.deps.LiveView.Seen(r.Context(), c.ws.ID, rec.VisitorID) // Live View (V5)
		}
	}
	return noContent(w, err)
}

// mLeave records that a page closed; sent with sendBeacon, so the token may be in the body.
func (s *Server) mLeave(w http.ResponseWriter, r *http.Request) error {
	r, c, err := s.visitorRequest(w, r, &beaconIn{}, true)
	if err == nil {
		var rec visitor.Recorded
		if rec, err = s.visitors.Leave(r.Context(), c.ws.ID, c.visitorID); err == nil {
			s.deps.LiveView.Leave(r.Context(), c.ws.ID, rec.VisitorID) // Live View (V5)
		}
	}
	return noContent(w, err)
}

// mConsent records the visitor's answer to the cookie question.
func (s *Server) mConsent(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Granted *bool `json:"granted"`
	}
	r, c, err := s.visitorRequest(w, r, &in, false)
	if err == nil && in.Granted == nil {
		err = errs.Field(errs.Invalid, "granted", "is required: true or false")
	}
	if err == nil {
		err = s.visitors.SetConsent(r.Context(), c.ws.ID, c.visitorID, *in.Granted)
	}
	return noContent(w, err)
}

// noContent answers 204 when err is nil, and returns err otherwise.
func noContent(w http.ResponseWriter, err error) error {
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
	}
	return err
}

// mSendMessage stores a visitor's message.
func (s *Server) mSendMessage(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Text     string `json:"text"`
		ClientID string `json:"client_id"`
	}
	r, c, err := s.visitorRequest(w, r, &in, false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if c.visitorID, err = s.survivor(ctx, c); err != nil {
		return err
	}
	conv, msg, first, err := s.chat.VisitorMessage(ctx, c.ws.ID, c.visitorID, in.Text, in.ClientID)
	if err != nil {
		return err
	}
	survivor, captured := s.captureAnswer(ctx, c.ws.ID, c.visitorID, msg)
	out := map[string]any{"conversation_id": conv.ID, "message": msg, "first": first, "fields_captured": captured}
	if survivor != c.visitorID {
		out["visitor_id"], out["visitor_token"] = survivor, s.tokens.Issue(c.ws.SiteID, survivor, s.clock.Now())
	}
	s.alertAfter(ctx, c.ws, limitKey(s.clientIP(r)), survivor, conv, msg, first)
	if _, err := s.visitors.Touch(ctx, c.ws.ID, survivor); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// mListMessages returns the messages of the visitor's open conversation after ?after=.
func (s *Server) mListMessages(w http.ResponseWriter, r *http.Request) error {
	r, err := s.messengerAuth(w, r, "")
	if err != nil {
		return err
	}
	c := callOf(r)
	if c.visitorID, err = s.survivor(r.Context(), c); err != nil {
		return err
	}
	after := int64(0)
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errs.Field(errs.Invalid, "after", "must be a sequence number (0 or more)")
		}
		after = n
	}
	conv, err := s.chat.OpenConversation(r.Context(), c.ws.ID, c.visitorID)
	if err != nil {
		return err
	}
	if conv == nil {
		writeJSON(w, http.StatusOK, map[string]any{"conversation_id": "", "messages": []any{}})
		return nil
	}
	msgs, err := s.chat.Messages(r.Context(), c.ws.ID, c.visitorID, conv.ID, after, 200)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversation_id": conv.ID, "messages": msgs})
	return nil
}

// HoneypotField is the form field a customer's site may add to its forms, hidden from people
// (docs/EMAIL.md): saveFormData with a value in it is refused as a bot's. It is never stored.
const HoneypotField = "bk_hp"

// fieldsIn is the body of identify and form.
type fieldsIn struct {
	Fields    map[string]string `json:"fields"`
	Signature string            `json:"signature"`
}

// mIdentify identifies the visitor (beckon('identify')): with identity verification on, only with
// a token the customer's server signed (SEC3), whose claims then win over the page's fields.
func (s *Server) mIdentify(w http.ResponseWriter, r *http.Request) error {
	return s.captureFields(w, r, field.SourceAPI, true)
}

// mForm captures a website form's fields (beckon('saveFormData')).
func (s *Server) mForm(w http.ResponseWriter, r *http.Request) error {
	return s.captureFields(w, r, field.SourceForm, false)
}

// captureFields stores visitor fields from source and, when they hold an email, identifies the
// visitor by it, merging with an earlier record of the same person (V4) — all in one
// transaction. Keys that are not fields of the workspace are ignored and listed in the answer.
func (s *Server) captureFields(w http.ResponseWriter, r *http.Request, source field.Source, identify bool) error {
	var in fieldsIn
	r, c, err := s.visitorRequest(w, r, &in, false)
	if err != nil {
		return err
	}
	if len(in.Fields) > 100 {
		return errs.Field(errs.Invalid, "fields", "at most 100 fields at once")
	}
	if c.visitorID, err = s.survivor(r.Context(), c); err != nil {
		return err
	}
	ctx := r.Context()
	values := map[string]string{}
	for k, v := range in.Fields {
		if v = strings.TrimSpace(v); v != "" {
			values[k] = v
		}
	}
	now := s.clock.Now()
	verified := identify && c.ws.Settings.IdentityVerification
	if identify && !verified && in.Signature != "" {
		return errs.Field(errs.Invalid, "signature", "identity verification is off for this workspace: send no signature, or switch it on")
	}
	if verified && in.Signature == "" {
		return errs.Field(errs.Unauthenticated, "signature", "identity verification is on: identify needs a token signed by your server")
	}
	if !verified {
		// What the page says without proof is screened like a form a visitor filled in (E4): its
		// honeypot field, gibberish, the email policy. Only an identity the customer's server
		// signed is taken as it is.
		hp := in.Fields[HoneypotField]
		delete(values, HoneypotField)
		if err := s.screen(ctx, submission{wsID: c.ws.ID, values: values, honeypot: hp, field: "email"}); err != nil {
			return err
		}
	}
	defs, err := s.fields.List(ctx, c.ws.ID)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, d := range defs {
		known[d.Key] = true
	}
	ignored := []string{}
	for k := range values {
		if !known[k] {
			ignored = append(ignored, k)
			delete(values, k)
		}
	}
	sort.Strings(ignored)
	var secretKey []byte
	if verified {
		if secretKey, err = s.workspaces.IdentitySecret(ctx, c.ws.ID, s.secrets); err != nil {
			return err
		}
	}
	var verify func(tx *sql.Tx) error
	if verified {
		verify = func(tx *sql.Tx) error {
			claims, err := idverify.Verify(ctx, tx, c.ws.ID, secretKey, in.Signature, now)
			if err != nil {
				return err
			}
			if e, ok := values["email"]; ok && !strings.EqualFold(e, claims.Email) {
				return errs.Field(errs.Unauthenticated, "signature", "the email does not match the signed token's")
			}
			for k, v := range claims.Fields {
				if known[k] && strings.TrimSpace(v) != "" {
					values[k] = strings.TrimSpace(v)
				}
			}
			values["email"] = claims.Email
			return nil
		}
	}
	survivor, changed, err := s.storeFields(ctx, c.ws.ID, c.visitorID, source, values, verify)
	if err != nil {
		return err
	}
	if _, err := s.visitors.Touch(ctx, c.ws.ID, survivor); err != nil {
		return err
	}
	if len(changed) > 0 || survivor != c.visitorID {
		s.deps.LiveView.Changed(ctx, c.ws.ID, survivor, c.visitorID) // Live View (V5)
	}
	if slices.ContainsFunc(changed, targetHint) {
		s.alertIfTarget(ctx, c.ws, survivor, "")
	}
	out := map[string]any{"visitor_id": survivor, "fields_captured": orEmpty(changed), "ignored_fields": ignored}
	if survivor != c.visitorID {
		out["visitor_token"] = s.tokens.Issue(c.ws.SiteID, survivor, now)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// storeFields stores visitor fields from source and, when they hold an email, records it on the
// visitor — in one transaction, in which first (when not nil) runs before anything is written.
// A proven email (first verified a token the customer's server signed) identifies the visitor
// and merges them with an earlier record of the same proven person (V4); an unproven one is only
// recorded (visitor.Claim), since anyone can type anyone's address. It returns the surviving
// visitor and the fields whose value changed.
func (s *Server) storeFields(ctx context.Context, wsID, visitorID string, source field.Source, values map[string]string,
	first func(tx *sql.Tx) error) (survivor string, changed []string, err error) {
	proven := first != nil
	survivor = visitorID
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if first != nil {
			if err := first(tx); err != nil {
				return err
			}
		}
		var err error
		if changed, err = s.fields.Set(ctx, tx, wsID, visitorID, source, values); err != nil {
			return err
		}
		switch email := values["email"]; {
		case email == "":
		case proven:
			survivor, err = s.visitors.Identify(ctx, tx, wsID, visitorID, email)
		default:
			survivor, err = s.visitors.Claim(ctx, tx, wsID, visitorID, email)
		}
		if err != nil || len(changed) == 0 || s.deps.Notify == nil {
			return err
		}
		// Webhooks learn of it in the same transaction (at least once, N3).
		return s.deps.Notify.Event(ctx, tx, wsID, "visitor.identified", map[string]any{
			"visitor_id": survivor, "source": source, "fields": changedValues(values, changed), "email_verified": proven})
	})
	return survivor, changed, err
}

// changedValues picks the values of the changed keys.
func changedValues(values map[string]string, changed []string) map[string]string {
	out := make(map[string]string, len(changed))
	for _, k := range changed {
		out[k] = values[k]
	}
	return out
}

// chatEmail finds the email address a visitor typed as a chat answer: a message that is
// essentially one address ("ada@acme.example", "sure, it's ada@acme.example."). An address inside
// a longer sentence ("my colleague bob@x.example will follow up"), or several, is not an answer.
var emailWord = regexp.MustCompile(`[^\s<>()\[\],;:"'@]+@[^\s<>()\[\],;:"'@]+\.[A-Za-z]{2,}`)

func chatEmail(text string) string {
	m := emailWord.FindAllString(text, 2)
	if len(m) != 1 || len(strings.TrimSpace(text))-len(m[0]) > 16 {
		return ""
	}
	return strings.TrimRight(m[0], ".!?")
}

// serveScript serves a widget asset: immutable for a year when the URL names its current hash,
// briefly cacheable otherwise (an old snippet still gets today's loader). Scripts must load on
// other sites: Cross-Origin-Resource-Policy says so.
func serveScript(w http.ResponseWriter, r *http.Request, body []byte, hash, version, ctype string) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Del("Content-Security-Policy")
	h.Del("X-Frame-Options")
	if version != "" && subtle.ConstantTimeCompare([]byte(version), []byte(hash)) == 1 {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	h.Set("ETag", `"`+hash+`"`)
	if match := r.Header.Get("If-None-Match"); match == `"`+hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(body)
}

func (s *Server) jsLoader(w http.ResponseWriter, r *http.Request) error {
	body, hash := widget.Loader()
	serveScript(w, r, body, hash, r.URL.Query().Get("v"), "text/javascript; charset=utf-8")
	return nil
}

// jsMessenger serves /js/messenger.<hash>.js and /js/messenger.<hash>.css.
func (s *Server) jsMessenger(w http.ResponseWriter, r *http.Request) error {
	name, ok := strings.CutPrefix(r.PathValue("file"), "messenger.")
	if !ok {
		return errs.NotFoundf("no such file")
	}
	var body []byte
	var hash, ctype, ver string
	switch {
	case strings.HasSuffix(name, ".js"):
		body, hash = widget.Messenger()
		ctype, ver = "text/javascript; charset=utf-8", strings.TrimSuffix(name, ".js")
	case strings.HasSuffix(name, ".css"):
		body, hash = widget.Stylesheet()
		ctype, ver = "text/css; charset=utf-8", strings.TrimSuffix(name, ".css")
	default:
		return errs.NotFoundf("no such file")
	}
	serveScript(w, r, body, hash, ver, ctype)
	return nil
}
