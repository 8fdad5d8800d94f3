package web

import "net/http"

// Live View (/live, SPEC V5): the visitors on the site now. The page is a frame the script
// (internal/web/ui, static/live.js) fills from the rep socket's "live" frames: a snapshot, then
// upserts and removals (docs/REALTIME.md).

// live renders GET /live.
func (c *console) live(w http.ResponseWriter, r *http.Request) error {
	if err := canChat(r); err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "live", &view{Title: "Live View", Nav: "live"})
}
