package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/beckonhq/beckon/internal/testkit"
)

// TestNotifyPagesInBrowser drives /settings/alerts and /settings/channels in Chromium: the
// sound previews and the notification permission come alive with alerts.js, without script
// errors, and an admin adds a Slack channel (a double on 127.0.0.1) and sends it a test. It saves
// screenshots of the pages.
func TestNotifyPagesInBrowser(t *testing.T) {
	ctx := testkit.Browser(t)
	h := newHarness(t, testkit.SQLite(t))
	withNotify(t, h, true)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(slack.Close)
	base := h.srv.URL
	tab := testkit.NewTab(t, ctx)
	submit := func(what, button string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(button)))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	tab.Do("login", chromedp.Navigate(base+"/settings/alerts"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "admin@acme.example"), chromedp.SendKeys(chromedp.ID("password"), adminPassword))
	submit("log in", `main button[type="submit"]`)
	tab.Do("alerts page", chromedp.WaitVisible(`button[data-preview="waiting_sound"]`))
	if n := testkit.Eval[int](tab, `document.querySelectorAll("button[data-preview]:not([hidden])").length`); n != 3 {
		t.Errorf("%d sound previews shown, want 3", n)
	}
	if s := testkit.Eval[string](tab, `document.getElementById("notify-state").textContent`); strings.Contains(s, "Turn on JavaScript") || s == "" {
		t.Errorf("notification state %q", s)
	}
	if !testkit.Eval[bool](tab, `typeof window.BeckonSounds.play === "function" && window.BeckonSounds.names.length === 4`) {
		t.Error("window.BeckonSounds is missing")
	}
	tab.Do("play", chromedp.Click(chromedp.CSS(`button[data-preview="waiting_sound"]`)))
	tab.Do("none disables the preview", chromedp.SetValue(chromedp.ID("live_sound"), "none"))
	testkit.Eval[bool](tab, `document.getElementById("live_sound").dispatchEvent(new Event("change"))`)
	if !testkit.Eval[bool](tab, `document.querySelector('button[data-preview="live_sound"]').disabled`) {
		t.Error("the preview of no sound is enabled")
	}
	testkit.Screenshot(t, ctx, "console-alerts")
	tab.Do("choose", chromedp.SetValue(chromedp.ID("waiting_sound"), "bell"))
	submit("save alerts", `form[action="/settings/alerts"] button[type="submit"]`)
	if s := testkit.Eval[string](tab, `document.querySelector(".notice.success") ? document.querySelector(".notice.success").textContent : ""`); s != "Your alert settings are saved." {
		t.Errorf("after saving: %q", s)
	}

	tab.Do("channels page", chromedp.Navigate(base+"/settings/channels"), chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("name"), "#sales"),
		chromedp.SendKeys(chromedp.ID("url"), slack.URL+"/services/T0/B0/abcdWXYZ"),
		chromedp.Click(chromedp.CSS(`[id="event-conversation.waiting"]`)))
	testkit.Screenshot(t, ctx, "console-channels-add")
	submit("add channel", `form[action="/settings/channels"] button[type="submit"]`)
	submit("send a test", `form[action$="/test"] button[type="submit"]`)
	for range 100 {
		tab.Do("reload", chromedp.Reload())
		if testkit.Eval[bool](tab, `document.body.textContent.includes("Delivered")`) {
			break
		}
	}
	if !testkit.Eval[bool](tab, `document.body.textContent.includes("Delivered")`) {
		t.Error("the test was not delivered")
	}
	testkit.Screenshot(t, ctx, "console-channel")
	tab.Do("list", chromedp.Navigate(base+"/settings/channels"), chromedp.WaitVisible(`table.channels`))
	testkit.Screenshot(t, ctx, "console-channels")
	if errs, _ := tab.Console(); len(errs) > 0 {
		t.Errorf("script errors: %q", errs)
	}
}
