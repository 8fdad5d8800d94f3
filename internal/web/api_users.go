package web

import (
	"bytes"
	"io"
	"net/http"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
)

// apiMe answers the calling user, with the scopes the request holds.
func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	scopes := []identity.Scope{}
	for _, sc := range identity.AllScopes {
		if p.Can(sc) {
			scopes = append(scopes, sc)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": p.User, "scopes": scopes})
	return nil
}

// profilePatch is what a user may change about themselves.
type profilePatch struct {
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
	JobTitle  *string `json:"job_title"`
	Phone     *string `json:"phone"`
	TimeZone  *string `json:"time_zone"`
}

func (s *Server) apiUpdateMe(w http.ResponseWriter, r *http.Request) error {
	var in profilePatch
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := principalOf(r)
	u, err := s.identity.UpdateUser(r.Context(), p.User, p.User.ID, identity.UserPatch{FirstName: in.FirstName,
		LastName: in.LastName, JobTitle: in.JobTitle, Phone: in.Phone, TimeZone: in.TimeZone})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) apiListUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.identity.ListUsers(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list[*identity.User]{Data: users})
	return nil
}

func (s *Server) apiInviteUser(w http.ResponseWriter, r *http.Request) error {
	var in identity.InviteInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	u, _, err := s.identity.Invite(r.Context(), principalOf(r).User, in)
	if err != nil {
		return err
	}
	s.jobs.Notify()
	w.Header().Set("Location", "/api/v1/users/"+u.ID)
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) apiGetUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.identity.GetUser(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// apiUpdateUser changes a user. Changing oneself needs profile:write (and users:write for one's
// own role); changing anyone else needs users:write.
func (s *Server) apiUpdateUser(w http.ResponseWriter, r *http.Request) error {
	var in identity.UserPatch
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := principalOf(r)
	target := pathID(r, "id")
	need := identity.ScopeUsersWrite
	if target == p.User.ID && in.Role == nil {
		need = identity.ScopeProfileWrite
	}
	if !p.Can(need) {
		return errs.E(errs.Forbidden, "this needs the %s permission", need)
	}
	u, err := s.identity.UpdateUser(r.Context(), p.User, target, in)
	if err != nil {
		return err
	}
	s.userChanged(r.Context(), u.WorkspaceID, u.ID)
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) apiDeactivateUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.identity.Deactivate(r.Context(), principalOf(r).User, pathID(r, "id"))
	if err != nil {
		return err
	}
	s.userChanged(r.Context(), u.WorkspaceID, u.ID)
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) apiReactivateUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.identity.Reactivate(r.Context(), principalOf(r).User, pathID(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) apiResendInvite(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.identity.ResendInvite(r.Context(), principalOf(r).User, pathID(r, "id")); err != nil {
		return err
	}
	s.jobs.Notify()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// servePhoto writes a user's photo with caching validators.
func (s *Server) servePhoto(w http.ResponseWriter, r *http.Request, wsID, userID string) error {
	ct, data, updated, err := s.identity.Photo(r.Context(), wsID, userID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", updated, bytes.NewReader(data))
	return nil
}

func (s *Server) apiGetPhoto(w http.ResponseWriter, r *http.Request) error {
	return s.servePhoto(w, r, principalOf(r).WorkspaceID(), pathID(r, "id"))
}

// apiPutPhoto stores the request body (a JPG or PNG, decided by content) as a user's photo.
func (s *Server) apiPutPhoto(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	target := pathID(r, "id")
	need := identity.ScopeUsersWrite
	if target == p.User.ID {
		need = identity.ScopeProfileWrite
	}
	if !p.Can(need) {
		return errs.E(errs.Forbidden, "this needs the %s permission", need)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err // MaxBytesError → 413 in classify
	}
	if err := s.identity.SetPhoto(r.Context(), p.User, target, data); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
