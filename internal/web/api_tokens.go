package web

import (
	"net/http"

	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/workspace"
)

func (s *Server) apiListTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.identity.ListTokens(r.Context(), principalOf(r).User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list[*identity.Token]{Data: toks})
	return nil
}

// createdToken is the answer to creating a token: the only time its secret is shown.
type createdToken struct {
	Token  *identity.Token `json:"token"`
	Secret string          `json:"secret"`
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request) error {
	var in identity.TokenInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	t, secret, err := s.identity.CreateToken(r.Context(), principalOf(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createdToken{Token: t, Secret: secret})
	return nil
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.identity.RevokeToken(r.Context(), principalOf(r).User, pathID(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiGetWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.workspaces.Get(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

func (s *Server) apiUpdateWorkspace(w http.ResponseWriter, r *http.Request) error {
	var in workspace.Patch
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ws, err := s.workspaces.Update(r.Context(), principalOf(r).WorkspaceID(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}
