package notify

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
)

func TestPrefsStore(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, Options{})
		ctx := context.Background()
		got, err := e.s.Prefs(ctx, e.ws, e.rep)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, DefaultPrefs()) {
			t.Fatalf("a new rep's prefs = %v, want the defaults %v", got, DefaultPrefs())
		}
		for _, sp := range got {
			if !sp.Enabled || !sp.Notify || sp.Sound == SoundNone {
				t.Fatalf("default %+v: want every stream on, with a sound and notifications", sp)
			}
		}

		changes := make(chan bus.Msg, 4)
		sub, err := e.bus.Subscribe(PrefsSubject(e.ws), func(m bus.Msg) { changes <- m })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()

		want, err := got.Apply(PrefsPatch{"live": {Enabled: ptr(false), Sound: ptr("none")}, "waiting": {Sound: ptr("knock"), Notify: ptr(false)}})
		if err != nil {
			t.Fatal(err)
		}
		saved, err := e.s.SetPrefs(ctx, e.ws, e.rep, want)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := e.s.Prefs(ctx, e.ws, e.rep)
		if !reflect.DeepEqual(saved, want) || !reflect.DeepEqual(again, want) {
			t.Fatalf("saved %v, read back %v, want %v", saved, again, want)
		}
		if again["live"].Enabled || again["live"].Sound != "none" || again["waiting"].Sound != "knock" || again["waiting"].Notify ||
			!again["target"].Enabled {
			t.Fatalf("stored %v", again)
		}
		select {
		case m := <-changes:
			var pc PrefsChange
			if err := json.Unmarshal(m.Data, &pc); err != nil || pc.UserID != e.rep || !reflect.DeepEqual(pc.Prefs, want) {
				t.Fatalf("announced %s (%v)", m.Data, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the change was not announced on the bus")
		}
		// Another rep is untouched, and another workspace's user cannot be written through this one.
		if p, _ := e.s.Prefs(ctx, e.other, e.alien); !reflect.DeepEqual(p, DefaultPrefs()) {
			t.Fatalf("another workspace's rep: %v", p)
		}
		if _, err := e.s.SetPrefs(ctx, e.ws, e.alien, want); !errs.Is(err, errs.NotFound) {
			t.Fatalf("SetPrefs for a user of another workspace: %v, want not found", err)
		}
		if p, _ := e.s.Prefs(ctx, e.ws, e.alien); !reflect.DeepEqual(p, DefaultPrefs()) {
			t.Fatalf("cross-workspace prefs were stored: %v", p)
		}

		for _, c := range []struct {
			name  string
			patch PrefsPatch
			field string
		}{
			{"waiting off", PrefsPatch{"waiting": {Enabled: ptr(false)}}, "waiting.enabled"},
			{"waiting muted", PrefsPatch{"waiting": {Sound: ptr("none")}}, "waiting.sound"},
			{"unknown sound", PrefsPatch{"live": {Sound: ptr("siren")}}, "live.sound"},
			{"empty sound", PrefsPatch{"target": {Sound: ptr("")}}, "target.sound"},
			{"unknown stream", PrefsPatch{"email": {Enabled: ptr(true)}}, "email"},
		} {
			_, err := again.Apply(c.patch)
			if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != c.field {
				t.Errorf("%s: %v, want invalid %s", c.name, err, c.field)
			}
		}
		bad := DefaultPrefs()
		bad["waiting"] = StreamPrefs{Enabled: false, Sound: "chime"}
		if _, err := e.s.SetPrefs(ctx, e.ws, e.rep, bad); errs.As(err) == nil || errs.As(err).Field != "waiting.enabled" {
			t.Fatalf("SetPrefs with waiting off: %v", err)
		}
		delete(bad, "live")
		bad["waiting"] = DefaultPrefs()["waiting"]
		if _, err := e.s.SetPrefs(ctx, e.ws, e.rep, bad); errs.As(err) == nil || errs.As(err).Field != "live" {
			t.Fatalf("SetPrefs without live: %v", err)
		}
		if p, _ := e.s.Prefs(ctx, e.ws, e.rep); !reflect.DeepEqual(p, want) {
			t.Fatalf("a refused change was stored: %v", p)
		}
	})
}

