package visitor_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

type step struct {
	at time.Duration // after the first hello
	do string        // hello, page, heartbeat, leave, touch
}

// every returns a step of kind do each minute from the from-th to the to-th minute.
func every(do string, from, to int) []step {
	var s []step
	for m := from; m <= to; m++ {
		s = append(s, step{time.Duration(m) * time.Minute, do})
	}
	return s
}

func seq(parts ...any) []step {
	var s []step
	for _, p := range parts {
		switch p := p.(type) {
		case step:
			s = append(s, p)
		case []step:
			s = append(s, p...)
		}
	}
	return s
}

func mmss(m, s int) time.Duration { return time.Duration(m)*time.Minute + time.Duration(s)*time.Second }

// TestSessionRules walks a visitor through each boundary of the session rules (SPEC V1) from both
// sides. The last step's outcome is checked: in the first session (same), in a new one (new), or
// in none (a heartbeat or leave after the end). "warm" takes the last step on the server that saw
// the others; "cold" writes the queue and takes it on a fresh server, which has to decide from
// the database alone.
func TestSessionRules(t *testing.T) {
	const same, fresh, none = "same", "new", "none"
	for _, c := range []struct {
		name    string
		steps   []step
		want    string
		wantEnd time.Duration // when the first session ended, for "new" and "none"
	}{
		{"59:59 without activity, heartbeats flowing", seq(every("heartbeat", 1, 59), step{mmss(59, 59), "page"}), same, 0},
		{"60:00 without activity, heartbeats flowing", seq(every("heartbeat", 1, 59), step{mmss(60, 0), "page"}), fresh, mmss(60, 0)},
		{"heartbeat at 60:00 without activity", seq(every("heartbeat", 1, 59), step{mmss(60, 0), "heartbeat"}), none, mmss(60, 0)},
		{"a page view restarts the 60 minutes", seq(every("heartbeat", 1, 29), step{mmss(30, 0), "page"}, every("heartbeat", 31, 89),
			step{mmss(89, 59), "page"}), same, 0},
		{"a message restarts the 60 minutes", seq(every("heartbeat", 1, 49), step{mmss(50, 0), "touch"}, every("heartbeat", 51, 109),
			step{mmss(109, 59), "page"}), same, 0},
		{"a message at 60:00 is too late", seq(every("heartbeat", 1, 59), step{mmss(60, 0), "touch"}), fresh, mmss(60, 0)},
		{"4:59 of silence", seq(step{mmss(4, 59), "page"}), same, 0},
		{"5:00 of silence", seq(step{mmss(5, 0), "page"}), fresh, mmss(5, 0)},
		{"a heartbeat at 4:59 keeps it open", seq(step{mmss(4, 59), "heartbeat"}, step{mmss(9, 58), "page"}), same, 0},
		{"a heartbeat at 5:00 is too late", seq(step{mmss(5, 0), "heartbeat"}), none, mmss(5, 0)},
		{"leave, back within 5 minutes", seq(step{mmss(0, 30), "leave"}, step{mmss(5, 29), "hello"}), same, 0},
		{"leave, back after 5 minutes", seq(step{mmss(0, 30), "leave"}, step{mmss(5, 30), "hello"}), fresh, mmss(5, 30)},
		{"leave while another tab beats", seq(step{mmss(0, 30), "leave"}, every("heartbeat", 1, 8), step{mmss(12, 59), "page"}), same, 0},
		{"activity after the end starts a session", seq(step{mmss(7, 0), "touch"}), fresh, mmss(5, 0)},
	} {
		for _, mode := range []string{"warm", "cold"} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
					ctx := context.Background()
					f := setup(t, d, visitor.Options{})
					first := f.hello(t, "", "https://acme.example/?utm_source=news")
					vid := first.VisitorID
					run := func(svc *visitor.Service, s step) (visitor.Recorded, error) {
						f.clk.Set(t0.Add(s.at))
						switch s.do {
						case "hello":
							r, err := svc.Hello(ctx, visitor.HelloInput{WorkspaceID: f.ws, VisitorID: vid,
								Page: visitor.Page{URL: "https://acme.example/back"}, UserAgent: uaChromeDesktop})
							if err != nil {
								return visitor.Recorded{}, err
							}
							return visitor.Recorded{VisitorID: r.VisitorID, SessionID: r.SessionID, NewSession: r.NewSession}, nil
						case "page":
							return svc.PageView(ctx, f.ws, vid, visitor.Page{URL: fmt.Sprintf("https://acme.example/p/%s", s.at)})
						case "heartbeat":
							return svc.Heartbeat(ctx, f.ws, vid)
						case "leave":
							return svc.Leave(ctx, f.ws, vid)
						case "touch":
							return svc.Touch(ctx, f.ws, vid)
						}
						panic(s.do)
					}
					last := c.steps[len(c.steps)-1]
					for _, s := range c.steps[:len(c.steps)-1] {
						r, err := run(f.svc, s)
						if err != nil || r.SessionID != first.SessionID || r.NewSession {
							t.Fatalf("%s at %s: %+v, %v; want the first session", s.do, s.at, r, err)
						}
					}
					svc := f.svc
					if mode == "cold" {
						f.flush(t)
						svc = newService(t, d, f.clk, visitor.Options{})
					}
					r, err := run(svc, last)
					if err != nil {
						t.Fatal(err)
					}
					if r.VisitorID != vid {
						t.Fatalf("visitor %s, want %s", r.VisitorID, vid)
					}
					switch c.want {
					case same:
						if r.SessionID != first.SessionID || r.NewSession {
							t.Fatalf("%s at %s: %+v; want the first session", last.do, last.at, r)
						}
					case fresh:
						if r.SessionID == "" || r.SessionID == first.SessionID || !r.NewSession {
							t.Fatalf("%s at %s: %+v; want a new session", last.do, last.at, r)
						}
					case none:
						if r.SessionID != "" || r.NewSession {
							t.Fatalf("%s at %s: %+v; want no session", last.do, last.at, r)
						}
					}
					if err := svc.Flush(ctx); err != nil {
						t.Fatal(err)
					}
					f.flush(t)
					old := f.session(t, first.SessionID)
					if c.want == same {
						if !old.Open || !old.EndedAt.IsZero() {
							t.Fatalf("first session ended: %+v", old)
						}
						return
					}
					if old.Open || !old.EndedAt.Equal(t0.Add(c.wantEnd)) {
						t.Fatalf("first session ended at %s (open %v), want %s", old.EndedAt.Sub(t0), old.Open, c.wantEnd)
					}
					if c.want == fresh {
						n := f.session(t, r.SessionID)
						if !n.Open || !n.StartedAt.Equal(t0.Add(last.at)) || n.VisitorID != vid {
							t.Fatalf("new session %+v", n)
						}
						v, err := svc.Get(ctx, f.ws, vid)
						if err != nil || v.Sessions != 2 {
							t.Fatalf("visitor %+v, %v", v, err)
						}
					}
				})
			})
		}
	}
}

