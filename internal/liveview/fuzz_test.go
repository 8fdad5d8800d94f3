package liveview

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/workspace"
)

// FuzzDelta feeds arbitrary bus messages to a watched registry: whatever another replica (or a
// stranger on a shared NATS server) publishes on "live.>", the registry neither panics nor
// sends a frame it cannot encode, and its rows stay within their bounds.
func FuzzDelta(f *testing.F) {
	conv := "conv_1"
	for _, d := range []delta{
		{Op: opPage, V: "vis_a", S: "vsn_1", At: micro(t0), URL: "https://acme.example/", Title: "Home", NewS: true, NewV: true, C: "DE", D: "desktop", Conv: &conv},
		{Op: opSeen, V: "vis_a", At: micro(t0)},
		{Op: opLeave, V: "vis_a", At: micro(t0)},
		{Op: opUpdate, V: "vis_b", Was: "vis_a", At: micro(t0)},
		{Op: opProfile, V: "vis_a", S: "vsn_1", At: micro(t0), P: &profile{Started: micro(t0), Seen: micro(t0), URL: "https://acme.example/x",
			Sessions: 2, Fields: map[string]string{"email": "ada@globex.com", "website": "globex.com"}}},
	} {
		b, _ := json.Marshal(&d)
		f.Add("live.ws_a", b)
	}
	f.Add("live.ws_a", []byte(`{"op":"profile","v":"vis_a","p":null}`))
	f.Add("live.ws_a.x", []byte(`{"op":"seen","v":"x"}`))
	f.Add("live.", []byte(`{}`))
	f.Add("live.ws_a", []byte(`{"op":"page","v":"vis_a","at":-9223372036854775808}`))

	b := bus.NewInProcess()
	defer b.Close()
	st := workspace.DefaultSettings()
	st.LiveViewBlock, st.TargetAccounts = []string{"acme.example/admin"}, []string{"globex.com"}
	r, err := New(Options{Bus: b, manual: true, Timeout: time.Hour,
		Settings: func(context.Context, string) (workspace.Settings, error) { return st, nil }})
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	var sendErr error
	stop, err := r.Watch(context.Background(), "ws_a", func(fr Frame) {
		if _, err := fr.JSON(); err != nil {
			sendErr = err
		}
	})
	if err != nil {
		f.Fatal(err)
	}
	defer stop()

	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		r.handle(bus.Msg{Subject: subject, Data: data})
		r.tick()
		if sendErr != nil {
			t.Fatalf("a frame does not encode: %v", sendErr)
		}
		snap, err := r.Snapshot(context.Background(), "ws_a")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range snap {
			for k, val := range v.Fields {
				if len(val) > MaxFieldLen {
					t.Fatalf("field %s holds %d bytes", k, len(val))
				}
			}
		}
	})
}
