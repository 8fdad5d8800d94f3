package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
)

// MaxURLLen is the longest channel URL accepted.
const MaxURLLen = 2048

// Address ranges no channel may reach without Options.AllowPrivate, besides what netip's
// IsLoopback, IsPrivate, IsLinkLocal…, IsMulticast and IsUnspecified already cover.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, shared address space
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64, which could reach any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated): ::7f00:1 is 127.0.0.1 on some stacks
	netip.MustParsePrefix("2002::/16"),       // 6to4, which embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo, likewise
}

// privateAddr reports whether ip is loopback, private, link-local, unspecified, multicast or in
// another range that is not the public internet.
func privateAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Zone() != "" {
		return true
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// checkURL parses and checks a channel URL: absolute http(s) with a host, no fragment, at most
// MaxURLLen bytes of printable text; https unless Options allow plain http; not at a private
// address given literally (or "localhost") unless AllowPrivate. Names are checked again, with the
// addresses they resolve to, whenever a delivery connects. It returns errs.Invalid about field
// "url".
func (s *Service) checkURL(raw string) (*url.URL, error) {
	bad := func(format string, args ...any) error { return errs.Field(errs.Invalid, "url", format, args...) }
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, bad("is required")
	}
	if len(raw) > MaxURLLen || !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, bad("must be a URL of at most %d characters without spaces", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return nil, bad("must be a full URL such as https://hooks.slack.com/services/…")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !s.opt.AllowInsecure && !s.opt.AllowPrivate {
			return nil, bad("must start with https://")
		}
	default:
		return nil, bad("must start with https://")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, bad("must not have a #fragment")
	}
	host := u.Hostname()
	if host == "" {
		return nil, bad("has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, bad("has a bad port")
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if privateAddr(ip) && !s.opt.AllowPrivate {
			return nil, bad("must not point to a private, loopback or link-local address")
		}
		if u.Scheme == "http" && !s.opt.AllowInsecure && !privateAddr(ip) {
			return nil, bad("must start with https://")
		}
		return u, nil
	}
	lh := strings.ToLower(strings.TrimSuffix(host, "."))
	if lh == "localhost" || strings.HasSuffix(lh, ".localhost") || strings.HasSuffix(lh, ".local") || !strings.Contains(lh, ".") {
		if !s.opt.AllowPrivate {
			return nil, bad("must name a public host")
		}
	}
	return u, nil
}

// errBlocked is the cause of a connection refused because of its address.
var errBlocked = errors.New("address not allowed")

// blockedError is a dial refused because the address is private; it is never worth a retry.
type blockedError struct{ addr string }

func (e *blockedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: private, loopback and link-local addresses are not allowed (BECKON_WEBHOOK_ALLOW_PRIVATE)", e.addr)
}
func (e *blockedError) Unwrap() error { return errBlocked }

// schemeKey carries a request's URL scheme to the dialer.
type schemeKey struct{}

// httpClient sends deliveries: a fixed timeout, no proxy, no redirects, and a dialer that checks
// every address it connects to (so a name that resolves to a private address, perhaps only
// after it was saved, is refused: DNS rebinding).
type httpClient struct {
	c   *http.Client
	opt Options
}

func newHTTPClient(opt Options) *httpClient {
	h := &httpClient{opt: opt}
	dialer := &net.Dialer{Timeout: opt.Timeout, KeepAlive: 30 * time.Second, ControlContext: h.control}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would hide the real destination from the address check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   opt.Timeout,
		ResponseHeaderTimeout: opt.Timeout,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	h.c = &http.Client{Transport: tr, Timeout: opt.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return h
}

// control runs just before each connection is made, with the address actually dialled.
func (h *httpClient) control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return &blockedError{addr: address}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &blockedError{addr: address}
	}
	private := privateAddr(ip)
	if private && !h.opt.AllowPrivate {
		return &blockedError{addr: address}
	}
	if scheme, _ := ctx.Value(schemeKey{}).(string); scheme != "https" && !h.opt.AllowInsecure && !private {
		return &blockedError{addr: address + " over plain http"}
	}
	return nil
}
