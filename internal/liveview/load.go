package liveview

import (
	"context"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/visitor"
)

// loaded is one visitor as the database knows them.
type loaded struct {
	id, session string
	p           profile
	conv        *string
}

// read reads visitors from the database: with ids, the open sessions of those visitors;
// without, every session seen since since (at most MaxVisitors). Each comes with its field
// values and, when Options.InConversation is set, its open conversation.
func (r *Registry) read(ctx context.Context, wsID string, ids []string, since time.Time) ([]loaded, error) {
	var err error
	var list []loaded
	if ids != nil {
		sess, e := r.opt.Sessions.LiveSessionsOf(ctx, wsID, ids)
		list, err = fromSessions(sess), e
	} else {
		sess, e := r.opt.Sessions.LiveSessions(ctx, wsID, since, MaxVisitors)
		list, err = fromSessions(sess), e
	}
	if err != nil || len(list) == 0 {
		return nil, err
	}
	vids := make([]string, len(list))
	for i, l := range list {
		vids[i] = l.id
	}
	if r.opt.Fields != nil {
		vals, err := r.opt.Fields.EffectiveValues(ctx, wsID, vids)
		if err != nil {
			return nil, err
		}
		for i := range list {
			list[i].p.Fields = vals[list[i].id]
		}
	}
	if r.opt.InConversation != nil {
		convs, err := r.opt.InConversation(ctx, wsID, vids)
		if err != nil {
			// Conversations are one column of many: show the rest, and let the chat's events
			// and the next page load fill it in.
			r.warn("live view: asking which visitors are in a conversation failed", "workspace", wsID, "err", err)
		} else {
			for i := range list {
				c := convs[list[i].id]
				list[i].conv = &c
			}
		}
	}
	return list, nil
}

func fromSessions(sess []visitor.LiveSession) []loaded {
	out := make([]loaded, 0, len(sess))
	for _, s := range sess {
		out = append(out, loaded{id: s.VisitorID, session: s.SessionID, p: profile{
			Started: micro(s.StartedAt), Seen: micro(s.LastSeenAt), PageAt: micro(s.PageAt), URL: s.PageURL,
			Title: s.PageTitle, Country: s.Country, Device: s.Device, PageViews: s.PageViews, Sessions: s.Sessions,
			Email: s.Email}})
	}
	return out
}

// ensureLoaded reads a pinned space's visitors from the database the first time it is needed,
// once however many callers ask at the same time. Rows the bus made and the database already
// profiled stay as they are. A failed read is logged and tried again by the next caller; only
// ctx's end is returned.
func (r *Registry) ensureLoaded(ctx context.Context, sp *space) error {
	for {
		sp.mu.Lock()
		if sp.loaded || r.opt.Sessions == nil {
			sp.loaded = true
			sp.mu.Unlock()
			return nil
		}
		if ch := sp.loading; ch != nil {
			sp.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ch := make(chan struct{})
		sp.loading = ch
		sp.mu.Unlock()

		now := r.clk.Now()
		list, err := r.read(ctx, sp.id, nil, now.Add(-r.opt.Timeout))
		sp.mu.Lock()
		sp.loading = nil
		close(ch)
		if err == nil {
			for i := range list {
				l := &list[i]
				if cur := sp.rows[sp.resolve(l.id)]; cur != nil && cur.profiled {
					continue
				}
				sp.applyProfile(sp.resolve(l.id), l.session, &l.p, l.conv, r)
			}
			sp.loaded = true
		}
		sp.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.warn("live view: reading the visitors on the site from the database failed; showing those the bus brought",
				"workspace", sp.id, "err", err)
		}
		return nil
	}
}

// maxPending bounds the visitors waiting to be read from the database.
const maxPending = 50_000

// hydrator reads, in batches, the visitors this registry met knowing too little of them, and
// publishes what it found as profile deltas, so that every replica learns it. Its goroutine runs
// only while visitors wait.
type hydrator struct {
	r *Registry

	mu      sync.Mutex
	pending map[string]map[string]time.Time // workspace → visitor → the latest request that asked
	n       int
	running bool
	idle    chan struct{} // closed when the goroutine stops (tests wait on it)
}

// add queues a visitor to be read.
func (h *hydrator) add(wsID, visitorID string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending == nil {
		h.pending = map[string]map[string]time.Time{}
	}
	m := h.pending[wsID]
	if m == nil {
		m = map[string]time.Time{}
		h.pending[wsID] = m
	}
	if old, ok := m[visitorID]; ok {
		if at.After(old) {
			m[visitorID] = at
		}
		return
	}
	if h.n >= maxPending {
		h.r.overflow.Add(1)
		h.r.warn("live view: too many visitors waiting to be read from the database; some are shown without their details")
		return
	}
	m[visitorID] = at
	h.n++
	if !h.running {
		h.running = true
		h.idle = make(chan struct{})
		go h.run(h.idle)
	}
}

// run reads what is queued, batch after batch, until nothing is.
func (h *hydrator) run(idle chan struct{}) {
	for {
		h.mu.Lock()
		if h.n == 0 {
			h.running = false
			close(idle)
			h.mu.Unlock()
			return
		}
		batch := h.pending
		h.pending, h.n = nil, 0
		h.mu.Unlock()
		for ws, ids := range batch {
			h.r.hydrate(ws, ids)
		}
	}
}

// wait returns once nothing is queued or being read (tests).
func (h *hydrator) wait() {
	h.mu.Lock()
	ch := h.idle
	running := h.running
	h.mu.Unlock()
	if running {
		<-ch
	}
}

// hydrate reads a workspace's visitors and publishes a profile delta for each one with an open
// session.
func (r *Registry) hydrate(wsID string, ids map[string]time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	found, err := r.read(ctx, wsID, list, time.Time{})
	if err != nil {
		r.warn("live view: reading visitors from the database failed", "workspace", wsID, "visitors", len(list), "err", err)
		return
	}
	now := micro(r.clk.Now())
	for i := range found {
		l := &found[i]
		if at := micro(ids[l.id]); at > l.p.Seen {
			l.p.Seen = at
		}
		r.publish(ctx, wsID, &delta{Op: opProfile, V: l.id, S: l.session, At: now, P: &l.p, Conv: l.conv})
	}
}