func TestHelloRecordsTheSession(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		r, err := f.svc.Hello(ctx, visitor.HelloInput{WorkspaceID: f.ws,
			Page: visitor.Page{URL: "https://acme.example/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=chat&utm_content=a&gclid=G1",
				Title: strings.Repeat("T", 400), Referrer: "https://www.google.com/"},
			TimeZone: "Asia/Kolkata", Language: "en-IN", UserAgent: uaSafariIOS, IP: netip.MustParseAddr("81.2.69.142")})
		if err != nil {
			t.Fatal(err)
		}
		if !r.NewVisitor || !r.NewSession || r.Bot || !id.Valid("vis", r.VisitorID) || !id.Valid("vsn", r.SessionID) {
			t.Fatalf("hello %+v", r)
		}
		s := f.session(t, r.SessionID)
		want := visitor.Session{ID: r.SessionID, VisitorID: r.VisitorID, StartedAt: t0, LastActivityAt: t0, LastSeenAt: t0,
			Open: true, LandingURL: "https://acme.example/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=chat&utm_content=a&gclid=G1",
			Referrer: "https://www.google.com/", Campaign: visitor.Campaign{Source: "google", Medium: "cpc", Name: "spring", Term: "chat", Content: "a", GCLID: "G1"},
			TimeZone: "Asia/Kolkata", Language: "en-IN", Device: "mobile", UserAgent: uaSafariIOS, Country: "IN", Region: "APAC", PageViews: 1}
		if *s != want {
			t.Fatalf("session\n got %+v\nwant %+v", *s, want)
		}
		pvs, err := f.svc.PageViews(ctx, f.ws, r.SessionID, 0)
		if err != nil || len(pvs) != 1 || pvs[0].Title != strings.Repeat("T", 300) || pvs[0].VisitorID != r.VisitorID ||
			!pvs[0].At.Equal(t0) || pvs[0].Referrer != "https://www.google.com/" {
			t.Fatalf("page views %+v, %v", pvs, err)
		}
		v, err := f.svc.Get(ctx, f.ws, r.VisitorID)
		if err != nil || v.Sessions != 1 || !v.FirstSeenAt.Equal(t0) || !v.LastSeenAt.Equal(t0) || v.Email != "" || v.MergedInto != "" {
			t.Fatalf("visitor %+v, %v", v, err)
		}

		// The next page load of the same visitor: same session, one more page view.
		f.clk.Advance(time.Minute)
		r2 := f.hello(t, r.VisitorID, "https://acme.example/contact")
		if r2.VisitorID != r.VisitorID || r2.SessionID != r.SessionID || r2.NewSession || r2.NewVisitor {
			t.Fatalf("second hello %+v", r2)
		}
		f.flush(t)
		if s := f.session(t, r.SessionID); s.PageViews != 2 || !s.LastSeenAt.Equal(t0.Add(time.Minute)) || !s.LastActivityAt.Equal(s.LastSeenAt) {
			t.Fatalf("session after second hello %+v", s)
		}
		pvs, _ = f.svc.PageViews(ctx, f.ws, r.SessionID, 10)
		if len(pvs) != 2 || pvs[0].URL != "https://acme.example/contact" {
			t.Fatalf("page views newest first: %+v", pvs)
		}
		if pvs, _ := f.svc.PageViews(ctx, f.ws, r.SessionID, 1); len(pvs) != 1 {
			t.Fatalf("limit: %d", len(pvs))
		}
		if v, _ := f.svc.Get(ctx, f.ws, r.VisitorID); !v.LastSeenAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("visitor last seen %s", v.LastSeenAt)
		}

		// A visitor id Beckon does not know (deleted, or of another workspace) gets a new visitor.
		r3 := f.hello(t, id.New("vis"), "https://acme.example/")
		if !r3.NewVisitor || r3.VisitorID == r.VisitorID {
			t.Fatalf("unknown visitor: %+v", r3)
		}
	})
}

