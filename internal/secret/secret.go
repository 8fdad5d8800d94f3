// Package secret encrypts secrets at rest (SEC4): OAuth tokens, SMTP and webhook credentials that
// Beckon stores for workspaces. A Keyring holds the operator's current key (BECKON_SECRET_KEY) and
// any previous ones (BECKON_SECRET_KEYS_OLD): Seal always uses the current key, Open accepts any
// key of the ring, and NeedsReseal tells which stored values still use an old key, so that
// rotation is: add the new key as current, keep the old one in the old list, re-seal, then drop
// the old key.
//
// A sealed value is text: "bks1.<key id>.<base64url(nonce ‖ AES-256-GCM ciphertext)>". The key id
// is derived from the key, so a value names the key it needs without revealing it. The caller
// passes associated data — the row's id and column, say — so that a sealed value copied to
// another row or column does not open.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const prefix = "bks1"

// Keyring seals with its current key and opens with any of its keys.
type Keyring struct {
	current string                 // key id of the sealing key
	keys    map[string]cipher.AEAD // by key id
}

// ErrUnknownKey means a value was sealed with a key the ring does not hold.
var ErrUnknownKey = errors.New("secret: sealed with a key this server does not have (was BECKON_SECRET_KEYS_OLD emptied too soon?)")

// ErrCorrupt means a value is not a sealed value, or was altered, or belongs to another row.
var ErrCorrupt = errors.New("secret: sealed value is corrupt or belongs elsewhere")

// NewKeyring returns a ring sealing with current and also opening with each of old. Keys are the
// raw bytes of the operator's keys (config.KeyBytes), at least 32 bytes each; an encryption key
// is derived from each with HKDF-SHA256.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for i, raw := range append([][]byte{current}, old...) {
		if len(raw) < 32 {
			return nil, fmt.Errorf("secret: key %d is %d bytes; at least 32 are needed", i, len(raw))
		}
		id, aead, err := derive(raw)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			k.current = id
		}
		k.keys[id] = aead
	}
	return k, nil
}

func derive(raw []byte) (string, cipher.AEAD, error) {
	ek, err := hkdf.Key(sha256.New, raw, nil, "beckon secret encryption v1", 32)
	if err != nil {
		return "", nil, err
	}
	kid, err := hkdf.Key(sha256.New, raw, nil, "beckon secret key id v1", 6)
	if err != nil {
		return "", nil, err
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return "", nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(kid), aead, nil
}

// Seal encrypts plaintext with the current key, bound to ad (associated data that Open must be
// given again, e.g. "workspaces/ws_…/smtp_password").
func (k *Keyring) Seal(plaintext []byte, ad string) string {
	aead := k.keys[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(ad))
	return prefix + "." + k.current + "." + base64.RawURLEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal with the same ad. It returns ErrUnknownKey when the value's
// key is not in the ring, and ErrCorrupt when it is malformed, altered or bound to other ad.
func (k *Keyring) Open(sealed, ad string) ([]byte, error) {
	parts := strings.Split(sealed, ".")
	if len(parts) != 3 || parts[0] != prefix {
		return nil, ErrCorrupt
	}
	aead, ok := k.keys[parts[1]]
	if !ok {
		return nil, ErrUnknownKey
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCorrupt
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(ad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// NeedsReseal reports whether a sealed value uses a key other than the current one.
func (k *Keyring) NeedsReseal(sealed string) bool {
	parts := strings.Split(sealed, ".")
	return len(parts) != 3 || parts[1] != k.current
}

// Reseal opens a value with whichever key sealed it and seals it again with the current key.
func (k *Keyring) Reseal(sealed, ad string) (string, error) {
	pt, err := k.Open(sealed, ad)
	if err != nil {
		return "", err
	}
	return k.Seal(pt, ad), nil
}