func TestPrefsDeliver(t *testing.T) {
	p := DefaultPrefs()
	p["live"] = StreamPrefs{Enabled: false, Sound: "knock", Notify: true}
	p["target"] = StreamPrefs{Enabled: true, Sound: "none", Notify: false}
	p["waiting"] = StreamPrefs{Enabled: false, Sound: "none", Notify: false} // as if stored badly: still delivered, with a sound
	for _, c := range []struct {
		stream string
		sound  string
		notify bool
		ok     bool
	}{
		{"waiting", "chime", false, true},
		{"live", "knock", true, false},
		{"target", "none", false, true},
		{"email", "", false, false},
	} {
		sound, notify, ok := p.Deliver(c.stream)
		if sound != c.sound || notify != c.notify || ok != c.ok {
			t.Errorf("Deliver(%s) = %q %v %v, want %q %v %v", c.stream, sound, notify, ok, c.sound, c.notify, c.ok)
		}
	}
	if s, n, ok := (Prefs{}).Deliver("live"); s != "pop" || !n || !ok {
		t.Errorf("empty prefs deliver live with defaults: %q %v %v", s, n, ok)
	}

	a := Alert{ID: "alr_1", Stream: "target", Title: "Globex is on the site", To: []string{"usr_a"}}
	if _, ok := a.FrameFor("usr_b", p); ok {
		t.Error("an alert for usr_a reached usr_b")
	}
	f, ok := a.FrameFor("usr_a", p)
	if !ok || f.T != "alert" || f.Sound != "none" || f.Notify || f.Title != a.Title {
		t.Errorf("frame %+v %v", f, ok)
	}
	a.To = nil
	if !a.For("usr_b") {
		t.Error("an alert without recipients is for every rep")
	}
	a.Stream = "live"
	if _, ok := a.FrameFor("usr_b", p); ok {
		t.Error("a live alert reached a rep who turned live off")
	}
}