func TestHelloKeepsOnlyValidBrowserFacts(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, visitor.Options{})
		r, err := f.svc.Hello(context.Background(), visitor.HelloInput{WorkspaceID: f.ws, Page: visitor.Page{URL: "http://acme.example"},
			TimeZone: "Mars/Olympus", Language: "<script>", UserAgent: uaChromeDesktop + strings.Repeat(" x", 400) + "\x00\xff"})
		if err != nil {
			t.Fatal(err)
		}
		s := f.session(t, r.SessionID)
		if s.TimeZone != "" || s.Language != "" || s.Country != "" || s.Region != "" || s.Device != "desktop" ||
			len([]rune(s.UserAgent)) > visitor.MaxUserAgentLen || len(s.UserAgent) < 500 || strings.ContainsAny(s.UserAgent, "\x00\xff") {
			t.Fatalf("session %+v", s)
		}
	})
}

func TestHelloRefusesBadPages(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		for _, c := range []struct {
			page  visitor.Page
			kind  errs.Kind
			field string
		}{
			{visitor.Page{URL: "ftp://acme.example/"}, errs.Invalid, "url"},
			{visitor.Page{URL: "https://acme.example/" + strings.Repeat("a", 2048)}, errs.Invalid, "url"},
			{visitor.Page{URL: "https://acme.example/", Title: "a\xffb"}, errs.Malformed, "title"},
			{visitor.Page{URL: "https://acme.example/\x00"}, errs.Malformed, "url"},
		} {
			_, err := f.svc.Hello(ctx, visitor.HelloInput{WorkspaceID: f.ws, Page: c.page, UserAgent: uaChromeDesktop})
			if e := errs.As(err); e == nil || e.Kind != c.kind || e.Field != c.field {
				t.Errorf("Hello(%.60q): %v; want %v about %s", c.page.URL, err, c.kind, c.field)
			}
		}
		r := f.hello(t, "", "https://acme.example/")
		if _, err := f.svc.PageView(ctx, f.ws, r.VisitorID, visitor.Page{URL: "mailto:a@b.c"}); !errs.Is(err, errs.Invalid) {
			t.Errorf("PageView: %v", err)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM visitors`); n != 1 {
			t.Errorf("%d visitors stored", n)
		}
		if _, err := f.svc.Hello(ctx, visitor.HelloInput{WorkspaceID: "ws_nope", Page: visitor.Page{URL: "https://a.example"},
			UserAgent: uaChromeDesktop}); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown workspace: %v", err)
		}
	})
}

func TestBotsAreNotRecorded(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		strict := setup(t, d, visitor.Options{})
		lenient := newService(t, d, strict.clk, visitor.Options{AllowHeadless: true})
		for _, c := range []struct {
			svc       *visitor.Service
			ua        string
			webdriver bool
			bot       bool
		}{
			{strict.svc, uaGooglebot, false, true},
			{strict.svc, uaHeadless, false, true},
			{strict.svc, uaChromeDesktop, true, true},
			{strict.svc, "", false, true},
			{lenient, uaHeadless, false, false},
			{lenient, uaHeadless, true, false},
			{lenient, uaCurl, false, true},
			{lenient, uaGooglebot, false, true},
		} {
			before := strict.count(t, `SELECT COUNT(*) FROM visitors`)
			r, err := c.svc.Hello(ctx, visitor.HelloInput{WorkspaceID: strict.ws, Page: visitor.Page{URL: "https://acme.example/"},
				UserAgent: c.ua, Webdriver: c.webdriver})
			if err != nil {
				t.Fatal(err)
			}
			after := strict.count(t, `SELECT COUNT(*) FROM visitors`)
			if r.Bot != c.bot || (c.bot && (after != before || r.VisitorID != "")) || (!c.bot && after != before+1) {
				t.Errorf("%.40q webdriver=%v: %+v, visitors %d → %d", c.ua, c.webdriver, r, before, after)
			}
		}
	})
}

func TestGeoIPWinsOverTheTimeZone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	if err := os.WriteFile(path, testGeoDB(t), 0o600); err != nil {
		t.Fatal(err)
	}
	f := setup(t, testkit.SQLite(t), visitor.Options{GeoIPDB: path})
	for _, c := range []struct{ ip, zone, country, region string }{
		{"81.2.69.142", "America/New_York", "GB", "EMEA"},
		{"10.0.0.1", "America/St_Johns", "CA", "AMER"},
		{"", "Australia/Eucla", "AU", "APAC"},
	} {
		var ip netip.Addr
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
		}
		r, err := f.svc.Hello(context.Background(), visitor.HelloInput{WorkspaceID: f.ws, Page: visitor.Page{URL: "https://acme.example/"},
			UserAgent: uaChromeDesktop, TimeZone: c.zone, IP: ip})
		if err != nil {
			t.Fatal(err)
		}
		if s := f.session(t, r.SessionID); s.Country != c.country || s.Region != c.region || s.TimeZone != c.zone {
			t.Errorf("%s %s: %s %s %s", c.ip, c.zone, s.Country, s.Region, s.TimeZone)
		}
	}
	if _, err := visitor.New(f.d, f.clk, nil, visitor.Options{GeoIPDB: filepath.Join(t.TempDir(), "missing.mmdb")}); err == nil {
		t.Error("New with a missing GeoIP database succeeded")
	}
}

// TestNewSessionsCarryOver checks what a session started by a page view or by a message takes
// from the previous one: the browser's facts, and the page (or the last page seen) as landing.
func TestNewSessionsCarryOver(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		first := f.hello(t, "", "https://acme.example/?utm_source=news")
		if _, err := f.svc.PageView(ctx, f.ws, first.VisitorID, visitor.Page{URL: "https://acme.example/docs", Title: "Docs"}); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(10 * time.Minute)
		r, err := f.svc.PageView(ctx, f.ws, first.VisitorID, visitor.Page{URL: "https://acme.example/blog?utm_medium=email",
			Referrer: "https://mail.example/"})
		if err != nil || !r.NewSession {
			t.Fatalf("page view %+v, %v", r, err)
		}
		s := f.session(t, r.SessionID)
		if s.LandingURL != "https://acme.example/blog?utm_medium=email" || s.Referrer != "https://mail.example/" ||
			s.Campaign != (visitor.Campaign{Medium: "email"}) || s.TimeZone != "Europe/Berlin" || s.Language != "de-DE" ||
			s.Device != "desktop" || s.UserAgent != uaChromeDesktop || s.Country != "DE" || s.Region != "EMEA" || s.PageViews != 1 {
			t.Fatalf("session by page view %+v", s)
		}
		f.clk.Advance(10 * time.Minute)
		// A fresh server has no memory of the last page: it reads it back.
		other := newService(t, d, f.clk, visitor.Options{})
		r, err = other.Touch(ctx, f.ws, first.VisitorID)
		if err != nil || !r.NewSession {
			t.Fatalf("touch %+v, %v", r, err)
		}
		s = f.session(t, r.SessionID)
		if s.LandingURL != "https://acme.example/blog?utm_medium=email" || s.Referrer != "" || s.Campaign != (visitor.Campaign{}) ||
			s.Country != "DE" || s.PageViews != 0 {
			t.Fatalf("session by touch %+v", s)
		}
		f.flush(t)
		sessions, err := f.svc.Sessions(ctx, f.ws, first.VisitorID, 0)
		if err != nil || len(sessions) != 3 || sessions[0].ID != r.SessionID || sessions[2].ID != first.SessionID ||
			sessions[2].PageViews != 2 || sessions[0].Open != true || sessions[1].Open {
			t.Fatalf("sessions %+v, %v", sessions, err)
		}
	})
}

// TestReplicasAgree runs two servers on one database, as behind a load balancer: requests of one
// visitor alternate between them, and the session rules hold across both.
func TestReplicasAgree(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		a, b := f.svc, newService(t, d, f.clk, visitor.Options{})
		first := f.hello(t, "", "https://acme.example/")
		for m := 1; m <= 8; m++ { // heartbeats on b only
			f.clk.Set(t0.Add(time.Duration(m) * time.Minute))
			if r, err := b.Heartbeat(ctx, f.ws, first.VisitorID); err != nil || r.SessionID != first.SessionID {
				t.Fatalf("heartbeat on b: %+v, %v", r, err)
			}
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// a last saw the visitor at 0:00; at 12:59 its memory says the session ended, but b's
		// heartbeats in the database say it is open.
		f.clk.Set(t0.Add(mmss(12, 59)))
		r, err := a.PageView(ctx, f.ws, first.VisitorID, visitor.Page{URL: "https://acme.example/x"})
		if err != nil || r.SessionID != first.SessionID || r.NewSession {
			t.Fatalf("page view on a: %+v, %v", r, err)
		}
	})
}

func TestWorkspaceScoping(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		other, err := workspace.NewStore(d, f.clk).Create(ctx, d, workspace.New{Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		r := f.hello(t, "", "https://acme.example/")
		notFound := func(what string, err error) {
			t.Helper()
			if !errs.Is(err, errs.NotFound) {
				t.Errorf("%s in another workspace: %v", what, err)
			}
		}
		_, err = f.svc.Get(ctx, other.ID, r.VisitorID)
		notFound("Get", err)
		_, err = f.svc.Sessions(ctx, other.ID, r.VisitorID, 10)
		notFound("Sessions", err)
		_, err = f.svc.SessionByID(ctx, other.ID, r.SessionID)
		notFound("SessionByID", err)
		_, err = f.svc.PageViews(ctx, other.ID, r.SessionID, 10)
		notFound("PageViews", err)
		_, err = f.svc.PageView(ctx, other.ID, r.VisitorID, visitor.Page{URL: "https://acme.example/"})
		notFound("PageView", err)
		_, err = f.svc.Heartbeat(ctx, other.ID, r.VisitorID)
		notFound("Heartbeat", err)
		_, err = f.svc.Leave(ctx, other.ID, r.VisitorID)
		notFound("Leave", err)
		_, err = f.svc.Touch(ctx, other.ID, r.VisitorID)
		notFound("Touch", err)
		notFound("SetConsent", f.svc.SetConsent(ctx, other.ID, r.VisitorID, true))
		_, err = f.svc.Identify(ctx, nil, other.ID, r.VisitorID, "a@b.co")
		notFound("Identify", err)
		_, err = f.svc.Get(ctx, f.ws, "garbage")
		notFound("Get garbage", err)
		_, err = f.svc.SessionByID(ctx, f.ws, "vsn_x")
		notFound("SessionByID garbage", err)
		// Hello with another workspace's visitor makes a visitor of this one.
		h, err := f.svc.Hello(ctx, visitor.HelloInput{WorkspaceID: other.ID, VisitorID: r.VisitorID,
			Page: visitor.Page{URL: "https://other.example/"}, UserAgent: uaChromeDesktop})
		if err != nil || !h.NewVisitor || h.VisitorID == r.VisitorID {
			t.Fatalf("hello in other workspace: %+v, %v", h, err)
		}
		if v, err := f.svc.Get(ctx, other.ID, h.VisitorID); err != nil || v.WorkspaceID != other.ID {
			t.Fatalf("visitor of other workspace: %+v, %v", v, err)
		}
	})
}

func TestConsent(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		r := f.hello(t, "", "https://acme.example/")
		for _, granted := range []bool{true, false} {
			if err := f.svc.SetConsent(ctx, f.ws, r.VisitorID, granted); err != nil {
				t.Fatal(err)
			}
			want := map[bool]string{true: "granted", false: "denied"}[granted]
			if v, _ := f.svc.Get(ctx, f.ws, r.VisitorID); v.Consent != want {
				t.Fatalf("consent %q, want %q", v.Consent, want)
			}
		}
		if err := f.svc.SetConsent(ctx, f.ws, id.New("vis"), true); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown visitor: %v", err)
		}
	})
}

// TestCloseWritesAcknowledgedPageViews is the durability promise: a page view acknowledged
// before a graceful shutdown is in the database after Close, although the writer's interval
// never came round.
func TestCloseWritesAcknowledgedPageViews(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{FlushInterval: time.Hour})
		ran := make(chan error, 1)
		go func() { ran <- f.svc.Run(ctx) }()
		r := f.hello(t, "", "https://acme.example/")
		for i := range 3 {
			f.clk.Advance(time.Second)
			if _, err := f.svc.PageView(ctx, f.ws, r.VisitorID, visitor.Page{URL: fmt.Sprintf("https://acme.example/%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		f.clk.Advance(time.Second)
		if _, err := f.svc.Heartbeat(ctx, f.ws, r.VisitorID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM page_views WHERE session_id = $1`, r.SessionID); n != 4 {
			t.Fatalf("%d page views after Close, want 4", n)
		}
		if s := f.session(t, r.SessionID); s.PageViews != 4 || !s.LastSeenAt.Equal(t0.Add(4*time.Second)) ||
			!s.LastActivityAt.Equal(t0.Add(3*time.Second)) {
			t.Fatalf("session after Close %+v", s)
		}
		if _, err := f.svc.PageView(ctx, f.ws, r.VisitorID, visitor.Page{URL: "https://acme.example/late"}); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("page view after Close: %v", err)
		}
		if _, err := f.svc.Hello(ctx, visitor.HelloInput{WorkspaceID: f.ws, Page: visitor.Page{URL: "https://acme.example/"},
			UserAgent: uaChromeDesktop}); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("hello after Close: %v", err)
		}
		if err := f.svc.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// TestRunWrites checks that the running writer writes on its own: after the flush interval, and at
