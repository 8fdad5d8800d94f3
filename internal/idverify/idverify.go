// Package idverify checks identity-verification tokens (SPEC SEC3). When a workspace switches
// identity verification on, the messenger's identify is accepted only with a token that the
// customer's own server signed with the workspace's secret: a JWT (RFC 7519) signed with HS256
// that names the visitor's email, expires within 24 hours and carries a unique id (jti) that
// Beckon accepts once. A visitor cannot then claim to be someone else by calling identify with
// another person's email.
//
// The package owns the table used_identity_tokens. docs/IDENTITY-VERIFICATION.md is the
// integrators' side of it.
package idverify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
)

// Limits of a token.
const (
	MaxTokenLen  = 4096             // bytes of a token
	MaxLifetime  = 24 * time.Hour   // the most exp may be after iat
	MaxSkew      = 5 * time.Minute  // how far in the future iat (and nbf) may be, for clocks that differ
	MinJTILen    = 8                // characters of a jti
	MaxJTILen    = 128              // characters of a jti
	MaxSubLen    = 255              // characters of sub
	MaxFields    = 100              // entries of the fields claim
	MinSecretLen = 32               // bytes of a workspace secret (NewSecret makes 43)
	purgeMargin  = 60 * time.Minute // how long a used token is kept after it expired
)

// Algorithm is the only signing algorithm accepted: HMAC with SHA-256.
const Algorithm = "HS256"

// Claims are what a verified token says about the visitor.
type Claims struct {
	Email string `json:"email"` // lower-cased, one plain address
	// Subject is the customer's own id of the user (claim sub), when given.
	Subject string `json:"sub,omitempty"`
	// Fields are further visitor fields (first_name, company, …) the customer's server vouches
	// for; they are not validated here (the field package does that when they are stored).
	Fields    map[string]string `json:"fields,omitempty"`
	JTI       string            `json:"jti"`
	IssuedAt  time.Time         `json:"iat"`
	ExpiresAt time.Time         `json:"exp"`
}

// NewSecret returns a new workspace secret: 32 random bytes, base64url-encoded without padding
// (43 characters). Customers sign with the text of the secret as the HMAC key.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("idverify: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var b64 = base64.RawURLEncoding.Strict()

// refuse returns the error of a token that is not accepted, about the messenger's input field
// "signature".
func refuse(format string, args ...any) error {
	return errs.Field(errs.Unauthenticated, "signature", format, args...)
}

