package liveview

import (
	"cmp"
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
)

// watcher is one Watch call's receiver.
type watcher struct {
	send    func(Frame)
	stopped atomic.Bool
}

// lockSpace returns the workspace's space, created when missing, locked; nil when the registry
// is closed.
func (r *Registry) lockSpace(wsID string, create bool) *space {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil
		}
		sp := r.spaces[wsID]
		if sp == nil {
			if !create {
				r.mu.Unlock()
				return nil
			}
			sp = newSpace(wsID)
			r.spaces[wsID] = sp
		}
		r.mu.Unlock()
		sp.mu.Lock()
		if !sp.dead {
			return sp
		}
		sp.mu.Unlock()
	}
}

// dropIfIdle forgets a space that holds nothing and that nobody uses.
func (r *Registry) dropIfIdle(sp *space) {
	r.mu.Lock()
	sp.mu.Lock()
	if !sp.dead && len(sp.rows) == 0 && len(sp.gone) == 0 && len(sp.alias) == 0 && len(sp.watchers) == 0 &&
		sp.pins == 0 && sp.loading == nil {
		sp.dead = true
		if r.spaces[sp.id] == sp {
			delete(r.spaces, sp.id)
		}
	}
	sp.mu.Unlock()
	r.mu.Unlock()
}

// apply applies a delta to its workspace and, when this registry published it and knows too
// little of the visitor, asks the database about them.
func (r *Registry) apply(wsID string, d *delta) {
	sp := r.lockSpace(wsID, true)
	if sp == nil {
		return
	}
	id, hydrate := sp.apply(d, r)
	idle := false
	if now := r.clk.Now(); now.Sub(sp.swept) >= r.opt.SweepInterval {
		sp.sweep(now, r.opt.Timeout, r.opt.LeaveGrace)
		idle = len(sp.rows) == 0 && len(sp.gone) == 0 && len(sp.watchers) == 0
	}
	sp.mu.Unlock()
	if idle {
		r.dropIfIdle(sp)
	}
	if hydrate && d.O == r.origin && r.opt.Sessions != nil {
		r.hyd.add(wsID, id, fromMicro(d.At))
	}
	r.applied.Add(1)
	if r.opt.onApply != nil {
		r.opt.onApply(wsID)
	}
}

// ConversationChanged applies, on this replica only, that a visitor's conversation opened (open)
// or closed: every replica learns of it from the chat package's own events, so nothing is
// published. A nil Registry does nothing.
func (r *Registry) ConversationChanged(wsID, visitorID, convID string, open bool) {
	if r == nil {
		return
	}
	sp := r.lockSpace(wsID, false)
	if sp == nil {
		return
	}
	sp.conversation(visitorID, convID, open)
	sp.mu.Unlock()
}

// pin returns the workspace's space, kept from being forgotten until unpinned.
func (r *Registry) pin(wsID string) (*space, error) {
	sp := r.lockSpace(wsID, true)
	if sp == nil {
		return nil, errs.E(errs.Unavailable, "Live View is shutting down")
	}
	sp.pins++
	sp.mu.Unlock()
	return sp, nil
}

func (sp *space) unpin() {
	sp.mu.Lock()
	sp.pins--
	sp.mu.Unlock()
}

// prepare loads a pinned space from the database the first time and makes sure its settings are
// known. It returns ctx's error, or errs.Unavailable when the settings cannot be read.
func (r *Registry) prepare(ctx context.Context, sp *space) error {
	if err := r.ensureLoaded(ctx, sp); err != nil {
		return err
	}
	sp.mu.Lock()
	stale := !sp.hasSettings || r.clk.Now().Sub(sp.settingsAt) >= r.opt.SettingsTTL
	sp.mu.Unlock()
	if stale {
		r.refreshSettings(ctx, sp)
	}
	sp.mu.Lock()
	ok := sp.hasSettings
	sp.mu.Unlock()
	if !ok {
		if err := ctx.Err(); err != nil {
			return err
		}
		return errs.E(errs.Unavailable, "Live View cannot read the workspace's settings right now; try again")
	}
	return nil
}

