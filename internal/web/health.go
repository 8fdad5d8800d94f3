package web

import (
	"context"
	"net/http"
	"time"
)

// healthz answers 200 while the process is alive, with its version, Go and tzdata versions.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": s.version.App, "go": s.version.Go, "tzdata": s.version.TZData})
	return nil
}

// readyz answers 200 when every dependency (database, bus) answers within 2 s, else 503 naming
// the failing ones.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	status, code := map[string]string{}, http.StatusOK
	for _, c := range s.checks {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := c.Ping(ctx)
		cancel()
		if err != nil {
			status[c.Name] = "unavailable"
			code = http.StatusServiceUnavailable
			s.log.WarnContext(r.Context(), "readiness check failed", "check", c.Name, "err", err.Error())
		} else {
			status[c.Name] = "ok"
		}
	}
	state := "ready"
	if code != http.StatusOK {
		state = "not ready"
	}
	writeJSON(w, code, map[string]any{"status": state, "checks": status})
	return nil
}
