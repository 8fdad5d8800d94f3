package idverify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/idverify"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// The reference signer: how a customer's server makes a token, written from RFC 7519 and 7515
// without the package's code.

var enc = base64.RawURLEncoding

func refSignRaw(secret string, header, payload []byte) string {
	in := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(in))
	return in + "." + enc.EncodeToString(mac.Sum(nil))
}

func refSign(secret string, header, claims any) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	return refSignRaw(secret, h, p)
}

var (
	secret = "p4BhYCZPp_I3_jZPLpEzurVjCizmdG44V2w4uI4QPv8" // made by NewSecret
	t0     = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	hs256  = map[string]any{"alg": "HS256", "typ": "JWT"}
)

func baseClaims() map[string]any {
	return map[string]any{
		"email":  "Ada@Acme.example",
		"iat":    t0.Add(-time.Minute).Unix(),
		"exp":    t0.Add(10 * time.Minute).Unix(),
		"jti":    "jti-00000001",
		"sub":    "user-42",
		"fields": map[string]string{"first_name": "Ada", "company": "Acme"},
	}
}

// with returns the base claims changed by kv (key, value, key, value…); a nil value removes the key.
func with(kv ...any) map[string]any {
	c := baseClaims()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

// tamper replaces part i (0 header, 1 payload, 2 signature) of a token.
func tamper(token string, i int, part string) string {
	p := strings.Split(token, ".")
	p[i] = part
	return strings.Join(p, ".")
}

func TestParse(t *testing.T) {
	good := refSign(secret, hs256, baseClaims())
	many := map[string]string{}
	for i := range idverify.MaxFields + 1 {
		many[fmt.Sprintf("f%d", i)] = "x"
	}
	cases := []struct {
		name  string
		token string
		want  string // a part of the refusal's message; empty: accepted
	}{
		{"valid", good, ""},
		{"no typ", refSign(secret, map[string]any{"alg": "HS256"}, baseClaims()), ""},
		{"typ in lower case", refSign(secret, map[string]any{"alg": "HS256", "typ": "jwt"}, baseClaims()), ""},
		{"a key id is ignored", refSign(secret, map[string]any{"alg": "HS256", "kid": "k1"}, baseClaims()), ""},
		{"fractional dates", refSign(secret, hs256, with("iat", float64(t0.Unix())-0.5, "exp", float64(t0.Unix())+0.25)), ""},
		{"iat 5 minutes ahead", refSign(secret, hs256, with("iat", t0.Add(5*time.Minute).Unix(), "exp", t0.Add(10*time.Minute).Unix())), ""},
		{"lives exactly 24 hours", refSign(secret, hs256, with("iat", t0.Add(-time.Hour).Unix(), "exp", t0.Add(23*time.Hour).Unix())), ""},
		{"no sub, no fields", refSign(secret, hs256, with("sub", nil, "fields", nil)), ""},
		{"null fields", refSign(secret, hs256, with("fields", json.RawMessage("null"))), ""},
		{"nbf passed", refSign(secret, hs256, with("nbf", t0.Add(-time.Minute).Unix())), ""},
		{"jti of 128", refSign(secret, hs256, with("jti", strings.Repeat("j", 128))), ""},

		{"empty", "", "an identity token is required"},
		{"too long", refSign(secret, hs256, with("sub", strings.Repeat("x", 3100))), "longer than 4096"},
		{"two parts", strings.Join(strings.Split(good, ".")[:2], "."), "not a JWT"},
		{"four parts", good + ".x", "not a JWT"},
		{"header not base64url", tamper(good, 0, "eyJ!!!"), "header is not base64url-encoded JSON"},
		{"padded header", tamper(good, 0, enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))+"="), "header is not base64url"},
		{"header an array", tamper(good, 0, enc.EncodeToString([]byte(`["HS256"]`))), "header is not base64url-encoded JSON"},
		{"header not JSON", tamper(good, 0, enc.EncodeToString([]byte(`{"alg":`))), "header is not base64url-encoded JSON"},
		{"alg none, no signature", tamper(tamper(good, 0, enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))), 2, ""), `wrong algorithm "none"`},
		{"alg none, signed", refSign(secret, map[string]any{"alg": "none"}, baseClaims()), `wrong algorithm "none"`},
		{"tampered header: alg none, old signature", tamper(good, 0, enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))), "wrong algorithm"},
		{"RS256", refSign(secret, map[string]any{"alg": "RS256"}, baseClaims()), `wrong algorithm "RS256"`},
		{"HS512", refSign(secret, map[string]any{"alg": "HS512"}, baseClaims()), "wrong algorithm"},
		{"hs256 in lower case", refSign(secret, map[string]any{"alg": "hs256"}, baseClaims()), "wrong algorithm"},
		{"ALG key in upper case", refSign(secret, map[string]any{"ALG": "HS256"}, baseClaims()), "wrong algorithm (none)"},
		{"no alg", refSign(secret, map[string]any{"typ": "JWT"}, baseClaims()), "wrong algorithm (none)"},
		{"alg a number", refSign(secret, map[string]any{"alg": 256}, baseClaims()), "wrong algorithm 256"},
		{"alg an object", refSign(secret, map[string]any{"alg": map[string]string{"name": "HS256"}}, baseClaims()), "wrong algorithm"},
		{"typ JWS", refSign(secret, map[string]any{"alg": "HS256", "typ": "JWS"}, baseClaims()), "typ must be JWT"},
		{"crit", refSign(secret, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, baseClaims()), "crit"},
		{"another secret", refSign("another secret of at least 32 bytes, yes", hs256, baseClaims()), "bad signature: the token was not signed"},
		{"tampered payload", tamper(good, 1, enc.EncodeToString(mustJSON(with("email", "ceo@bigcustomer.example")))), "bad signature: the token was not signed"},
		{"payload of another token", tamper(good, 1, strings.Split(refSign(secret, hs256, with("jti", "jti-00000002")), ".")[1]), "bad signature: the token was not signed"},
		{"truncated signature", good[:len(good)-2], "bad signature: not an HS256 signature"},
		{"empty signature", tamper(good, 2, ""), "bad signature: not an HS256 signature"},
		{"signature not base64url", tamper(good, 2, strings.Repeat("*", 43)), "bad signature: not an HS256 signature"},
		{"non-canonical signature", tamper(good, 2, flipLastBits(strings.Split(good, ".")[2])), "bad signature: not an HS256 signature"},
		{"payload not JSON", refSignRaw(secret, mustJSON(hs256), []byte("email=ada")), "payload is not base64url-encoded JSON"},
		{"payload an array", refSignRaw(secret, mustJSON(hs256), []byte(`[1]`)), "payload is not base64url-encoded JSON"},
		{"no email", refSign(secret, hs256, with("email", nil)), "missing claim email"},
		{"null email", refSign(secret, hs256, with("email", json.RawMessage("null"))), "missing claim email"},
		{"no exp", refSign(secret, hs256, with("exp", nil)), "missing claim exp"},
		{"no iat", refSign(secret, hs256, with("iat", nil)), "missing claim iat"},
		{"no jti", refSign(secret, hs256, with("jti", nil)), "missing claim jti"},
		{"email a number", refSign(secret, hs256, with("email", 42)), "claim email must be a string"},
		{"email not an address", refSign(secret, hs256, with("email", "ada")), "claim email is not an email address"},
		{"email with a name", refSign(secret, hs256, with("email", "Ada <ada@acme.example>")), "claim email is not an email address"},
		{"exp a string", refSign(secret, hs256, with("exp", fmt.Sprint(t0.Add(time.Hour).Unix()))), "claim exp must be a NumericDate"},
		{"exp negative", refSign(secret, hs256, with("exp", -1)), "claim exp must be a NumericDate"},
		{"exp absurd", refSign(secret, hs256, with("exp", 1e20)), "claim exp must be a NumericDate"},
		{"iat a bool", refSign(secret, hs256, with("iat", true)), "claim iat must be a NumericDate"},
		{"nbf a string", refSign(secret, hs256, with("nbf", "now")), "claim nbf must be a NumericDate"},
		{"jti short", refSign(secret, hs256, with("jti", "1234567")), "claim jti must be 8–128"},
		{"jti long", refSign(secret, hs256, with("jti", strings.Repeat("j", 129))), "claim jti must be 8–128"},
		{"jti with a space", refSign(secret, hs256, with("jti", "jti 0000001")), "claim jti must be 8–128"},
		{"jti not ASCII", refSign(secret, hs256, with("jti", "jti-éééééé")), "claim jti must be 8–128"},
		{"jti a number", refSign(secret, hs256, with("jti", 123456789)), "claim jti must be 8–128"},
		{"sub a number", refSign(secret, hs256, with("sub", 42)), "claim sub must be one line"},
		{"sub with a newline", refSign(secret, hs256, with("sub", "a\nb")), "claim sub must be one line"},
		{"fields an array", refSign(secret, hs256, with("fields", []string{"Ada"})), "claim fields must be an object of strings"},
		{"fields a string", refSign(secret, hs256, with("fields", "Ada")), "claim fields must be an object of strings"},
		{"fields with a number", refSign(secret, hs256, with("fields", map[string]any{"employees": 50})), "claim fields must be an object of strings"},
		{"fields with email", refSign(secret, hs256, with("fields", map[string]any{"email": "ceo@bigcustomer.example"})), "must not hold email"},
		{"too many fields", refSign(secret, hs256, with("fields", many)), "more than 100 entries"},
		{"exp before iat", refSign(secret, hs256, with("iat", t0.Unix(), "exp", t0.Add(-time.Second).Unix())), "claim exp must be after iat"},
		{"exp at iat", refSign(secret, hs256, with("iat", t0.Unix(), "exp", t0.Unix())), "claim exp must be after iat"},
		{"lives over 24 hours", refSign(secret, hs256, with("iat", t0.Add(-time.Hour).Unix(), "exp", t0.Add(23*time.Hour+time.Second).Unix())), "lives too long"},
		{"iat in the future", refSign(secret, hs256, with("iat", t0.Add(5*time.Minute+time.Second).Unix(), "exp", t0.Add(time.Hour).Unix())), "not valid yet: iat is in the future"},
		{"nbf in the future", refSign(secret, hs256, with("nbf", t0.Add(10*time.Minute).Unix())), "not valid yet (nbf)"},
		{"expired", refSign(secret, hs256, with("iat", t0.Add(-time.Hour).Unix(), "exp", t0.Add(-time.Second).Unix())), "the token expired at 2026-11-02T09:59:59Z"},
		{"expiring now", refSign(secret, hs256, with("iat", t0.Add(-time.Hour).Unix(), "exp", t0.Unix())), "the token expired at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims, err := idverify.Parse([]byte(secret), c.token, t0)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if claims.Email != "ada@acme.example" || claims.JTI == "" || !claims.ExpiresAt.After(t0) {
					t.Fatalf("claims %+v", claims)
				}
				return
			}
			e := errs.As(err)
			if e == nil || e.Kind != errs.Unauthenticated || e.Field != "signature" || !strings.Contains(e.Message, c.want) {
				t.Fatalf("got %v (claims %+v), want unauthenticated %q", err, claims, c.want)
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// flipLastBits changes the unused low bits of the last base64url character of a 32-byte value, which
// a lenient decoder would read as the same bytes.
func flipLastBits(s string) string {
	last := s[len(s)-1]
	i := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
	alt := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[i^1]
	return s[:len(s)-1] + string(alt)
}

func TestParseClaims(t *testing.T) {
	c, err := idverify.Parse([]byte(secret), refSign(secret, hs256, with("iat", float64(t0.Add(-time.Minute).Unix())+0.5)), t0)
	if err != nil {
		t.Fatal(err)
	}
	want := idverify.Claims{Email: "ada@acme.example", Subject: "user-42", JTI: "jti-00000001",
		Fields:   map[string]string{"first_name": "Ada", "company": "Acme"},
		IssuedAt: t0.Add(-time.Minute + 500*time.Millisecond), ExpiresAt: t0.Add(10 * time.Minute)}
	if c.Email != want.Email || c.Subject != want.Subject || c.JTI != want.JTI || !maps.Equal(c.Fields, want.Fields) ||
		!c.IssuedAt.Equal(want.IssuedAt) || !c.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("claims %+v, want %+v", c, want)
	}
	// A short or missing secret is the server's fault, never a pass.
	for _, s := range []string{"", "short"} {
		if _, err := idverify.Parse([]byte(s), refSign(s, hs256, baseClaims()), t0); err == nil || errs.As(err) != nil {
			t.Fatalf("secret %q: %v", s, err)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, b := idverify.NewSecret(), idverify.NewSecret()
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 || len(a) != 43 || a == b {
		t.Fatalf("secrets %q %q %v", a, b, err)
	}
}

func TestSign(t *testing.T) {
	c := idverify.Claims{Email: "ada@acme.example", Subject: "user-42", Fields: map[string]string{"company": "Acme"},
		IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	tok := idverify.Sign([]byte(secret), c)
	got, err := idverify.Parse([]byte(secret), tok, t0)
	if err != nil || got.Email != c.Email || got.Subject != c.Subject || got.Fields["company"] != "Acme" || len(got.JTI) < 8 {
		t.Fatalf("signed %+v %v", got, err)
	}
	if again, _ := idverify.Parse([]byte(secret), idverify.Sign([]byte(secret), c), t0); again.JTI == got.JTI {
		t.Fatal("Sign repeats a jti")
	}
}

type fixture struct {
	d         *db.DB
	ws, ws2   string
	sec, sec2 []byte
}

func setup(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	wss := workspace.NewStore(d, clock.NewFake(t0))
	a, err := wss.Create(ctx, d, workspace.New{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wss.Create(ctx, d, workspace.New{Name: "Globex"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{d: d, ws: a.ID, ws2: b.ID, sec: []byte(secret), sec2: []byte(idverify.NewSecret())}
}

func wantRefused(t *testing.T, err error, msg string) {
	t.Helper()
	if e := errs.As(err); e == nil || e.Kind != errs.Unauthenticated || e.Field != "signature" || !strings.Contains(e.Message, msg) {
		t.Fatalf("got %v, want unauthenticated %q", err, msg)
	}
}

func usedCount(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRow(`SELECT COUNT(*) FROM used_identity_tokens`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestVerifyOnce(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		tok := refSign(secret, hs256, baseClaims())
		c, err := idverify.Verify(ctx, d, f.ws, f.sec, tok, t0)
		if err != nil || c.Email != "ada@acme.example" {
			t.Fatalf("verify %+v %v", c, err)
		}
		// Replayed: refused, later too, and after a restart of nothing.
		_, err = idverify.Verify(ctx, d, f.ws, f.sec, tok, t0.Add(time.Minute))
		wantRefused(t, err, "this token was used already")
		// A new token with the same jti is a replay too.
		_, err = idverify.Verify(ctx, d, f.ws, f.sec, refSign(secret, hs256, with("email", "bob@acme.example")), t0)
		wantRefused(t, err, "this token was used already")
		// The token of one workspace is worth nothing in another (another secret).
		_, err = idverify.Verify(ctx, d, f.ws2, f.sec2, tok, t0)
		wantRefused(t, err, "bad signature")
		// The same jti in another workspace, signed with its secret, is another token.
		if _, err := idverify.Verify(ctx, d, f.ws2, f.sec2, refSign(string(f.sec2), hs256, baseClaims()), t0); err != nil {
			t.Fatal(err)
		}
		// Refused tokens leave no record.
		_, err = idverify.Verify(ctx, d, f.ws, f.sec, refSign(secret, hs256, with("jti", "jti-expired", "exp", t0.Unix())), t0)
		wantRefused(t, err, "expired")
		if n := usedCount(t, d); n != 2 {
			t.Fatalf("%d used tokens recorded", n)
		}
		// A replay of an expired token says it expired.
		_, err = idverify.Verify(ctx, d, f.ws, f.sec, tok, t0.Add(11*time.Minute))
		wantRefused(t, err, "expired")
	})
}

func TestVerifyInRolledBackTransaction(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		tok := refSign(secret, hs256, baseClaims())
		boom := errors.New("identify failed")
		var replay error
		// No t.Fatal inside: it would leave the transaction open.
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := idverify.Verify(ctx, tx, f.ws, f.sec, tok, t0); err != nil {
				return err
			}
			// A replay inside the same transaction is refused, and the transaction can go on
			// (PostgreSQL aborts a transaction after a failed statement).
			_, replay = idverify.Verify(ctx, tx, f.ws, f.sec, tok, t0)
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
				return fmt.Errorf("transaction unusable after a replay: %w", err)
			}
			return boom
		})
		if err != boom {
			t.Fatal(err)
		}
		wantRefused(t, replay, "used already")
		// The identify did not happen, so the token is still good.
		if _, err := idverify.Verify(ctx, d, f.ws, f.sec, tok, t0); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVerifyConcurrentReplay(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		tok := refSign(secret, hs256, baseClaims())
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, replays := 0, 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := d.InTx(ctx, func(tx *sql.Tx) error {
					_, err := idverify.Verify(ctx, tx, f.ws, f.sec, tok, t0)
					return err
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errs.Is(err, errs.Unauthenticated):
					replays++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || replays != 7 {
			t.Fatalf("%d accepted, %d refused", ok, replays)
		}
	})
}

func TestPurgeExpired(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		for i, exp := range []time.Duration{time.Minute, 10 * time.Minute, 2 * time.Hour} {
			tok := refSign(secret, hs256, with("jti", fmt.Sprintf("jti-purge-%d", i), "exp", t0.Add(exp).Unix()))
			if _, err := idverify.Verify(ctx, d, f.ws, f.sec, tok, t0); err != nil {
				t.Fatal(err)
			}
		}
		// An hour after expiry at the earliest.
		if n, err := idverify.PurgeExpired(ctx, d, t0.Add(time.Hour+time.Minute)); err != nil || n != 0 {
			t.Fatalf("purged %d %v", n, err)
		}
		if n, err := idverify.PurgeExpired(ctx, d, t0.Add(time.Hour+10*time.Minute+time.Second)); err != nil || n != 2 {
			t.Fatalf("purged %d %v", n, err)
		}
		if n := usedCount(t, d); n != 1 {
			t.Fatalf("%d left", n)
		}
	})
}
