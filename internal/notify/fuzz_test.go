package notify

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
)

// FuzzPrefsPatch: whatever body PUT /api/v1/me/alerts gets, applying it either fails with an
// invalid field or yields complete, valid preferences in which "waiting" stays on and audible.
func FuzzPrefsPatch(f *testing.F) {
	f.Add(`{"live":{"enabled":false,"sound":"none"}}`)
	f.Add(`{"waiting":{"enabled":false}}`)
	f.Add(`{"waiting":{"sound":"none","notify":false},"target":{"sound":"knock"}}`)
	f.Add(`{"email":{}}`)
	f.Add(`{"live":{"sound":"\u0000"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var patch PrefsPatch
		if json.Unmarshal([]byte(body), &patch) != nil {
			return
		}
		p, err := DefaultPrefs().Apply(patch)
		if err != nil {
			if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field == "" {
				t.Fatalf("Apply(%s): %v is not an invalid field", body, err)
			}
			return
		}
		if len(p) != len(Streams) {
			t.Fatalf("Apply(%s) = %v: not every stream", body, p)
		}
		if err := p.validate(); err != nil {
			t.Fatalf("Apply(%s) = %v, which does not validate: %v", body, p, err)
		}
		if w := p[StreamWaiting]; !w.Enabled || w.Sound == SoundNone {
			t.Fatalf("Apply(%s) turned waiting off or muted it: %+v", body, w)
		}
		for _, s := range Streams {
			sound, _, ok := p.Deliver(s)
			if !slices.Contains(Sounds, sound) || (s == StreamWaiting && (!ok || sound == SoundNone)) {
				t.Fatalf("Deliver(%s) = %q %v", s, sound, ok)
			}
		}
	})
}

// FuzzChannelInput: the checks of a channel's name, URL and events never panic, refuse with an
// invalid field, and what they accept is tidy: a one-line name, an http(s) URL whose hint shows
// only its host and last four characters, events the kind may take.
func FuzzChannelInput(f *testing.F) {
	f.Add("slack", "Sales", "https://hooks.slack.com/services/T0/B0/secretsecret", "waiting,conversation.waiting", true)
	f.Add("webhook", "CRM\x00", "http://10.0.0.1:8080/in", "alert,message.created,alert", false)
	f.Add("teams", "  ", "https://user:pw@acme.webhook.office.com/x?y#z", "", true)
	f.Add("webhook", "x", "https://[::1]/", "conversation.waiting", false)
	f.Add("slack", strings.Repeat("é", 90), "https://xn--80ak6aa92e.com/\u202e", "live,target", true)
	f.Fuzz(func(t *testing.T, kind, name, rawURL, events string, private bool) {
		s := &Service{opt: Options{AllowPrivate: private}}
		if n, err := checkName(name); err == nil {
			if n == "" || strings.ContainsAny(n, "\n\r\t\x00") || utf8.RuneCountInString(n) > MaxChannelName || !utf8.ValidString(n) {
				t.Fatalf("checkName(%q) = %q", name, n)
			}
		} else if e := errs.As(err); e == nil || e.Field != "name" {
			t.Fatalf("checkName(%q): %v", name, err)
		}
		u, err := s.checkURL(rawURL)
		if err != nil {
			if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != "url" {
				t.Fatalf("checkURL(%q): %v", rawURL, err)
			}
		} else {
			if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || (u.Scheme == "http" && !private) {
				t.Fatalf("checkURL(%q) accepted %v", rawURL, u)
			}
			if _, err := url.Parse(u.String()); err != nil {
				t.Fatalf("checkURL(%q) = %q, which does not parse again", rawURL, u)
			}
			hint := urlHint(u.String())
			r := []rune(u.String())
			tail := string(r[max(0, len(r)-4):])
			if hint != u.Host+" …"+tail {
				t.Fatalf("urlHint(%q) = %q", u, hint)
			}
		}
		var list []string
		if events != "" {
			list = strings.Split(events, ",")
		}
		got, err := checkEvents(kind, list)
		if err != nil {
			if e := errs.As(err); e == nil || e.Field != "events" {
				t.Fatalf("checkEvents(%q, %q): %v", kind, list, err)
			}
			return
		}
		allowed := AllowedEvents(kind)
		if len(got) == 0 || len(got) > len(allowed) {
			t.Fatalf("checkEvents(%q, %q) = %q", kind, list, got)
		}
		for _, e := range got {
			if !slices.Contains(allowed, e) || !slices.Contains(list, e) {
				t.Fatalf("checkEvents(%q, %q) = %q", kind, list, got)
			}
		}
	})
}

// FuzzVerify: a receiver's signature check never panics and accepts only what Sign made with the
// same secret and body.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(Sign(now, []byte(`{"id":"evt_1"}`), []byte("whsec_a")), `{"id":"evt_1"}`, "whsec_a")
	f.Add("t=1800000000,v1=00", "{}", "k")
	f.Add("v1=,t=,,=", "", "")
	f.Fuzz(func(t *testing.T, header, body, secret string) {
		err := Verify(header, []byte(body), []byte(secret), now, 5*time.Minute)
		if err == nil {
			// A valid signature is one that Sign makes for some time within the tolerance (hex
			// digits in either case).
			lower, ok := strings.ToLower(header), false
			for d := -5 * time.Minute; d <= 5*time.Minute && !ok; d += time.Second {
				sig := Sign(now.Add(d), []byte(body), []byte(secret))
				ts, v1, _ := strings.Cut(sig, ",")
				ok = strings.Contains(lower, v1) && strings.Contains(header, ts)
			}
			if !ok {
				t.Fatalf("Verify accepted %q for %q", header, body)
			}
		}
		if err != nil && !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("Verify: %v", err)
		}
	})
}
