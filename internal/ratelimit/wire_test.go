package ratelimit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/errs"
)

type entry struct {
	key   string
	spent uint64
}

// encode returns a batch of replica with entries.
func encode(replica string, entries ...entry) []byte {
	buf := appendHeader(nil, replica)
	for _, e := range entries {
		buf = appendEntry(buf, e.key, uint32(e.spent))
	}
	return buf
}

// decode returns a batch's replica and entries, or the error of parseBatch.
func decode(data []byte) (string, []entry, error) {
	replica, rest, err := parseBatch(data)
	if err != nil {
		return "", nil, err
	}
	var es []entry
	r := entryReader{rest: rest}
	for {
		k, n, ok := r.next()
		if !ok {
			break
		}
		es = append(es, entry{string(k), n})
	}
	return string(replica), es, nil
}

func TestParseBatch(t *testing.T) {
	hashed := wireKey(strings.Repeat("x", 200))
	valid := []struct {
		name    string
		replica string
		entries []entry
	}{
		{"no entries", "r", nil},
		{"some", "host/42/abc", []entry{{"203.0.113.9", 1}, {"", 7}, {"ws_1|2001:db8::/64", 300}}},
		{"hashed and long", strings.Repeat("r", MaxReplicaLen), []entry{{hashed, maxSpent}, {strings.Repeat("k", MaxKeyLen), 1}}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			replica, es, err := decode(encode(tt.replica, tt.entries...))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if replica != tt.replica || len(es) != len(tt.entries) {
				t.Fatalf("got %q %v, want %q %v", replica, es, tt.replica, tt.entries)
			}
			for i := range es {
				if es[i] != tt.entries[i] {
					t.Fatalf("entry %d = %v, want %v", i, es[i], tt.entries[i])
				}
			}
		})
	}
	good := encode("r", entry{"k", 1})
	malformed := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"version", append([]byte{2}, good[1:]...)},
		{"no replica", []byte{wireVersion}},
		{"empty replica", []byte{wireVersion, 0}},
		{"long replica", append([]byte{wireVersion, MaxReplicaLen + 1}, strings.Repeat("r", MaxReplicaLen+1)...)},
		{"short replica", []byte{wireVersion, 5, 'r'}},
		{"truncated key", good[:len(good)-2]},
		{"key without spend", good[:len(good)-1]},
		{"zero spend", append(encode("r"), 1, 'k', 0)},
		{"spend over 32 bits", append(encode("r"), 1, 'k', 0x80, 0x80, 0x80, 0x80, 0x10)},
		{"long key", append(append(encode("r"), MaxKeyLen+1), append([]byte(strings.Repeat("k", MaxKeyLen+1)), 1)...)},
		{"bad hashed key", append(encode("r"), 2, hashMark, 'x', 1)},
		{"key past the end", append(encode("r"), 9, 'k', 1)},
		{"varint overflow", append(encode("r"), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decode(tt.data); !errs.Is(err, errs.Malformed) {
				t.Fatalf("parse(%x) = %v, want an error of kind malformed", tt.data, err)
			}
		})
	}
}

// FuzzParseBatch checks that parseBatch never panics, that what it accepts re-encodes to a batch
// it reads the same, and that every key it accepts is one wireKey could have produced.
func FuzzParseBatch(f *testing.F) {
	f.Add([]byte{})
	f.Add(encode("r"))
	f.Add(encode("replica-1", entry{"203.0.113.9", 3}, entry{wireKey(strings.Repeat("z", 99)), 1 << 31}))
	f.Add(append(encode("r"), 2, hashMark, 'x', 1))
	f.Add([]byte{wireVersion, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		replica, es, err := decode(data)
		if err != nil {
			if !errs.Is(err, errs.Malformed) {
				t.Fatalf("error %v is not of kind malformed", err)
			}
			return
		}
		for _, e := range es {
			if len(e.key) > MaxKeyLen || e.spent < 1 || e.spent > maxSpent {
				t.Fatalf("accepted entry %v", e)
			}
			if len(e.key) > 0 && e.key[0] == hashMark && len(e.key) != hashedLen {
				t.Fatalf("accepted a hashed key of %d bytes", len(e.key))
			}
		}
		again := encode(replica, es...)
		replica2, es2, err := decode(again)
		if err != nil || replica2 != replica || len(es2) != len(es) {
			t.Fatalf("re-encoded %x reads as %q %v %v, want %q %v", again, replica2, es2, err, replica, es)
		}
		for i := range es {
			if es[i] != es2[i] {
				t.Fatalf("entry %d re-read as %v, want %v", i, es2[i], es[i])
			}
		}
		if len(again) > len(data) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(data), len(again))
		}
	})
}

// FuzzWireKey checks that every key maps to a wire key that fits a batch and that only keys that
// could be mistaken for a hash, or are too long, are hashed.
func FuzzWireKey(f *testing.F) {
	for _, s := range []string{"", "203.0.113.9", "\xff", strings.Repeat("k", MaxKeyLen+1), "ws_1|2001:db8::/64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		w := wireKey(key)
		if len(w) > MaxKeyLen {
			t.Fatalf("wireKey(%q) is %d bytes", key, len(w))
		}
		hashed := len(key) > MaxKeyLen || (key != "" && key[0] == hashMark)
		if hashed != (w != key) {
			t.Fatalf("wireKey(%q) = %q", key, w)
		}
		if hashed && (len(w) != hashedLen || w[0] != hashMark) {
			t.Fatalf("wireKey(%q) = %q is not a hash", key, w)
		}
		if !hashed && w != "" && w[0] == hashMark {
			t.Fatalf("wireKey(%q) kept a key that reads as a hash", key)
		}
		batch := appendEntry(appendHeader(nil, "r"), w, 1)
		if _, es, err := decode(batch); err != nil || len(es) != 1 || !bytes.Equal([]byte(es[0].key), []byte(w)) {
			t.Fatalf("the batch of %q reads as %v, %v", w, es, err)
		}
	})
}