// once when a batch is full (the interval here never comes round). It waits for the rows without
// timing anything.
func TestRunWrites(t *testing.T) {
	for _, c := range []struct {
		name string
		opts visitor.Options
		n    int
	}{
		{"interval", visitor.Options{FlushInterval: 10 * time.Millisecond}, 1},
		{"full batch", visitor.Options{FlushInterval: time.Hour, BatchSize: 5}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
				ctx, cancel := context.WithCancel(context.Background())
				f := setup(t, d, c.opts)
				ran := make(chan error, 1)
				go func() { ran <- f.svc.Run(ctx) }()
				defer func() {
					cancel()
					<-ran
				}()
				r := f.hello(t, "", "https://acme.example/")
				for i := range c.n {
					if _, err := f.svc.PageView(ctx, f.ws, r.VisitorID, visitor.Page{URL: fmt.Sprintf("https://acme.example/%d", i)}); err != nil {
						t.Fatal(err)
					}
				}
				deadline := time.Now().Add(20 * time.Second)
				for f.count(t, `SELECT COUNT(*) FROM page_views`) != c.n+1 {
					if time.Now().After(deadline) {
						t.Fatal("the writer did not write the page views")
					}
					time.Sleep(5 * time.Millisecond)
				}
				if err := f.svc.Run(ctx); err == nil {
					t.Fatal("a second Run started")
				}
			})
		})
	}
}

