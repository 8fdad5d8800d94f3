package web

import (
	"net/http"

	"github.com/beckonhq/beckon/internal/field"
)

// apiListFields lists the workspace's visitor fields: the standard ones, then the custom ones,
// each with its rules (which source wins, whether a blank CRM value overrides).
func (s *Server) apiListFields(w http.ResponseWriter, r *http.Request) error {
	defs, err := s.fields.List(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list[field.Definition]{Data: defs})
	return nil
}

// fieldIn is the body that creates a custom field.
type fieldIn struct {
	Key               string         `json:"key"`
	Label             string         `json:"label"`
	Type              field.Type     `json:"type"`
	Options           []string       `json:"options"`
	Precedence        []field.Source `json:"precedence"`
	CRMBlankOverrides bool           `json:"crm_blank_overrides"`
}

func (s *Server) apiCreateField(w http.ResponseWriter, r *http.Request) error {
	var in fieldIn
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	d, err := s.fields.Create(r.Context(), principalOf(r).WorkspaceID(), field.NewField{Key: in.Key, Label: in.Label, Type: in.Type,
		Options: in.Options, Precedence: in.Precedence, CRMBlankOverrides: in.CRMBlankOverrides})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/fields/"+d.Key)
	writeJSON(w, http.StatusCreated, d)
	return nil
}

// fieldPatch is the body that changes a field: a custom field's label, type and options, and
// any field's rules.
type fieldPatch struct {
	Label             *string         `json:"label"`
	Type              *field.Type     `json:"type"`
	Options           *[]string       `json:"options"`
	Precedence        *[]field.Source `json:"precedence"`
	CRMBlankOverrides *bool           `json:"crm_blank_overrides"`
}

func (s *Server) apiUpdateField(w http.ResponseWriter, r *http.Request) error {
	var in fieldPatch
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	d, err := s.fields.Update(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "key"), field.Patch{Label: in.Label, Type: in.Type,
		Options: in.Options, Precedence: in.Precedence, CRMBlankOverrides: in.CRMBlankOverrides})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) apiDeleteField(w http.ResponseWriter, r *http.Request) error {
	if err := s.fields.Delete(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiRotateIdentitySecret makes a new identity-verification secret and shows it, once.
func (s *Server) apiRotateIdentitySecret(w http.ResponseWriter, r *http.Request) error {
	sec, err := s.workspaces.RotateIdentitySecret(r.Context(), principalOf(r).WorkspaceID(), s.secrets)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"secret": sec})
	return nil
}
