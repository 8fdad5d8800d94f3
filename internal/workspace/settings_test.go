package workspace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/secret"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

func TestSettings(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := workspace.NewStore(d, clock.NewFake(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)))
		w, err := s.Create(ctx, d, workspace.New{Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(w.Settings, workspace.DefaultSettings()) || w.HasIdentitySecret {
			t.Fatalf("new workspace settings %+v", w.Settings)
		}
		patch := func(js string) (*workspace.Workspace, error) {
			var p workspace.Patch
			if err := jsonUnmarshal(js, &p); err != nil {
				t.Fatal(err)
			}
			return s.Update(ctx, w.ID, p)
		}
		for _, tc := range []struct{ body, field string }{
			{`{"settings":{"messenger":{"color":"red"}}}`, "settings.messenger.color"},
			{`{"settings":{"messenger":{"position":"top"}}}`, "settings.messenger.position"},
			{`{"settings":{"messenger":{"launcher_text":""}}}`, "settings.messenger.launcher_text"},
			{`{"settings":{"messenger":{"launcher_text":"Talk\u202eto us"}}}`, "settings.messenger.launcher_text"},
			{`{"settings":{"messenger":{"z_index":-1}}}`, "settings.messenger.z_index"},
			{`{"settings":{"cookie_days":401}}`, "settings.cookie_days"},
			{`{"settings":{"identity_verification":true}}`, "settings.identity_verification"},
		} {
			_, err := patch(tc.body)
			if e := errs.As(err); e == nil || e.Field != tc.field {
				t.Errorf("%s: %v, want an error on %s", tc.body, err, tc.field)
			}
		}
		got, err := patch(`{"settings":{"messenger":{"color":"#FF8800","position":"left","launcher_text":" Questions? "},"consent_required":true,"cookie_days":30}}`)
		if err != nil {
			t.Fatal(err)
		}
		m := got.Settings.Messenger
		if m.Color != "#ff8800" || m.Position != "left" || m.LauncherText != "Questions?" || m.Greeting != "Hi! How can we help?" ||
			!got.Settings.ConsentRequired || got.Settings.CookieDays != 30 {
			t.Fatalf("patched settings %+v", got.Settings)
		}
		// The identity secret: sealed at rest, shown once, required to switch verification on.
		keys, _ := secret.NewKeyring(bytes.Repeat([]byte{1}, 32))
		if _, err := s.RotateIdentitySecret(ctx, w.ID, nil); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("rotate without keys: %v", err)
		}
		sec, err := s.RotateIdentitySecret(ctx, w.ID, keys)
		if err != nil || len(sec) < 40 {
			t.Fatalf("rotate: %q %v", sec, err)
		}
		var stored string
		d.QueryRowContext(ctx, `SELECT identity_secret FROM workspaces WHERE id = $1`, w.ID).Scan(&stored)
		if bytes.Contains([]byte(stored), []byte(sec)) {
			t.Fatal("identity secret stored in clear")
		}
		if b, err := s.IdentitySecret(ctx, w.ID, keys); err != nil || string(b) != sec {
			t.Fatalf("open: %v", err)
		}
		got, err = patch(`{"settings":{"identity_verification":true}}`)
		if err != nil || !got.Settings.IdentityVerification || !got.HasIdentitySecret {
			t.Fatalf("switch on: %+v %v", got, err)
		}
	})
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