// TestQueueIsBounded fills the queue: callers then wait for room — up to their context or the
// enqueue timeout, and get errs.Unavailable — and go on once a write makes room.
func TestQueueIsBounded(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{BatchSize: 2, QueueSize: 2, EnqueueTimeout: time.Minute})
		r := f.hello(t, "", "https://acme.example/")
		pv := func(ctx context.Context, u string) error {
			_, err := f.svc.PageView(ctx, f.ws, r.VisitorID, visitor.Page{URL: "https://acme.example/" + u})
			return err
		}
		for _, u := range []string{"1", "2"} {
			if err := pv(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := pv(short, "dropped"); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("full queue: %v", err)
		}
		waited := make(chan error, 1)
		go func() { waited <- pv(ctx, "3") }()
		f.flush(t)
		if err := <-waited; err != nil {
			t.Fatalf("after a write made room: %v", err)
		}
		f.flush(t)
		if n := f.count(t, `SELECT COUNT(*) FROM page_views`); n != 4 {
			t.Fatalf("%d page views, want 4", n)
		}

		// Close releases a caller waiting for room with errs.Unavailable.
		for _, u := range []string{"4", "5"} {
			if err := pv(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		go func() { waited <- pv(ctx, "6") }()
		if err := f.svc.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-waited; !errs.Is(err, errs.Unavailable) {
			t.Fatalf("waiting at Close: %v", err)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM page_views`); n != 6 {
			t.Fatalf("%d page views after Close, want 6", n)
		}
	})
	// The enqueue timeout applies to callers whose context never ends.
	f := setup(t, testkit.SQLite(t), visitor.Options{BatchSize: 1, QueueSize: 1, EnqueueTimeout: 10 * time.Millisecond})
	r := f.hello(t, "", "https://acme.example/")
	f.svc.Heartbeat(context.Background(), f.ws, r.VisitorID)
	_, err := f.svc.Heartbeat(context.Background(), f.ws, r.VisitorID)
	if e := errs.As(err); e == nil || e.Kind != errs.Unavailable || e.RetryAfter == 0 || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("enqueue timeout: %v", err)
	}
}

// TestConcurrentRequestsStartOneSession sends page views of one visitor at once after its session
// ended, on two servers: one session starts, and every request counts in it.
func TestConcurrentRequestsStartOneSession(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		servers := []*visitor.Service{f.svc, newService(t, d, f.clk, visitor.Options{})}
		first := f.hello(t, "", "https://acme.example/")
		f.clk.Advance(time.Hour)
		const n = 8
		results := make([]visitor.Recorded, n)
		failures := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				results[i], failures[i] = servers[i%2].PageView(ctx, f.ws, first.VisitorID, visitor.Page{URL: fmt.Sprintf("https://acme.example/%d", i)})
			})
		}
		wg.Wait()
		started := 0
		for i, r := range results {
			if failures[i] != nil {
				t.Fatal(failures[i])
			}
			if r.SessionID != results[0].SessionID || r.SessionID == first.SessionID {
				t.Fatalf("results %+v", results)
			}
			if r.NewSession {
				started++
			}
		}
		if started != 1 {
			t.Fatalf("%d requests say they started the session", started)
		}
		for _, s := range servers {
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.count(t, `SELECT COUNT(*) FROM visitor_sessions`); n != 2 {
			t.Fatalf("%d sessions, want 2", n)
		}
		if s := f.session(t, results[0].SessionID); s.PageViews != n {
			t.Fatalf("%d page views counted, want %d", s.PageViews, n)
		}
	})
}

// TestRunWritesTheQueueWhenStopped cancels Run's context with entries queued: Run writes them
// before it returns.
func TestRunWritesTheQueueWhenStopped(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, visitor.Options{FlushInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- f.svc.Run(ctx) }()
		r := f.hello(t, "", "https://acme.example/")
		if _, err := f.svc.PageView(context.Background(), f.ws, r.VisitorID, visitor.Page{URL: "https://acme.example/2"}); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM page_views`); n != 2 {
			t.Fatalf("%d page views, want 2", n)
		}
	})
}