// refreshSettings reads the workspace's settings; when the block list or the target accounts
// changed, every visitor is evaluated again at the next frames.
func (r *Registry) refreshSettings(ctx context.Context, sp *space) {
	st, err := r.opt.Settings(ctx, sp.id)
	now := r.clk.Now()
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if err != nil {
		sp.settingsAt = now // try again after SettingsTTL; until then, the last settings stand
		r.warn("live view: reading a workspace's settings failed", "workspace", sp.id, "err", err)
		return
	}
	changed := !sp.hasSettings || !slices.Equal(st.LiveViewBlock, sp.settings.LiveViewBlock) ||
		!slices.Equal(st.TargetAccounts, sp.settings.TargetAccounts)
	sp.settings, sp.settingsAt, sp.hasSettings = st, now, true
	if changed {
		sp.settingsVer++
		for id := range sp.rows {
			sp.mark(id)
		}
	}
}

// visibleRows returns what watchers may see, newest visits first.
func (sp *space) visibleRows() []Visitor {
	out := make([]Visitor, 0, len(sp.rows))
	for _, r := range sp.rows {
		if sp.visible(r) {
			out = append(out, sp.view(r))
		}
	}
	slices.SortFunc(out, func(a, b Visitor) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// frames cuts visitors into frames of FrameSize; the first has op first, the rest op rest. With
// no visitors it returns one empty frame when always, else none.
func frames(first, rest string, vs []Visitor, always bool) []Frame {
	if len(vs) == 0 {
		if always {
			return []Frame{newFrame(first, []Visitor{})}
		}
		return nil
	}
	out := make([]Frame, 0, (len(vs)+FrameSize-1)/FrameSize)
	for i := 0; i < len(vs); i += FrameSize {
		op := rest
		if i == 0 {
			op = first
		}
		out = append(out, newFrame(op, vs[i:min(i+FrameSize, len(vs))]))
	}
	return out
}

// Watch starts sending a workspace's Live View to send: one snapshot (continued in upsert frames
// when it holds more than FrameSize visitors), then upsert and remove frames as visitors come,
// move and go, at most every FlushInterval. The first watch of a workspace on this replica reads
// the visitors on the site from the database. send is called from the registry's goroutines, one
// call at a time per watcher, and must not block: queue the frame (and drop the watcher if its
// queue is full). send may call stop, but not Watch. After stop returns, send is not called again, except for a call already under
// way. wsID must come from the authenticated principal. Watch returns errs.Invalid without send,
// errs.Unavailable when the registry is closed or the workspace's settings cannot be read, and
// ctx's error when it ends while loading.
func (r *Registry) Watch(ctx context.Context, wsID string, send func(Frame)) (stop func(), err error) {
	if send == nil {
		return nil, errs.Field(errs.Invalid, "send", "liveview.Watch: send is required")
	}
	sp, err := r.pin(wsID)
	if err != nil {
		return nil, err
	}
	if err := r.prepare(ctx, sp); err != nil {
		sp.unpin()
		return nil, err
	}
	w := &watcher{send: send}
	sp.sendMu.Lock()
	sp.mu.Lock()
	sp.pins--
	sp.sweep(r.clk.Now(), r.opt.Timeout, r.opt.LeaveGrace)
	if len(sp.watchers) == 0 {
		clear(sp.dirty)
		clear(sp.shown)
	}
	snap := sp.visibleRows()
	for _, v := range snap {
		sp.shown[v.ID] = struct{}{}
	}
	sp.watchers[w] = struct{}{}
	sp.mu.Unlock()
	for _, f := range frames(OpSnapshot, OpUpsert, snap, true) {
		send(f)
	}
	sp.sendMu.Unlock()

	r.mu.Lock()
	r.watchers++
	if r.loop == nil && !r.closed && !r.opt.manual {
		r.loop = make(chan struct{})
		go r.run(r.loop)
	}
	r.mu.Unlock()

	var once atomic.Bool
	return func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		w.stopped.Store(true)
		sp.mu.Lock()
		delete(sp.watchers, w)
		if len(sp.watchers) == 0 {
			clear(sp.dirty)
			clear(sp.shown)
		}
		sp.mu.Unlock()
		r.mu.Lock()
		r.watchers--
		if r.watchers == 0 && r.loop != nil {
			close(r.loop)
			r.loop = nil
		}
		r.mu.Unlock()
	}, nil
}

// Snapshot returns the workspace's visitors on the site now, as a watcher would see them, newest
// visits first (GET /api/v1/live). wsID must come from the authenticated principal. It returns
// errs.Unavailable when the registry is closed or the settings cannot be read, and ctx's error.
func (r *Registry) Snapshot(ctx context.Context, wsID string) ([]Visitor, error) {
	sp, err := r.pin(wsID)
	if err != nil {
		return nil, err
	}
	defer sp.unpin()
	if err := r.prepare(ctx, sp); err != nil {
		return nil, err
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if now := r.clk.Now(); now.Sub(sp.swept) >= r.opt.SweepInterval {
		sp.sweep(now, r.opt.Timeout, r.opt.LeaveGrace)
	} else {
		sp.sweepLeaving(now, r.opt.LeaveGrace)
	}
	return sp.visibleRows(), nil
}

// run ticks every FlushInterval until stop is closed.
func (r *Registry) run(stop chan struct{}) {
	t := time.NewTicker(r.opt.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.tick()
		}
	}
}

// tick sweeps the watched workspaces, refreshes their settings when due, and sends each its
// coalesced changes.
func (r *Registry) tick() {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	r.mu.Lock()
	list := make([]*space, 0, len(r.spaces))
	for _, sp := range r.spaces {
		list = append(list, sp)
	}
	r.mu.Unlock()
	for _, sp := range list {
		r.flush(sp)
	}
}

// flush sends a watched space's changes since the last flush.
func (r *Registry) flush(sp *space) {
	now := r.clk.Now()
	sp.mu.Lock()
	if sp.dead || len(sp.watchers) == 0 {
		sp.mu.Unlock()
		return
	}
	stale := !sp.hasSettings || now.Sub(sp.settingsAt) >= r.opt.SettingsTTL
	sp.mu.Unlock()
	if stale {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.refreshSettings(ctx, sp)
		cancel()
	}
	sp.mu.Lock()
	if now.Sub(sp.swept) >= r.opt.SweepInterval {
		sp.sweep(now, r.opt.Timeout, r.opt.LeaveGrace)
	} else if len(sp.leaving) > 0 {
		sp.sweepLeaving(now, r.opt.LeaveGrace)
	}
	if !sp.hasSettings || len(sp.dirty) == 0 || len(sp.watchers) == 0 {
		sp.mu.Unlock()
		return
	}
	var ups, rms []Visitor
	for id := range sp.dirty {
		row := sp.rows[id]
		if row != nil && sp.visible(row) {
			ups = append(ups, sp.view(row))
			sp.shown[id] = struct{}{}
		} else if _, ok := sp.shown[id]; ok {
			rms = append(rms, Visitor{ID: id})
			delete(sp.shown, id)
		}
	}
	clear(sp.dirty)
	ws := make([]*watcher, 0, len(sp.watchers))
	for w := range sp.watchers {
		ws = append(ws, w)
	}
	sp.mu.Unlock()
	out := append(frames(OpUpsert, OpUpsert, ups, false), frames(OpRemove, OpRemove, rms, false)...)
	if len(out) == 0 {
		return
	}
	sp.sendMu.Lock()
	defer sp.sendMu.Unlock()
	for _, w := range ws {
		for _, f := range out {
			if w.stopped.Load() {
				break
			}
			w.send(f)
		}
	}
}
