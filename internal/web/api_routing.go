package web

import (
	"context"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/routing"
)

// router returns the routing service, or errs.Unavailable on a server built without one.
func (s *Server) router() (*routing.Service, error) {
	if s.deps.Routing == nil {
		return nil, errs.E(errs.Unavailable, "routing is not available on this server")
	}
	return s.deps.Routing, nil
}

// readConfigBody reads a request body that is a routing configuration (JSON, at most
// routing.MaxConfigSize bytes).
func readConfigBody(r *http.Request) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, errs.E(errs.Malformed, "Content-Type must be application/json")
	}
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errs.E(errs.TooLarge, "a routing configuration is at most %d bytes", mbe.Limit)
	}
	if err != nil {
		return nil, errs.Wrap(errs.Malformed, err, "the body could not be read")
	}
	return b, nil
}

// apiGetRoutingConfig answers the draft configuration (GET /api/v1/routing/config).
func (s *Server) apiGetRoutingConfig(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	d, err := rt.GetDraft(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// apiPutRoutingConfig checks and saves the draft (PUT /api/v1/routing/config); errors name the
// JSON path of the bad part.
func (s *Server) apiPutRoutingConfig(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	raw, err := readConfigBody(r)
	if err != nil {
		return err
	}
	p := principalOf(r)
	d, err := rt.SaveDraft(r.Context(), p.WorkspaceID(), p.User.ID, raw)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// apiPublishRouting publishes the draft as a new version (POST /api/v1/routing/publish).
func (s *Server) apiPublishRouting(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	p := principalOf(r)
	v, err := rt.Publish(r.Context(), p.WorkspaceID(), p.User.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// apiRoutingVersions lists the published versions (GET /api/v1/routing/versions).
func (s *Server) apiRoutingVersions(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	vs, err := rt.Versions(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
	return nil
}

// apiRoutingVersion answers one published version (GET /api/v1/routing/versions/{version}).
func (s *Server) apiRoutingVersion(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 || n > math.MaxInt32 {
		return errs.NotFoundf("no such routing version")
	}
	v, err := rt.GetVersion(r.Context(), principalOf(r).WorkspaceID(), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// apiRoutingSubjects lists what conditions may compare, with their operators (GET
// /api/v1/routing/subjects), for editors.
func (s *Server) apiRoutingSubjects(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	subj, err := rt.Subjects(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"subjects": subj})
	return nil
}

// apiSimulateRouting routes a sample visitor without side effects (POST /api/v1/routing/simulate).
func (s *Server) apiSimulateRouting(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	var in routing.SimulateRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	res, err := rt.Simulate(r.Context(), principalOf(r).WorkspaceID(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// apiReplayRouting replays the last days of routing against a configuration (POST
// /api/v1/routing/replay).
func (s *Server) apiReplayRouting(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	var in routing.ReplayRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	res, err := rt.Replay(r.Context(), principalOf(r).WorkspaceID(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// apiRoutingReport answers the distribution over a period (GET /api/v1/routing/report?from=&to=,
// RFC 3339; the last 30 days by default).
func (s *Server) apiRoutingReport(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	from, to, err := reportPeriod(r, s.clock.Now())
	if err != nil {
		return err
	}
	rep, err := rt.Report(r.Context(), principalOf(r).WorkspaceID(), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// reportPeriod reads ?from= and ?to= (RFC 3339); to defaults to now, from to 30 days before to.
func reportPeriod(r *http.Request, now time.Time) (time.Time, time.Time, error) {
	to, from := now, time.Time{}
	if v := r.URL.Query().Get("to"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return from, to, errs.Field(errs.Invalid, "to", "must be an RFC 3339 time, e.g. 2026-11-21T00:00:00Z")
		}
		to = t
	}
	from = to.Add(-30 * 24 * time.Hour)
	if v := r.URL.Query().Get("from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return from, to, errs.Field(errs.Invalid, "from", "must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
		}
		from = t
	}
	return from, to, nil
}

// apiConversationRouting answers a conversation's routing decisions with their traces (GET
// /api/v1/conversations/{id}/routing, R4): "why did this visitor go to Dana?".
func (s *Server) apiConversationRouting(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.router()
	if err != nil {
		return err
	}
	ws := principalOf(r).WorkspaceID()
	c, err := s.chat.Get(r.Context(), ws, pathID(r, "id"))
	if err != nil {
		return err
	}
	recs, err := rt.Decisions(r.Context(), ws, c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"decisions": recs})
	return nil
}

// RoutingOffer acts on a committed routing decision (routing.Options.OnOffer): it rings the
// offered reps on the Waiting for Rep stream and tells the visitor where they stand — their
// place in line on the first routing, or, when nobody can chat, that the team will answer by
// email. A reroute to other reps rings them without a new message to the visitor.
func (s *Server) RoutingOffer(ctx context.Context, o routing.Offer) {
	ctx = context.WithoutCancel(ctx)
	ws, err := s.workspaces.Cached(ctx, o.WorkspaceID)
	if err != nil {
		s.log.WarnContext(ctx, "routing: reading the workspace failed", "err", err.Error())
		return
	}
	d := o.Decision
	if d.Outcome == routing.OutcomeOffer {
		who := s.alertName(ctx, ws.ID, o.VisitorID)
		body := "Routed to you"
		if len(d.Offer) > 1 {
			body = "Routed to you and " + strconv.Itoa(len(d.Offer)-1) + " more: the first to accept takes it"
		}
		if o.Attempt > 1 {
			body += " (the reps rung before did not answer)"
		}
		s.alert(ctx, ws.ID, notify.Alert{Stream: "waiting", Title: who + " is waiting for a rep", Body: body,
			Conv: o.ConversationID, Visitor: o.VisitorID, To: d.Offer})
		// The visitor hears where they stand once the first reps rung let the ring time out: a
		// rep who accepts within it needs no announcement, and later reroutes repeat nothing.
		if o.Attempt == 2 {
			s.botSay(ctx, ws.ID, o.ConversationID, ws.Name, queueReply(o.Position))
		}
		return
	}
	s.botSay(ctx, ws.ID, o.ConversationID, ws.Name, OfflineReply)
}

// botSay posts a bot message, logging a failure.
func (s *Server) botSay(ctx context.Context, wsID, convID, name, text string) {
	if _, err := s.chat.BotMessage(ctx, wsID, convID, name, text); err != nil {
		s.log.WarnContext(ctx, "routing: the bot's message failed", "err", err.Error())
	}
}

// queueReply is what the bot tells a visitor whose conversation is still ringing reps after the
// first ring timed out.
func queueReply(position int) string {
	const lead = "Thanks for waiting! We're still finding the right person for you."
	if position <= 1 {
		return lead + " You're next in line."
	}
	return lead + " You're number " + strconv.Itoa(position) + " in line."
}
