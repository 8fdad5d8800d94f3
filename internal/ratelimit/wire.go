package ratelimit

import (
	"encoding/binary"

	"github.com/beckonhq/beckon/internal/errs"
)

// A batch is what one replica spent per key since its last flush, published on
// SubjectPrefix+name (the subject names the Limiter):
//
//	version    1 byte, wireVersion
//	replica    uvarint length (1..MaxReplicaLen), then the id's bytes
//	entries    until the end, each:
//	  key      uvarint length (0..MaxKeyLen), then the key's bytes (see wireKey)
//	  spent    uvarint, 1..maxSpent
//
// A key beginning with hashMark is a hashed key, exactly hashedLen bytes long.
const (
	wireVersion = 1
	hashMark    = 0xFF
	hashedLen   = 1 + 16
	maxSpent    = 1<<32 - 1
	// maxEntryLen is the longest encoded entry: a one-byte length, the key, a 32-bit uvarint.
	maxEntryLen = 1 + MaxKeyLen + binary.MaxVarintLen32
)

// appendHeader appends a batch's version and replica id to buf.
func appendHeader(buf []byte, replica string) []byte {
	buf = append(buf, wireVersion)
	buf = binary.AppendUvarint(buf, uint64(len(replica)))
	return append(buf, replica...)
}

// appendEntry appends one key's spend to buf.
func appendEntry(buf []byte, key string, spent uint32) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	return binary.AppendUvarint(buf, uint64(spent))
}

// parseBatch checks a whole batch and returns its replica id and its entries, to read with
// entryReader. It returns an error of kind errs.Malformed (field "batch") saying what is wrong.
// The slices returned alias data.
func parseBatch(data []byte) (replica, entries []byte, err error) {
	if len(data) == 0 {
		return nil, nil, errs.Field(errs.Malformed, "batch", "is empty")
	}
	if data[0] != wireVersion {
		return nil, nil, errs.Field(errs.Malformed, "batch", "has version %d, not %d", data[0], wireVersion)
	}
	rest := data[1:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n < 1 || n > MaxReplicaLen || n > uint64(len(rest)-w) {
		return nil, nil, errs.Field(errs.Malformed, "batch", "has a bad replica id")
	}
	replica, entries = rest[w:w+int(n)], rest[w+int(n):]
	r := entryReader{rest: entries}
	for len(r.rest) > 0 {
		at := len(data) - len(r.rest)
		if _, _, ok := r.next(); !ok {
			return nil, nil, errs.Field(errs.Malformed, "batch", "has a bad entry at byte %d", at)
		}
	}
	return replica, entries, nil
}

// entryReader reads the entries of a batch one at a time.
type entryReader struct{ rest []byte }

// next returns the next entry, or false at the end or at a malformed entry, after which it
// returns false again.
func (r *entryReader) next() (key []byte, spent uint64, ok bool) {
	n, w := binary.Uvarint(r.rest)
	if w <= 0 || n > MaxKeyLen || n > uint64(len(r.rest)-w) {
		r.rest = nil
		return nil, 0, false
	}
	key = r.rest[w : w+int(n)]
	if len(key) > 0 && key[0] == hashMark && len(key) != hashedLen {
		r.rest = nil
		return nil, 0, false
	}
	rest := r.rest[w+int(n):]
	spent, w = binary.Uvarint(rest)
	if w <= 0 || spent < 1 || spent > maxSpent {
		r.rest = nil
		return nil, 0, false
	}
	r.rest = rest[w:]
	return key, spent, true
}