// TestWriterDropsWhatTheDatabaseRefuses makes the database refuse one page view (a trigger): the
// others of its batch are written, and the writer goes on.
func TestWriterDropsWhatTheDatabaseRefuses(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		stmts := []string{`CREATE TRIGGER refuse_poison BEFORE INSERT ON page_views
			WHEN NEW.url LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poison'); END`}
		if d.Engine == db.Postgres {
			stmts = []string{`CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
				BEGIN IF NEW.url LIKE '%poison%' THEN RAISE EXCEPTION 'poison'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER refuse_poison BEFORE INSERT ON page_views FOR EACH ROW EXECUTE FUNCTION refuse_poison()`}
		}
		for _, s := range stmts {
			if _, err := d.ExecContext(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		f := setup(t, d, visitor.Options{})
		r := f.hello(t, "", "https://acme.example/")
		for _, u := range []string{"a", "poison", "b"} {
			if _, err := f.svc.PageView(ctx, f.ws, r.VisitorID, visitor.Page{URL: "https://acme.example/" + u}); err != nil {
				t.Fatal(err)
			}
		}
		f.flush(t)
		if n := f.count(t, `SELECT COUNT(*) FROM page_views`); n != 3 {
			t.Fatalf("%d page views, want 3 (the poisoned one dropped)", n)
		}
		if _, err := f.svc.PageView(ctx, f.ws, r.VisitorID, visitor.Page{URL: "https://acme.example/c"}); err != nil {
			t.Fatal(err)
		}
		f.flush(t)
		if n := f.count(t, `SELECT COUNT(*) FROM page_views`); n != 4 {
			t.Fatalf("%d page views after the next batch, want 4", n)
		}
	})
}

// TestCloseGivesUpWhenTheDatabaseIsGone closes the database under a service with a page view
// queued: Close retries until its context ends, then reports that the entries were lost.
func TestCloseGivesUpWhenTheDatabaseIsGone(t *testing.T) {
	d := testkit.SQLite(t)
	f := setup(t, d, visitor.Options{})
	r := f.hello(t, "", "https://acme.example/")
	if _, err := f.svc.PageView(context.Background(), f.ws, r.VisitorID, visitor.Page{URL: "https://acme.example/2"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := f.svc.Close(ctx); err == nil {
		t.Fatal("Close reported success with the database gone")
	}
}
