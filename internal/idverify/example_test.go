package idverify_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/idverify"
	"github.com/beckonhq/beckon/internal/workspace"
)

// The Go example of docs/IDENTITY-VERIFICATION.md, verbatim (TestDocsGoExampleIsTested checks it).

// beckonIdentityToken returns a token that proves to Beckon that the visitor is the user with
// this email. secret is the workspace's identity-verification secret, exactly as Beckon showed
// it. userID (your own id of the user) and fields are optional.
func beckonIdentityToken(secret, email, userID string, fields map[string]string) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := time.Now().Unix()
	claims := map[string]any{
		"email": email,
		"iat":   now,
		"exp":   now + 10*60,                               // valid for 10 minutes (at most 24 hours)
		"jti":   base64.RawURLEncoding.EncodeToString(jti), // unique: Beckon accepts each token once
	}
	if userID != "" {
		claims["sub"] = userID
	}
	if len(fields) > 0 {
		claims["fields"] = fields
	}
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signingInput := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signingInput))
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Example_signInGo signs a token as the Go example of docs/IDENTITY-VERIFICATION.md does and
// verifies it as Beckon does on identify.
func Example_signInGo() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "idverify-example")
	defer os.RemoveAll(dir)
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		panic(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		panic(err)
	}
	ws, err := workspace.NewStore(d, clock.System{}).Create(ctx, d, workspace.New{Name: "Acme"})
	if err != nil {
		panic(err)
	}
	secret := idverify.NewSecret() // shown once to the admin, kept by the customer's server

	token, err := beckonIdentityToken(secret, "ada@acme.example", "user-42", map[string]string{"first_name": "Ada", "company": "Acme"})
	if err != nil {
		panic(err)
	}

	c, err := idverify.Verify(ctx, d, ws.ID, []byte(secret), token, time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Email, c.Subject, c.Fields["first_name"], c.Fields["company"], c.ExpiresAt.Sub(c.IssuedAt))
	_, err = idverify.Verify(ctx, d, ws.ID, []byte(secret), token, time.Now())
	fmt.Println(err)
	// Output:
	// ada@acme.example user-42 Ada Acme 10m0s
	// signature: this token was used already: sign a new token, with a new jti, for every identify
}
