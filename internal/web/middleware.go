package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
)

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// principalOf returns who is making the request, or nil on a public route.
func principalOf(r *http.Request) *identity.Principal {
	p, _ := r.Context().Value(keyPrincipal).(*identity.Principal)
	return p
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// validRequestID accepts a caller's X-Request-Id when it is short and plain.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// methodLabel is the method of a request as metrics and logs name it: one of the methods of
// HTTP's core (RFC 9110) and PATCH, or "other" for any method a client invents, so that strangers
// cannot grow the number of metric series without bound.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// outer is the middleware every request passes: request id, panic recovery, access log and
// metrics. The route pattern (never the raw path, which may carry a secret link) is logged.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if !validRequestID(rid) {
			var b [8]byte
			rand.Read(b[:])
			rid = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", rid)
		ctx := context.WithValue(r.Context(), keyRequestID, rid)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()), "request_id", rid)
				if sw.status == 0 {
					s.fail(sw, r, fmt.Errorf("panic: %v", p))
				}
			}
			pattern := r.Pattern
			if pattern == "" {
				pattern = "unmatched"
			}
			took := time.Since(start)
			method := methodLabel(r.Method)
			s.metrics.observe(pattern, method, sw.status, took)
			attrs := []any{"request_id", rid, "method", method, "route", pattern, "status", sw.status,
				"bytes", sw.bytes, "ms", float64(took.Microseconds()) / 1000}
			attrs = append(attrs, logAttrs(r)...)
			s.log.InfoContext(ctx, "http", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// Content-Security-Policy of the console: no inline script or style, nothing from elsewhere,
// never framed.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

const apiCSP = "default-src 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(w http.ResponseWriter, api bool) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.secureCookies {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if api {
		h.Set("Content-Security-Policy", apiCSP)
		h.Set("Cache-Control", "no-store")
	} else {
		h.Set("Content-Security-Policy", consoleCSP)
	}
}

// sessionCookie is the console session cookie's name: with the __Host- prefix whenever the server
// is reached over https, so that no subdomain can set or shadow it.
func (s *Server) sessionCookie() string {
	if s.secureCookies {
		return "__Host-beckon_session"
	}
	return "beckon_session"
}

// setSessionCookie stores a session token in the browser, or clears it when token is "".
func (s *Server) setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	c := &http.Cookie{Name: s.sessionCookie(), Value: token, Path: "/", HttpOnly: true, Secure: s.secureCookies,
		SameSite: http.SameSiteLaxMode}
	if token == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// authenticate finds the principal of a request: a bearer API token, else the console session
// cookie. It returns nil and no error when the request carries neither.
func (s *Server) authenticate(r *http.Request) (*identity.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return nil, errs.E(errs.Unauthenticated, "the Authorization header must be 'Bearer <API token>'")
		}
		return s.identity.AuthenticateToken(r.Context(), strings.TrimSpace(tok))
	}
	c, err := r.Cookie(s.sessionCookie())
	if err != nil || c.Value == "" {
		return nil, nil
	}
	return s.identity.AuthenticateSession(r.Context(), c.Value)
}

// unsafeMethod reports whether a method changes state.
func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// checkCSRF protects a cookie-authenticated, state-changing request twice over: the browser's
// Sec-Fetch-Site/Origin must say same origin (net/http's CrossOriginProtection), and the request
// must carry the session's CSRF token, in the X-CSRF-Token header or the csrf_token form field.
func (s *Server) checkCSRF(r *http.Request, p *identity.Principal) error {
	if p.Session == nil || !unsafeMethod(r.Method) {
		return nil
	}
	if err := s.crossOrigin.Check(r); err != nil {
		return errs.E(errs.Forbidden, "cross-origin request refused")
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		err := r.ParseMultipartForm(8 << 20)
		if errors.Is(err, http.ErrNotMultipart) {
			err = r.ParseForm()
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errs.E(errs.TooLarge, "the request body is larger than %d bytes", mbe.Limit)
		}
		if err != nil {
			return errs.Wrap(errs.Malformed, err, "the form could not be read")
		}
		tok = r.PostFormValue("csrf_token")
	}
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(p.Session.CSRFToken)) != 1 {
		return errs.E(errs.Forbidden, "missing or wrong CSRF token; reload the page and try again")
	}
	return nil
}

// clientIP is the address of the client: the peer of the connection, or — when the peer is one
// of the trusted reverse proxies — the right-most address of X-Forwarded-For that is not itself
// a trusted proxy. Forwarded addresses from anyone else are ignored, so a client cannot choose
// its own address.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer.Unmap()) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host // a malformed chain: trust nothing in it
		}
		if !s.trusted(a.Unmap()) {
			return a.Unmap().String()
		}
	}
	return host
}

// limitKey is the key rate limits and connection caps count a client address under: the address
// itself for IPv4, its /64 for IPv6 (one subscriber usually holds a whole /64, so counting each
// address would let one client pass as 2^64).
func limitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Unmap().Is4() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// safeNext returns a same-site path to go to after login, or "/" for anything else.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}
