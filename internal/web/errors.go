package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// statusOf is the one table from error kinds to HTTP statuses.
var statusOf = map[errs.Kind]int{
	errs.Internal:         http.StatusInternalServerError,
	errs.Malformed:        http.StatusBadRequest,
	errs.Invalid:          http.StatusUnprocessableEntity,
	errs.Unauthenticated:  http.StatusUnauthorized,
	errs.Forbidden:        http.StatusForbidden,
	errs.NotFound:         http.StatusNotFound,
	errs.Conflict:         http.StatusConflict,
	errs.TooLarge:         http.StatusRequestEntityTooLarge,
	errs.TooMany:          http.StatusTooManyRequests,
	errs.Unavailable:      http.StatusServiceUnavailable,
	errs.MethodNotAllowed: http.StatusMethodNotAllowed,
}

// apiError is the JSON body of every API error: {"error": {"code", "message", "field", "request_id"}}.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// classify returns the status and body for err, logging internal errors with their cause. The log
// names the route pattern, never the path, which may hold a secret (an activation link's token).
//
// A PostgreSQL data exception (text that is not UTF-8 or holds a NUL byte, a string too long for
// its column) comes from what the client sent: it answers 400 malformed, not 500.
func (s *Server) classify(r *http.Request, err error) (int, apiErrorBody) {
	rid := requestID(r.Context())
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = errs.E(errs.TooLarge, "the request body is larger than %d bytes", mbe.Limit)
	}
	e := errs.As(err)
	if (e == nil || e.Kind == errs.Internal) && db.IsDataException(err) {
		s.log.WarnContext(r.Context(), "database refused a value of the request", "err", err.Error(), "request_id", rid,
			"method", methodLabel(r.Method), "route", r.Pattern)
		e = errs.Wrap(errs.Malformed, err, "the request holds text the database cannot store (invalid UTF-8 or a NUL byte)")
		err = e
	}
	if e == nil || e.Kind == errs.Internal {
		s.log.ErrorContext(r.Context(), "internal error", "err", err.Error(), "request_id", rid,
			"method", methodLabel(r.Method), "route", r.Pattern)
		return http.StatusInternalServerError, apiErrorBody{Code: "internal", Message: "internal error; the server log has the details under request id " + rid, RequestID: rid}
	}
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	status := statusOf[e.Kind]
	if e.Kind == errs.Unavailable {
		s.log.WarnContext(r.Context(), "unavailable", "err", err.Error(), "request_id", rid)
	}
	return status, apiErrorBody{Code: e.Kind.String(), Message: msg, Field: e.Field, RequestID: rid}
}

// writeAPIError answers err as JSON with the status of its kind.
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := s.classify(r, err)
	if e := errs.As(err); e != nil && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="beckon"`)
	}
	writeJSON(w, status, apiError{Error: body})
}

// logAttrs adds the principal to a log line when there is one.
func logAttrs(r *http.Request) []any {
	if p := principalOf(r); p != nil {
		return []any{slog.String("user_id", p.User.ID), slog.String("workspace_id", p.WorkspaceID())}
	}
	return nil
}

// isAPI reports whether a path is answered in JSON.
func isAPI(path string) bool {
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/m/") || strings.HasPrefix(path, "/hooks/") ||
		path == "/healthz" || path == "/readyz" || path == "/metrics"
}
