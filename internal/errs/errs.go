// Package errs is Beckon's one error type: an error with a Kind that the web layer maps to an HTTP
// status in a single table, a message that is safe to show to the caller, and the field it is about.
//
// Domain packages return *errs.Error for every failure a caller can act on (bad input, missing row,
// conflict, missing permission) and wrap everything else with fmt.Errorf("op: %w", err); such an
// error has kind Internal and its cause goes to the log, never to the client.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for callers. The zero value is Internal.
type Kind int

const (
	Internal         Kind = iota // a fault of the server; details stay in the log
	Invalid                      // a well-formed request with a wrong value: names the field (HTTP 422)
	Malformed                    // a request that cannot be read: bad JSON, unknown field, wrong type (HTTP 400)
	Unauthenticated              // no or bad credentials (HTTP 401)
	Forbidden                    // authenticated, but not allowed (HTTP 403)
	NotFound                     // no such thing in this workspace (HTTP 404)
	Conflict                     // the state forbids it: duplicate, already used (HTTP 409)
	TooLarge                     // a body or file over its limit (HTTP 413)
	TooMany                      // rate limited or locked out for a while (HTTP 429)
	Unavailable                  // a dependency is down; try again later (HTTP 503)
	MethodNotAllowed             // the path exists, but not for this HTTP method (HTTP 405)
)

var kindNames = map[Kind]string{
	Internal:         "internal",
	Invalid:          "invalid",
	Malformed:        "malformed",
	Unauthenticated:  "unauthenticated",
	Forbidden:        "forbidden",
	NotFound:         "not_found",
	Conflict:         "conflict",
	TooLarge:         "too_large",
	TooMany:          "too_many_requests",
	Unavailable:      "unavailable",
	MethodNotAllowed: "method_not_allowed",
}

// String returns the kind's wire code, e.g. "not_found".
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "internal"
}

// Error is an error with a kind, a safe message and optionally the field it concerns.
type Error struct {
	Kind    Kind
	Field   string // the input field at fault, e.g. "time_zone"; empty when none
	Message string // safe to show to the client
	// RetryAfter is a hint in seconds for TooMany and Unavailable; 0 when none.
	RetryAfter int
	Err        error // the cause, for the log; may be nil
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// E returns a new error of kind k with a printf-style message.
func E(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Field returns a new error of kind k about the named input field.
func Field(k Kind, field, format string, args ...any) *Error {
	return &Error{Kind: k, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns a new error of kind k whose cause is err.
func Wrap(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns the first *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Is reports whether err has kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// NotFoundf is shorthand for E(NotFound, ...).
func NotFoundf(format string, args ...any) *Error { return E(NotFound, format, args...) }

// Op returns err unchanged when it is nil or already has a kind, and otherwise wraps it with the
// operation's name ("identity.Invite: …") as an Internal error for the log.
func Op(op string, err error) error {
	if err == nil || As(err) != nil {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
