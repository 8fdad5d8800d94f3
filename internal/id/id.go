// Package id makes Beckon's identifiers and secrets: random, unguessable, URL-safe (SEC1).
package id

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// enc is lower-case base32 without padding: URL-safe, case-insensitive to read aloud.
var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns a random id of 128 bits with the given prefix, e.g. New("usr") = "usr_3k…".
// The prefix names the kind of thing so that a misplaced id is obvious in logs.
func New(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("id: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	return prefix + "_" + enc.EncodeToString(b[:])
}

// Token returns a random secret of 256 bits with the given prefix, for session cookies, invite
// links and API tokens. Store only Hash(token).
func Token(prefix string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("id: crypto/rand failed: " + err.Error())
	}
	return prefix + "_" + enc.EncodeToString(b[:])
}

// Hash returns the hex SHA-256 of a token, the form in which tokens are stored and looked up.
func Hash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// Valid reports whether s looks like an id made by New with the given prefix. It lets handlers
// answer 404 to garbage without a query.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	_, err := enc.DecodeString(rest)
	return err == nil
}