// Parse checks a token without recording it: its form (three base64url parts, JSON objects), its
// algorithm (exactly HS256), its signature with secret (compared in constant time), its claims
// and its times at now. It returns errs.Unauthenticated on "signature" with a message that says
// what is wrong, and a plain (internal) error when secret is shorter than MinSecretLen. Verify
// is Parse plus the record that makes a token single-use; use Verify to accept an identify.
func Parse(secret []byte, token string, now time.Time) (*Claims, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("idverify: the workspace's identity secret is missing or too short")
	}
	if token == "" {
		return nil, refuse("an identity token is required: identity verification is on for this workspace")
	}
	if len(token) > MaxTokenLen {
		return nil, refuse("the identity token is longer than %d characters", MaxTokenLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, refuse("the identity token is not a JWT (header.payload.signature)")
	}
	header, err := decodeObject(parts[0])
	if err != nil {
		return nil, refuse("the token's header is not base64url-encoded JSON")
	}
	var alg string
	if raw, ok := header["alg"]; !ok || json.Unmarshal(raw, &alg) != nil || alg != Algorithm {
		return nil, refuse("wrong algorithm %s: identity tokens must be signed with HS256", quoteRaw(header["alg"]))
	}
	if raw, ok := header["typ"]; ok {
		var typ string
		if json.Unmarshal(raw, &typ) != nil || !strings.EqualFold(typ, "JWT") {
			return nil, refuse("the token's typ must be JWT")
		}
	}
	if _, ok := header["crit"]; ok {
		return nil, refuse("the token's header lists crit extensions, which are not supported")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != sha256.Size {
		return nil, refuse("bad signature: not an HS256 signature in base64url")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(token[:len(parts[0])+1+len(parts[1])]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, refuse("bad signature: the token was not signed with this workspace's identity secret")
	}
	claims, err := decodeObject(parts[1])
	if err != nil {
		return nil, refuse("the token's payload is not base64url-encoded JSON")
	}
	return checkClaims(claims, now)
}

// decodeObject decodes a base64url part holding a JSON object. Keys are matched exactly (Go's
// struct decoding would ignore case).
func decodeObject(part string) (map[string]json.RawMessage, error) {
	b, err := b64.DecodeString(part)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// quoteRaw shows a JSON value of a header for a message, briefly.
func quoteRaw(raw json.RawMessage) string {
	if raw == nil {
		return "(none)"
	}
	s := string(raw)
	if len(s) > 20 || !printableASCII(strings.ReplaceAll(s, " ", "")) {
		return "(unsupported)"
	}
	return s
}

func checkClaims(m map[string]json.RawMessage, now time.Time) (*Claims, error) {
	for _, name := range []string{"email", "exp", "iat", "jti"} {
		if raw, ok := m[name]; !ok || string(raw) == "null" {
			return nil, refuse("missing claim %s", name)
		}
	}
	var c Claims
	var email string
	if json.Unmarshal(m["email"], &email) != nil {
		return nil, refuse("claim email must be a string")
	}
	a, perr := address.Parse(email)
	if perr != nil {
		return nil, refuse("claim email is not an email address")
	}
	c.Email = a.String()

	var err error
	if c.ExpiresAt, err = numericDate(m["exp"]); err != nil {
		return nil, refuse("claim exp must be a NumericDate (seconds since 1970-01-01 UTC)")
	}
	if c.IssuedAt, err = numericDate(m["iat"]); err != nil {
		return nil, refuse("claim iat must be a NumericDate (seconds since 1970-01-01 UTC)")
	}
	var notBefore time.Time
	if raw, ok := m["nbf"]; ok && string(raw) != "null" {
		if notBefore, err = numericDate(raw); err != nil {
			return nil, refuse("claim nbf must be a NumericDate (seconds since 1970-01-01 UTC)")
		}
	}
	if json.Unmarshal(m["jti"], &c.JTI) != nil || len(c.JTI) < MinJTILen || len(c.JTI) > MaxJTILen || !printableASCII(c.JTI) {
		return nil, refuse("claim jti must be %d–%d printable ASCII characters, unique for every token", MinJTILen, MaxJTILen)
	}
	if raw, ok := m["sub"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &c.Subject) != nil || utf8.RuneCountInString(c.Subject) > MaxSubLen || !plainLine(c.Subject) {
			return nil, refuse("claim sub must be one line of text of at most %d characters", MaxSubLen)
		}
	}
	if raw, ok := m["fields"]; ok && string(raw) != "null" {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &c.Fields) != nil {
			return nil, refuse("claim fields must be an object of strings")
		}
		if len(c.Fields) > MaxFields {
			return nil, refuse("claim fields has more than %d entries", MaxFields)
		}
		if _, ok := c.Fields["email"]; ok {
			return nil, refuse("claim fields must not hold email: the email goes in claim email")
		}
	}

	if !c.ExpiresAt.After(c.IssuedAt) {
		return nil, refuse("claim exp must be after iat")
	}
	if c.ExpiresAt.Sub(c.IssuedAt) > MaxLifetime {
		return nil, refuse("the token lives too long: exp may be at most 24 hours after iat")
	}
	if c.IssuedAt.After(now.Add(MaxSkew)) {
		return nil, refuse("the token is not valid yet: iat is in the future (check the clock of the server that signs)")
	}
	if !notBefore.IsZero() && notBefore.After(now.Add(MaxSkew)) {
		return nil, refuse("the token is not valid yet (nbf)")
	}
	if !c.ExpiresAt.After(now) {
		return nil, refuse("the token expired at %s", c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return &c, nil
}

// numericDate reads an RFC 7519 NumericDate: a JSON number of seconds since the epoch, possibly
// with a fraction, between 1970 and the year 5000.
func numericDate(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) { // a number, not "123" in quotes
		return time.Time{}, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 95617584000 {
		return time.Time{}, errors.New("out of range")
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func plainLine(s string) bool {
	for _, r := range s {
		if r != '\u200d' && unicode.In(r, unicode.Cc, unicode.Cf) {
			return false
		}
	}
	return true
}

// Verify accepts a token for workspace wsID once: it checks it as Parse does and then records its
// jti in used_identity_tokens using q (the caller's transaction, so that a rolled-back identify
// leaves the token usable, or the database). A token whose jti the workspace has seen is refused
// with errs.Unauthenticated "this token was used already". Every refusal is errs.Unauthenticated
// on "signature"; a short secret or a database failure is an internal error.
func Verify(ctx context.Context, q db.Queryer, wsID string, secret []byte, token string, now time.Time) (*Claims, error) {
	c, err := Parse(secret, token, now)
	if err != nil {
		return nil, err
	}
	// ON CONFLICT DO NOTHING rather than a failing INSERT: on PostgreSQL a unique violation would
	// abort the caller's whole transaction. A concurrent Verify of the same jti waits for this
	// transaction and then inserts nothing.
	res, err := q.ExecContext(ctx, `INSERT INTO used_identity_tokens (workspace_id, jti, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id, jti) DO NOTHING`, wsID, c.JTI, db.Micro(c.ExpiresAt))
	if db.IsUniqueViolation(err) {
		return nil, refuse("this token was used already: sign a new token, with a new jti, for every identify")
	}
	if err != nil {
		return nil, fmt.Errorf("idverify.Verify: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("idverify.Verify: %w", err)
	} else if n == 0 {
		return nil, refuse("this token was used already: sign a new token, with a new jti, for every identify")
	}
	return c, nil
}

// PurgeExpired deletes the records of used tokens that expired more than an hour before now
// (Verify refuses them as expired anyway; the hour covers servers whose clocks differ) and returns
// how many went. Housekeeping calls it periodically for the whole server.
func PurgeExpired(ctx context.Context, q db.Queryer, now time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM used_identity_tokens WHERE expires_at < $1`, db.Micro(now.Add(-purgeMargin)))
	if err != nil {
		return 0, fmt.Errorf("idverify.PurgeExpired: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// Sign makes a token for c with secret, as a customer's server does: HS256, with c's email, sub,
// fields, iat, exp and jti (a random one when c.JTI is empty). Beckon itself never needs it; it
// serves the demo site and tests of the packages that call Verify.
func Sign(secret []byte, c Claims) string {
	if c.JTI == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		c.JTI = base64.RawURLEncoding.EncodeToString(b[:])
	}
	payload := map[string]any{"email": c.Email, "iat": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix(), "jti": c.JTI}
	if c.Subject != "" {
		payload["sub"] = c.Subject
	}
	if len(c.Fields) > 0 {
		payload["fields"] = c.Fields
	}
	h, _ := json.Marshal(map[string]string{"alg": Algorithm, "typ": "JWT"})
	p, _ := json.Marshal(payload)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
