package visitor

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// TokenPrefix starts every visitor token.
const TokenPrefix = "bkv2"

// tokenInfo is the HKDF info that makes the token key differ from every other key derived from
// the server's secret.
const tokenInfo = "beckon visitor token v1"

// maxTokenLen bounds what Verify parses: a real token is about 120 characters.
const maxTokenLen = 240

// clockSkew is how far in the future an issue time may lie, for replicas whose clocks differ.
const clockSkew = 5 * time.Minute

var b64 = base64.RawURLEncoding.Strict()

// Tokens issues and verifies visitor tokens: the credential with which the messenger proves which
// visitor it is (docs/MESSENGER-PROTOCOL.md). A token is
// bkv2.<site id>.<visitor id>.<issued, unix seconds>.<base64url HMAC-SHA256 of "site id|visitor id|issued">,
// keyed by a key derived from the server's secret, so it names and is bound to one site (the
// server finds the workspace from it) and carries its age; it is stateless and needs no database.
// Tokens is safe for concurrent use.
type Tokens struct {
	key []byte
}

// NewTokens returns Tokens keyed by a key derived from secretKey (BECKON_SECRET_KEY) with HKDF
// (SHA-256, info "beckon visitor token v1"). It panics when secretKey is empty, which a validated
// configuration never allows.
func NewTokens(secretKey []byte) *Tokens {
	if len(secretKey) == 0 {
		panic("visitor.NewTokens: empty secret key")
	}
	key, err := hkdf.Key(sha256.New, secretKey, nil, tokenInfo, sha256.Size)
	if err != nil {
		panic("visitor.NewTokens: " + err.Error()) // only for lengths HKDF-SHA-256 cannot produce
	}
	return &Tokens{key: key}
}

func (t *Tokens) mac(siteID, visitorID, issued string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(siteID + "|" + visitorID + "|" + issued))
	return m.Sum(nil)
}

// Issue returns a token for the visitor on the site, issued at the given instant.
func (t *Tokens) Issue(siteID, visitorID string, at time.Time) string {
	issued := strconv.FormatInt(at.Unix(), 10)
	return TokenPrefix + "." + siteID + "." + visitorID + "." + issued + "." + b64.EncodeToString(t.mac(siteID, visitorID, issued))
}

// Site returns the site id a token names, or "" when it is not shaped like a token. It proves
// nothing: Verify with that site id checks the token.
func Site(token string) string {
	if len(token) > maxTokenLen {
		return ""
	}
	parts := strings.Split(token, ".")
	if len(parts) != 5 || parts[0] != TokenPrefix || !id.Valid("site", parts[1]) {
		return ""
	}
	return parts[1]
}

// Verify checks a token for the site and returns the visitor id it carries. The token must have
// been issued by Issue for this site, no more than maxAge before now (and not more than five
// minutes after now, for clock skew between replicas). Any failure — malformed, forged, another
// site's, expired — is errs.Unauthenticated with the same message, so that a caller learns
// nothing about why; a maxAge of zero or less refuses every token.
func (t *Tokens) Verify(siteID, token string, now time.Time, maxAge time.Duration) (visitorID string, err error) {
	bad := errs.E(errs.Unauthenticated, "the visitor token is not valid; start again with hello")
	if len(token) > maxTokenLen {
		return "", bad
	}
	parts := strings.Split(token, ".")
	if len(parts) != 5 || parts[0] != TokenPrefix || parts[1] != siteID || !id.Valid("vis", parts[2]) || !canonicalSeconds(parts[3]) {
		return "", bad
	}
	parts = parts[1:] // site, visitor, issued, mac
	sum, err := b64.DecodeString(parts[3])
	if err != nil || len(sum) != sha256.Size {
		return "", bad
	}
	if !hmac.Equal(sum, t.mac(siteID, parts[1], parts[2])) {
		return "", bad
	}
	secs, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || secs > now.Add(clockSkew).Unix() || maxAge <= 0 {
		return "", bad
	}
	if age := now.Unix() - secs; age > int64(maxAge/time.Second) {
		return "", bad
	}
	return parts[1], nil
}

// canonicalSeconds reports whether s is a non-negative decimal number as strconv.FormatInt writes
// it: digits only, no leading zero, at most 12 digits (well past the year 9999).
func canonicalSeconds(s string) bool {
	if s == "" || len(s) > 12 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
