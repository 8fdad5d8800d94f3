package cond

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
)

// The first pass reads the raw JSON into a generic tree, so that unreadable JSON is refused
// (errs.Malformed, with the path reached) before any part of it is judged. It keeps the order of
// keys and refuses an object that holds a key twice, which encoding/json's Unmarshal would
// silently resolve to the last.

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNum
	jStr
	jArr
	jObj
)

type jval struct {
	kind jkind
	str  string // jStr: the text; jNum: the number as written
	b    bool
	arr  []*jval
	keys []string // jObj, in the order written
	vals []*jval
}

func (v *jval) get(key string) (*jval, bool) {
	for i, k := range v.keys {
		if k == key {
			return v.vals[i], true
		}
	}
	return nil, false
}

// maxJSONDepth bounds the generic tree's nesting; a condition MaxDepth deep nests 2*MaxDepth+1
// levels of JSON (objects and their lists of children, and a list value), so anything deeper
// is refused whatever it is.
const maxJSONDepth = 2*MaxDepth + 8

type reader struct {
	dec     *json.Decoder
	prefix  string
	badUTF8 int64 // offset of the first byte that is not UTF-8, or -1
}

// parseJSON reads raw (non-empty) as one JSON value.
func parseJSON(raw []byte, prefix string) (*jval, error) {
	r := reader{dec: json.NewDecoder(bytes.NewReader(raw)), prefix: prefix, badUTF8: -1}
	r.dec.UseNumber()
	if !utf8.Valid(raw) {
		for i := 0; i < len(raw); {
			c, size := utf8.DecodeRune(raw[i:])
			if c == utf8.RuneError && size == 1 {
				r.badUTF8 = int64(i)
				break
			}
			i += size
		}
	}
	v, err := r.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return nil, errs.Field(errs.Malformed, fieldPath(prefix, ""), "holds more after the condition; send one JSON object")
	}
	return v, nil
}

func (r *reader) token(rel string) (json.Token, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return nil, r.syntax(err, rel)
	}
	if r.badUTF8 >= 0 && r.dec.InputOffset() > r.badUTF8 {
		return nil, errs.Field(errs.Malformed, fieldPath(r.prefix, rel), "holds text that is not valid UTF-8")
	}
	return tok, nil
}

func (r *reader) syntax(err error, rel string) error {
	f := fieldPath(r.prefix, rel)
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Field(errs.Malformed, f, "is not valid JSON: it ends too soon")
	case errors.As(err, &se):
		return errs.Field(errs.Malformed, f, "is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
	}
	return &errs.Error{Kind: errs.Malformed, Field: f, Message: "is not valid JSON", Err: err}
}

func (r *reader) value(rel string, depth int) (*jval, error) {
	tok, err := r.token(rel)
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case string:
		return &jval{kind: jStr, str: t}, nil
	case json.Number:
		return &jval{kind: jNum, str: string(t)}, nil
	case bool:
		return &jval{kind: jBool, b: t}, nil
	case nil:
		return &jval{kind: jNull}, nil
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, errs.Field(errs.Invalid, fieldPath(r.prefix, rel), "is nested too deeply (a condition has at most %d levels)", MaxDepth)
		}
		if t == '{' {
			return r.object(rel, depth)
		}
		if t == '[' {
			return r.array(rel, depth)
		}
	}
	// The decoder returns closing delimiters only where they close something.
	return nil, errs.Field(errs.Malformed, fieldPath(r.prefix, rel), "is not valid JSON")
}

func (r *reader) object(rel string, depth int) (*jval, error) {
	v := &jval{kind: jObj}
	seen := map[string]bool{}
	for r.dec.More() {
		tok, err := r.token(rel)
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errs.Field(errs.Malformed, fieldPath(r.prefix, rel), "is not valid JSON: an object key must be a string")
		}
		if seen[key] {
			return nil, errs.Field(errs.Invalid, fieldPath(r.prefix, keyRel(rel, key)), "appears twice in the same object")
		}
		seen[key] = true
		child, err := r.value(keyRel(rel, key), depth+1)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, key)
		v.vals = append(v.vals, child)
	}
	if _, err := r.token(rel); err != nil {
		return nil, err
	}
	return v, nil
}

func (r *reader) array(rel string, depth int) (*jval, error) {
	v := &jval{kind: jArr}
	for r.dec.More() {
		if len(v.arr) == MaxList {
			return nil, errs.Field(errs.Invalid, fieldPath(r.prefix, rel), "has more than %d items", MaxList)
		}
		child, err := r.value(indexRel(rel, len(v.arr)), depth+1)
		if err != nil {
			return nil, err
		}
		v.arr = append(v.arr, child)
	}
	if _, err := r.token(rel); err != nil {
		return nil, err
	}
	return v, nil
}
