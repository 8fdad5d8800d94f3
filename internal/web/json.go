package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
)

// decodeJSON reads r's body as exactly one JSON object into v. Unknown fields, a wrong type, a
// syntax error, trailing data, a wrong Content-Type, an empty body and a body that is not an
// object (null, an array, a string, a number, true or false) are errs.Malformed with a message
// that names the field or position; a body over the server's limit is errs.TooLarge.
func decodeJSON(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return errs.E(errs.Malformed, "Content-Type must be application/json")
	}
	return decodeBody(r, v)
}

// decodeBody is decodeJSON without the Content-Type check, for callers that accept other types.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	// First the value as it is, to see that it is an object: decoding null into a struct would
	// succeed and change nothing.
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return jsonError(err)
	}
	if raw = bytes.TrimLeft(raw, " \t\r\n"); len(raw) == 0 || raw[0] != '{' {
		return errs.E(errs.Malformed, "the body must be a JSON object")
	}
	obj := json.NewDecoder(bytes.NewReader(raw))
	obj.DisallowUnknownFields()
	if err := obj.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return errs.E(errs.Malformed, "the body must hold one JSON object and nothing after it")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errs.E(errs.TooLarge, "the request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errs.E(errs.Malformed, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.Malformed, "the JSON body ends too soon")
	case errors.As(err, &syn):
		return errs.E(errs.Malformed, "invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errs.E(errs.Malformed, "the body must be a JSON object")
		}
		return errs.Field(errs.Malformed, field, "must be %s, not %s", jsonType(typ.Type.String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.Field(errs.Malformed, name, "is not a known field")
	}
	var te interface{ Error() string }
	if errors.As(err, &te) && strings.Contains(err.Error(), "parsing time") {
		return errs.E(errs.Malformed, "a time must be RFC 3339, e.g. 2026-11-21T09:00:00Z")
	}
	return errs.Wrap(errs.Malformed, err, "the body is not valid JSON for this request")
}

func jsonType(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "a string"
	case strings.Contains(goType, "int") || strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.HasPrefix(goType, "[]") || strings.HasPrefix(goType, "*[]"):
		return "an array"
	case strings.Contains(goType, "Time"):
		return "an RFC 3339 time string"
	}
	return "an object"
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		http.Error(w, fmt.Sprintf(`{"error":{"code":"internal","message":%q}}`, err.Error()), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// list is the envelope of every list answer, so that pagination can be added without breaking
// clients: {"data": [...], "next_cursor": "..."}.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// orEmpty returns s, or an empty slice for nil, so that JSON says [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// orEmptyMap returns m, or an empty map for nil.
func orEmptyMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}
