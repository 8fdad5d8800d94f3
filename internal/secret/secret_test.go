package secret

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpen(t *testing.T) {
	k, err := NewKeyring(key(1))
	if err != nil {
		t.Fatal(err)
	}
	s := k.Seal([]byte("xoxb-slack-token"), "workspaces/ws_1/slack")
	if strings.Contains(s, "xoxb") || !strings.HasPrefix(s, "bks1.") {
		t.Fatalf("sealed %q", s)
	}
	if s2 := k.Seal([]byte("xoxb-slack-token"), "workspaces/ws_1/slack"); s2 == s {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	pt, err := k.Open(s, "workspaces/ws_1/slack")
	if err != nil || string(pt) != "xoxb-slack-token" {
		t.Fatalf("open: %q %v", pt, err)
	}
	for name, tc := range map[string]struct{ sealed, ad string }{
		"other row":    {s, "workspaces/ws_2/slack"},
		"flipped byte": {s[:len(s)-2] + string(s[len(s)-2]^1) + s[len(s)-1:], "workspaces/ws_1/slack"},
		"not sealed":   {"plaintext", ""},
		"bad base64":   {"bks1." + strings.Split(s, ".")[1] + ".!!!", ""},
		"truncated":    {s[:20], "workspaces/ws_1/slack"},
	} {
		if _, err := k.Open(tc.sealed, tc.ad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestRotation(t *testing.T) {
	oldRing, _ := NewKeyring(key(1))
	sealed := oldRing.Seal([]byte("refresh-token"), "ad")
	rotating, _ := NewKeyring(key(2), key(1))
	if !rotating.NeedsReseal(sealed) {
		t.Fatal("value under the old key does not need resealing")
	}
	if pt, err := rotating.Open(sealed, "ad"); err != nil || string(pt) != "refresh-token" {
		t.Fatalf("old key during rotation: %v", err)
	}
	resealed, err := rotating.Reseal(sealed, "ad")
	if err != nil || rotating.NeedsReseal(resealed) {
		t.Fatalf("reseal: %v", err)
	}
	done, _ := NewKeyring(key(2))
	if pt, err := done.Open(resealed, "ad"); err != nil || string(pt) != "refresh-token" {
		t.Fatalf("after rotation: %v", err)
	}
	if _, err := done.Open(sealed, "ad"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("value under a dropped key: %v", err)
	}
	if _, err := NewKeyring([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := NewKeyring(key(3))
	f.Add(k.Seal([]byte("x"), "ad"), "ad")
	f.Add("bks1..", "")
	f.Fuzz(func(t *testing.T, sealed, ad string) {
		pt, err := k.Open(sealed, ad)
		if err == nil && k.Seal(pt, ad) == sealed {
			t.Fatal("deterministic seal")
		}
	})
}
