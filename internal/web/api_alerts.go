package web

import (
	"net/http"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/notify"
)

// notifier returns the notifications service, or errs.Unavailable when the server has none.
func (s *Server) notifier() (*notify.Service, error) {
	if s.deps.Notify == nil {
		return nil, errs.E(errs.Unavailable, "notifications are not available on this server")
	}
	return s.deps.Notify, nil
}

// apiGetAlerts answers the caller's alert preferences (N1): any authenticated user reads their own.
func (s *Server) apiGetAlerts(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	p := principalOf(r)
	prefs, err := n.Prefs(r.Context(), p.WorkspaceID(), p.User.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, prefs)
	return nil
}

// apiPutAlerts changes the caller's alert preferences: streams and fields left out keep their
// values.
func (s *Server) apiPutAlerts(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	var patch notify.PrefsPatch
	if err := decodeJSON(r, &patch); err != nil {
		return err
	}
	p := principalOf(r)
	cur, err := n.Prefs(r.Context(), p.WorkspaceID(), p.User.ID)
	if err != nil {
		return err
	}
	next, err := cur.Apply(patch)
	if err != nil {
		return err
	}
	saved, err := n.SetPrefs(r.Context(), p.WorkspaceID(), p.User.ID, next)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, saved)
	return nil
}