func TestAlertPublishesAtOnce(t *testing.T) {
	e := newEnv(t, testkit.SQLite(t), Options{})
	ctx := context.Background()
	got := make(chan bus.Msg, 4)
	sub, err := e.bus.Subscribe(AlertSubject(e.ws), func(m bus.Msg) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	start := time.Now()
	err = e.s.Alert(ctx, e.ws, Alert{Stream: StreamWaiting, Title: "  Riley\tChen\nis waiting ", Body: "Hi\x00, pricing?", Conv: "conv_1", To: []string{e.rep}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if time.Since(start) > time.Second {
			t.Errorf("alert took %s", time.Since(start))
		}
		a, err := DecodeAlert(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a.ID, "alr_") || a.At.IsZero() || a.Title != "Riley Chen is waiting" || a.Body != "Hi, pricing?" ||
			a.Conv != "conv_1" || !a.For(e.rep) || a.For(e.alien) {
			t.Fatalf("published %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert on the bus")
	}
	if err := e.s.Alert(ctx, e.ws, Alert{Stream: "sms", Title: "x"}); errs.As(err) == nil || errs.As(err).Field != "stream" {
		t.Fatalf("unknown stream: %v", err)
	}
	if err := e.s.Alert(ctx, e.ws, Alert{Stream: "live", Title: " \n "}); errs.As(err) == nil || errs.As(err).Field != "title" {
		t.Fatalf("empty title: %v", err)
	}
	if _, err := DecodeAlert([]byte(`{"stream":"x"}`)); !errs.Is(err, errs.Malformed) {
		t.Fatalf("DecodeAlert of junk: %v", err)
	}
}

func TestChannelsStore(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, Options{})
		ctx := context.Background()
		slackURL := "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXXabcd"
		sl, sec, err := e.s.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindSlack, Name: " Sales  alerts ", URL: slackURL,
			Events: []string{"conversation.waiting", "waiting", "waiting"}})
		if err != nil {
			t.Fatal(err)
		}
		if sec != "" || sl.Name != "Sales alerts" || !sl.Enabled || sl.URL != "hooks.slack.com …abcd" ||
			!reflect.DeepEqual(sl.Events, []string{"waiting", "conversation.waiting"}) || sl.Failing {
			t.Fatalf("created %+v (secret %q)", sl, sec)
		}
		// The URL is stored sealed, never in clear, and never shown back.
		var sealed, hint string
		if err := d.QueryRowContext(ctx, `SELECT url_sealed, url_hint FROM notify_channels WHERE id = $1`, sl.ID).Scan(&sealed, &hint); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sealed, "secretXXXX") || !strings.HasPrefix(sealed, "bks1.") || strings.Contains(hint, "secret") {
			t.Fatalf("stored url %q, hint %q", sealed, hint)
		}
		if b, _ := json.Marshal(sl); strings.Contains(string(b), "secretXXXX") {
			t.Fatalf("the channel's JSON shows the URL: %s", b)
		}

		wh, whSec, err := e.s.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindWebhook, Name: "CRM", URL: "https://crm.example/hooks/beckon",
			Events: []string{"message.created", "alert"}, Enabled: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(whSec, "whsec_") || wh.Enabled {
			t.Fatalf("webhook %+v, secret %q", wh, whSec)
		}
		list, err := e.s.Channels(ctx, e.ws)
		if err != nil || len(list) != 2 || list[0].ID != sl.ID || list[1].ID != wh.ID {
			t.Fatalf("list %v %v", list, err)
		}
		if other, _ := e.s.Channels(ctx, e.other); len(other) != 0 {
			t.Fatalf("another workspace lists %d channels", len(other))
		}

		up, err := e.s.UpdateChannel(ctx, e.ws, wh.ID, ChannelPatch{Name: ptr("CRM sync"), Enabled: ptr(true),
			Events: ptr([]string{"visitor.identified"}), URL: ptr("https://crm.example/v2/hooks/zzzz")})
		if err != nil {
			t.Fatal(err)
		}
		if up.Name != "CRM sync" || !up.Enabled || up.URL != "crm.example …zzzz" || !reflect.DeepEqual(up.Events, []string{"visitor.identified"}) {
			t.Fatalf("updated %+v", up)
		}
		rot, sec2, err := e.s.RotateSecret(ctx, e.ws, wh.ID)
		if err != nil || sec2 == whSec || !strings.HasPrefix(sec2, "whsec_") || rot.ID != wh.ID {
			t.Fatalf("rotate: %v %q", err, sec2)
		}
		secs, err := e.s.secrets(rot)
		if err != nil || len(secs) != 2 || string(secs[0]) != sec2 || string(secs[1]) != whSec {
			t.Fatalf("after rotation the secrets are %q %v, want the new then the old", secs, err)
		}
		if _, _, err := e.s.RotateSecret(ctx, e.ws, sl.ID); !errs.Is(err, errs.Conflict) {
			t.Fatalf("rotate a Slack channel: %v", err)
		}

		// SEC1: another workspace's channel id is not found, whatever the operation.
		for name, err := range map[string]error{
			"get": func() error { _, err := e.s.Channel(ctx, e.other, sl.ID); return err }(),
			"update": func() error {
				_, err := e.s.UpdateChannel(ctx, e.other, sl.ID, ChannelPatch{Name: ptr("x")})
				return err
			}(),
			"rotate":     func() error { _, _, err := e.s.RotateSecret(ctx, e.other, wh.ID); return err }(),
			"test":       func() error { _, err := e.s.TestChannel(ctx, e.other, sl.ID); return err }(),
			"deliveries": func() error { _, err := e.s.Deliveries(ctx, e.other, sl.ID, 0); return err }(),
			"delete":     e.s.DeleteChannel(ctx, e.other, sl.ID),
			"garbage":    func() error { _, err := e.s.Channel(ctx, e.ws, "ch_nope"); return err }(),
		} {
			if !errs.Is(err, errs.NotFound) {
				t.Errorf("%s across workspaces: %v, want not found", name, err)
			}
		}
		if c, err := e.s.Channel(ctx, e.ws, sl.ID); err != nil || c.Name != "Sales alerts" {
			t.Fatalf("the channel changed through another workspace: %+v %v", c, err)
		}

		for _, c := range []struct {
			name  string
			in    ChannelInput
			field string
		}{
			{"kind", ChannelInput{Kind: "email", Name: "x", URL: slackURL, Events: []string{"waiting"}}, "kind"},
			{"no name", ChannelInput{Kind: KindSlack, Name: " ", URL: slackURL, Events: []string{"waiting"}}, "name"},
			{"long name", ChannelInput{Kind: KindSlack, Name: strings.Repeat("n", 81), URL: slackURL, Events: []string{"waiting"}}, "name"},
			{"no url", ChannelInput{Kind: KindSlack, Name: "x", Events: []string{"waiting"}}, "url"},
			{"http", ChannelInput{Kind: KindSlack, Name: "x", URL: "http://hooks.slack.com/x", Events: []string{"waiting"}}, "url"},
			{"loopback", ChannelInput{Kind: KindWebhook, Name: "x", URL: "https://127.0.0.1/x", Events: []string{"alert"}}, "url"},
			{"no events", ChannelInput{Kind: KindSlack, Name: "x", URL: slackURL}, "events"},
			{"slack event", ChannelInput{Kind: KindSlack, Name: "x", URL: slackURL, Events: []string{"message.created"}}, "events"},
			{"webhook stream", ChannelInput{Kind: KindWebhook, Name: "x", URL: slackURL, Events: []string{"waiting"}}, "events"},
		} {
			_, _, err := e.s.CreateChannel(ctx, e.ws, c.in)
			if er := errs.As(err); er == nil || er.Kind != errs.Invalid || er.Field != c.field {
				t.Errorf("%s: %v, want invalid %s", c.name, err, c.field)
			}
		}
		if _, err := e.s.UpdateChannel(ctx, e.ws, sl.ID, ChannelPatch{Events: ptr([]string{"alert"})}); errs.As(err) == nil || errs.As(err).Field != "events" {
			t.Errorf("alert events on Slack: %v", err)
		}

		// Without a keyring nothing can be sealed.
		nokeys := NewService(d, nil, e.bus, nil, nil, Options{})
		if _, _, err := nokeys.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindSlack, Name: "x", URL: slackURL, Events: []string{"waiting"}}); !errs.Is(err, errs.Unavailable) {
			t.Errorf("create without keys: %v", err)
		}

		if err := e.s.DeleteChannel(ctx, e.ws, sl.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Channel(ctx, e.ws, sl.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("deleted channel: %v", err)
		}
		if err := e.s.DeleteChannel(ctx, e.ws, sl.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("deleting twice: %v", err)
		}
	})
}

