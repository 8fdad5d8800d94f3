package web

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/liveview"
	"github.com/beckonhq/beckon/internal/visitor"
)

// Live View (SPEC V5): GET /api/v1/live, and what the messenger's handlers tell the registry.
// docs/LIVE-VIEW.md describes both.

// apiLive lists the visitors on the workspace's site now, as Live View shows them: newest visits
// first, visitors on blocked pages left out.
func (s *Server) apiLive(w http.ResponseWriter, r *http.Request) error {
	if s.deps.LiveView == nil {
		return errs.E(errs.Unavailable, "Live View is not running on this server")
	}
	vs, err := s.deps.LiveView.Snapshot(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list[liveview.Visitor]{Data: vs})
	return nil
}

// liveHello tells Live View of a page load that hello recorded. Country and device are sent for
// a new session only: an open session's are in the database, where the registry reads them.
func (s *Server) liveHello(ctx context.Context, wsID string, in *helloIn, res *visitor.HelloResult, ip netip.Addr,
	userAgent string, conv *conversationRef) {
	if s.deps.LiveView == nil {
		return
	}
	convID := ""
	if conv != nil {
		convID = conv.ID
	}
	e := liveview.PageEvent{VisitorID: res.VisitorID, SessionID: res.SessionID, URL: in.Page.URL, Title: in.Page.Title,
		NewSession: res.NewSession, NewVisitor: res.NewVisitor, ConversationKnown: true, ConversationID: convID}
	if res.NewSession {
		e.Country, e.Device = s.visitors.Country(ip, in.TimeZone), visitor.DeviceClass(userAgent)
	}
	s.deps.LiveView.Page(ctx, wsID, e)
}

// livePage tells Live View of an SPA route change that was recorded.
func (s *Server) livePage(ctx context.Context, wsID string, rec visitor.Recorded, p visitor.Page) {
	s.deps.LiveView.Page(ctx, wsID, liveview.PageEvent{VisitorID: rec.VisitorID, SessionID: rec.SessionID,
		URL: p.URL, Title: p.Title, NewSession: rec.NewSession})
}
