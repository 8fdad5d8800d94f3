package web

import (
	"net/http"
	"strconv"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/notify"
)

// The team channels and outbound webhooks of a workspace (N3), for admins. A channel's URL is
// never answered in full; a webhook's signing secret only when it is made.

// channelWithSecret is the answer to creating a channel or rotating its secret.
type channelWithSecret struct {
	Channel *notify.Channel `json:"channel"`
	Secret  string          `json:"secret,omitempty"` // webhooks: shown this once
}

func (s *Server) apiListChannels(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	chans, err := n.Channels(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list[*notify.Channel]{Data: chans})
	return nil
}

func (s *Server) apiCreateChannel(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	var in notify.ChannelInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, sec, err := n.CreateChannel(r.Context(), principalOf(r).WorkspaceID(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, channelWithSecret{Channel: c, Secret: sec})
	return nil
}

func (s *Server) apiGetChannel(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	c, err := n.Channel(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) apiUpdateChannel(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	wsID, chID := principalOf(r).WorkspaceID(), pathID(r, "id")
	if _, err := n.Channel(r.Context(), wsID, chID); err != nil {
		return err // an unknown channel is not found, before the body is looked at
	}
	var p notify.ChannelPatch
	if err := decodeJSON(r, &p); err != nil {
		return err
	}
	c, err := n.UpdateChannel(r.Context(), wsID, chID, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) apiDeleteChannel(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	if err := n.DeleteChannel(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiTestChannel queues a test message to the channel and answers its delivery (202): the outcome
// shows in the channel's deliveries.
func (s *Server) apiTestChannel(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	d, err := n.TestChannel(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, d)
	return nil
}

func (s *Server) apiRotateChannelSecret(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	c, sec, err := n.RotateSecret(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, channelWithSecret{Channel: c, Secret: sec})
	return nil
}

func (s *Server) apiListDeliveries(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > notify.MaxDeliveries {
			return errs.Field(errs.Invalid, "limit", "must be a whole number from 1 to %d", notify.MaxDeliveries)
		}
	}
	ds, err := n.Deliveries(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list[*notify.Delivery]{Data: ds})
	return nil
}