func TestChannelLimit(t *testing.T) {
	e := newEnv(t, testkit.SQLite(t), Options{})
	ctx := context.Background()
	for i := range MaxChannels {
		if _, _, err := e.s.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindTeams, Name: "t", URL: "https://acme.webhook.office.com/x",
			Events: []string{"waiting"}}); err != nil {
			t.Fatalf("channel %d: %v", i, err)
		}
	}
	if _, _, err := e.s.CreateChannel(ctx, e.ws, ChannelInput{Kind: KindTeams, Name: "t", URL: "https://acme.webhook.office.com/x",
		Events: []string{"waiting"}}); !errs.Is(err, errs.Conflict) {
		t.Fatalf("channel %d: %v, want conflict", MaxChannels+1, err)
	}
}

func TestCheckURL(t *testing.T) {
	strict := &Service{opt: Options{}}
	private := &Service{opt: Options{AllowPrivate: true}}
	insecure := &Service{opt: Options{AllowInsecure: true}}
	for _, c := range []struct {
		url                       string
		strict, private, insecure bool // accepted by each
	}{
		{"https://hooks.slack.com/services/T/B/x", true, true, true},
		{"https://crm.example:8443/in?x=1", true, true, true},
		{"http://crm.example/in", false, true, true},
		{"http://10.0.0.5/in", false, true, false},
		{"https://127.0.0.1/x", false, true, false},
		{"https://[::1]/x", false, true, false},
		{"https://[::ffff:127.0.0.1]/x", false, true, false},
		{"https://169.254.169.254/latest/meta-data", false, true, false},
		{"https://10.1.2.3/x", false, true, false},
		{"https://192.168.0.1/x", false, true, false},
		{"https://100.64.0.1/x", false, true, false},
		{"https://0.0.0.0/x", false, true, false},
		{"https://[fe80::1]/x", false, true, false},
		{"https://localhost/x", false, true, false},
		{"https://db.localhost/x", false, true, false},
		{"https://intranet/x", false, true, false},
		{"https://8.8.8.8/x", true, true, true},
		{"ftp://files.example/x", false, false, false},
		{"https://crm.example/x#frag", false, false, false},
		{"https://crm.example/a b", false, false, false},
		{"//crm.example/x", false, false, false},
		{"https://", false, false, false},
		{"https://crm.example:99999/x", false, false, false},
		{"https://crm.example/" + strings.Repeat("a", MaxURLLen), false, false, false},
	} {
		for _, v := range []struct {
			name string
			s    *Service
			want bool
		}{{"strict", strict, c.strict}, {"private", private, c.private}, {"insecure", insecure, c.insecure}} {
			_, err := v.s.checkURL(c.url)
			if (err == nil) != v.want {
				t.Errorf("%s checkURL(%.60q) = %v, want accepted %v", v.name, c.url, err, v.want)
			}
			if err != nil && (errs.As(err) == nil || errs.As(err).Field != "url") {
				t.Errorf("%s checkURL(%q): %v is not invalid url", v.name, c.url, err)
			}
		}
	}
}
