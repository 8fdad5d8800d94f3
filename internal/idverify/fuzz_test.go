package idverify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/idverify"
)

// accepted checks what Parse must guarantee of any token it accepts: the token carries an HS256
// signature by secret over its first two parts, in canonical base64url; the header names HS256;
// the claims are within their rules at now.
func accepted(t *testing.T, token string, c *idverify.Claims) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > idverify.MaxTokenLen {
		t.Fatalf("accepted a malformed token %q", token)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); parts[2] != want {
		t.Fatalf("accepted a token not signed with the secret: %q", token)
	}
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	var header map[string]any
	if err != nil || json.Unmarshal(h, &header) != nil || header["alg"] != "HS256" {
		t.Fatalf("accepted header %q", h)
	}
	if c.Email != strings.ToLower(c.Email) || !strings.Contains(c.Email, "@") || len(c.JTI) < 8 || len(c.JTI) > 128 ||
		!c.ExpiresAt.After(t0) || c.ExpiresAt.Sub(c.IssuedAt) > 24*time.Hour || c.IssuedAt.After(t0.Add(5*time.Minute)) {
		t.Fatalf("accepted claims %+v", c)
	}
	if _, ok := c.Fields["email"]; ok {
		t.Fatalf("accepted fields with email %+v", c.Fields)
	}
	// With any other secret, the same token is refused.
	if _, err := idverify.Parse([]byte("another secret of at least 32 bytes, yes"), token, t0); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("accepted under another secret: %v", err)
	}
}

func refusedProperly(t *testing.T, err error) {
	t.Helper()
	if e := errs.As(err); e == nil || e.Kind != errs.Unauthenticated || e.Field != "signature" || e.Message == "" {
		t.Fatalf("unclassified error %v", err)
	}
}

// FuzzParse feeds arbitrary strings as tokens: Parse must never panic, refuse with
// errs.Unauthenticated, and accept nothing that the secret did not sign.
func FuzzParse(f *testing.F) {
	good := refSign(secret, hs256, baseClaims())
	f.Add(good)
	f.Add(tamper(good, 0, base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))))
	f.Add(tamper(good, 2, ""))
	f.Add(good + ".")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")
	for _, s := range pasted {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := idverify.Parse([]byte(secret), token, t0)
		if err != nil {
			refusedProperly(t, err)
			return
		}
		accepted(t, token, c)
	})
}

// FuzzParseSigned signs arbitrary headers and payloads with the secret, so that the fuzzer gets
// past the signature to the header and claim checks: Parse must never panic, and what it accepts
// must meet every rule.
func FuzzParseSigned(f *testing.F) {
	f.Add([]byte(`{"alg":"HS256","typ":"JWT"}`), mustJSON(baseClaims()))
	f.Add([]byte(`{"alg":"HS256"}`), []byte(`{"email":"a@b.io","iat":1793613600,"exp":1793614200.5,"jti":"12345678","fields":{"x":null}}`))
	f.Add([]byte(`{"alg":"HS256","alg":"none"}`), []byte(`{"email":"a@b.io","iat":1e9,"exp":1e9,"jti":"12345678"}`))
	f.Add([]byte(`{"alg":"none"}`), []byte(`{}`))
	f.Add([]byte(`{"alg":"HS256","crit":[]}`), []byte(`{"email":"A@B.io","iat":-1,"exp":"1","jti":1,"sub":{},"nbf":null}`))
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		token := refSignRaw(secret, header, payload)
		c, err := idverify.Parse([]byte(secret), token, t0)
		if err != nil {
			refusedProperly(t, err)
			return
		}
		accepted(t, token, c)
	})
}
