package presence_test

import (
	"testing"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/presence"
	"github.com/beckonhq/beckon/internal/testkit"
)

// FuzzInput: whatever status and ids a client sends, SetStatus and Get either work (a real rep,
// a known status) or answer invalid (the status) or not found (the ids), never anything else.
func FuzzInput(f *testing.F) {
	b := bus.NewInProcess()
	f.Cleanup(func() { b.Close() })
	h := newHarness(f, testkit.SQLite(f), func(testing.TB) bus.Bus { return b })
	s := h.replica("fuzz")
	rep := h.reps[0]
	for _, seed := range [][3]string{
		{"available", h.ws, rep}, {"away", h.ws, rep}, {"offline", h.ws, rep}, {"Away", h.ws, rep},
		{"away", h.ws, "usr_x"}, {"away", "ws_x", rep}, {"away", h.ws2, rep}, {"away", h.ws, id.New("usr")},
		{"available\n", h.ws, rep}, {"away", h.ws + ".>", rep},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, status, wsID, userID string) {
		st, err := s.SetStatus(h.ctx, wsID, userID, status)
		okStatus := status == presence.StatusAvailable || status == presence.StatusAway
		okIDs := id.Valid("ws", wsID) && id.Valid("usr", userID)
		switch e := errs.As(err); {
		case !okStatus:
			if e == nil || e.Kind != errs.Invalid || e.Field != "status" {
				t.Fatalf("SetStatus(%q) = %v, want invalid status", status, err)
			}
		case !okIDs:
			if !errs.Is(err, errs.NotFound) {
				t.Fatalf("SetStatus(_, %q, %q) = %v, want not found", wsID, userID, err)
			}
		case err == nil:
			if st.Chosen != status || st.UserID != userID {
				t.Fatalf("SetStatus(%q) = %+v", status, st)
			}
		case !errs.Is(err, errs.NotFound):
			t.Fatalf("SetStatus(%q, %q, %q) = %v", status, wsID, userID, err)
		}
		if _, err := s.Get(h.ctx, wsID, userID); (err == nil) != okIDs || (err != nil && !errs.Is(err, errs.NotFound)) {
			t.Fatalf("Get(%q, %q) = %v", wsID, userID, err)
		}
	})
}
