package web

import (
	"net/http"
	"strconv"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/jobs"
)

// apiListJobs lists the workspace's jobs, newest first: ?state=failed&limit=50&cursor=<id>.
func (s *Server) apiListJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	state := jobs.State(q.Get("state"))
	if state != "" && !state.Valid() {
		return errs.Field(errs.Invalid, "state", "%q: want queued, running, retrying, succeeded or failed", state)
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return errs.Field(errs.Invalid, "limit", "must be a whole number from 1 to 200")
		}
		limit = n
	}
	list1, err := s.jobs.List(r.Context(), principalOf(r).WorkspaceID(), state, limit+1, q.Get("cursor"))
	if e := errs.As(err); e != nil && e.Field == "before" {
		return errs.Field(errs.Invalid, "cursor", "is not a next_cursor of this list")
	}
	if err != nil {
		return err
	}
	for i := range list1 {
		list1[i].Payload = nil // payloads may hold secrets (an emailed activation link): never shown
	}
	out := list[jobs.Job]{Data: list1}
	if len(list1) > limit {
		out.Data = list1[:limit]
		out.NextCursor = list1[limit-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiGetJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobs.Get(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	j.Payload = nil
	writeJSON(w, http.StatusOK, j)
	return nil
}

func (s *Server) apiRetryJob(w http.ResponseWriter, r *http.Request) error {
	wsID := principalOf(r).WorkspaceID()
	if err := s.jobs.Retry(r.Context(), wsID, pathID(r, "id")); err != nil {
		return err
	}
	j, err := s.jobs.Get(r.Context(), wsID, pathID(r, "id"))
	if err != nil {
		return err
	}
	j.Payload = nil
	writeJSON(w, http.StatusOK, j)
	return nil
}
