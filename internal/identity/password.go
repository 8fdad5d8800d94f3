package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/beckonhq/beckon/internal/errs"
)

// HashParams are argon2id's cost parameters (RFC 9106). DefaultHashParams follows the RFC's
// second recommended option (64 MiB, 3 passes); tests use cheaper ones.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultHashParams are the production cost parameters.
var DefaultHashParams = HashParams{Memory: 64 * 1024, Time: 3, Threads: 2}

// TestHashParams are cheap parameters for tests only.
var TestHashParams = HashParams{Memory: 1024, Time: 1, Threads: 1}

const (
	// MinPasswordLen and MaxPasswordLen bound a password's length in characters.
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// CheckPassword returns errs.Invalid about field "password" when pw is too short, too long, or
// the same as the user's email.
func CheckPassword(pw, email string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return errs.Field(errs.Invalid, "password", "must be valid text")
	case n < MinPasswordLen:
		return errs.Field(errs.Invalid, "password", "must be at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return errs.Field(errs.Invalid, "password", "must be at most %d characters", MaxPasswordLen)
	case strings.EqualFold(pw, email):
		return errs.Field(errs.Invalid, "password", "must not be your email address")
	}
	return nil
}

// HashPassword returns the PHC-format argon2id hash of pw: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func HashPassword(pw string, p HashParams) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("identity: malformed password hash")

// VerifyPassword reports whether pw matches hash, in time independent of where they differ.
func VerifyPassword(pw, hash string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	var p HashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || p.Memory > 1<<21 || p.Time > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
