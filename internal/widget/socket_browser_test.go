package widget

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/beckonhq/beckon/internal/testkit"
)

// TestSocketInBrowser runs the messenger against the fake's visitor socket (docs/REALTIME.md):
// sending with acknowledgements, replies pushed, typing and read receipts both ways, reconnects
// that lose and repeat nothing, a conversation a rep starts, links, and the end of a
// conversation. The HTTP fallback is proven by TestMessengerInBrowser, whose sites' socket
// answers 404.
func TestSocketInBrowser(t *testing.T) {
	ctx := testkit.Browser(t)
	f := newFakeBeckon(t)
	host := newHostSite(t, f.srv.URL)
	f.origin = host.origin
	f.site(siteLive, map[string]any{"color": brand, "position": "right", "launcher_text": "", "title": "Acme",
		"greeting": "Hi! Ask us anything.", "cookie_days": 30})
	f.set(func() { f.live[siteLive] = true })

	t.Run("conversation", func(t *testing.T) { testSocketChat(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), f, host) })
	t.Run("rep starts", func(t *testing.T) { testRepStarts(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), f, host) })
	t.Run("old CSP", func(t *testing.T) { testOldCSP(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), f, host) })
	t.Run("forbidden", func(t *testing.T) { testForbidden(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), f, host) })
}

// testForbidden: the socket closes with 4003 after the auth frame. The messenger does not try
// again, and chats over HTTP.
func testForbidden(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	f.set(func() { f.forbid = true })
	defer f.set(func() { f.forbid = false })
	sockets, posts := f.socketsOf(siteLive), len(f.log("messages"))
	b.Do("open the page", chromedp.Navigate(host.origin+"/live"))
	testkit.Eventually(t, "the socket", func() bool { return f.socketsOf(siteLive) == sockets+1 })
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	b.Send("Hello over HTTP")
	testkit.Eventually(t, "the post", func() bool { return len(f.log("messages")) == posts+1 })
	testkit.Eventually(t, "sent", func() bool { return !strings.Contains(b.Text(".bk-list"), "Sending") })
	time.Sleep(1500 * time.Millisecond) // longer than the first backoff: no second attempt may come
	if n := f.socketsOf(siteLive); n != sockets+1 {
		t.Errorf("%d socket attempts after 4003, want 1", n-sockets)
	}
	if errs, _ := b.Console(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// testOldCSP: a page whose Content Security Policy predates the socket (connect-src allows the
// Beckon server's https URL, not its wss one). The browser refuses the socket; the messenger
// chats over HTTP at once, without retrying what cannot work.
func testOldCSP(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	sockets, posts := f.socketsOf(siteLive), len(f.log("messages"))
	b.Do("open the page", chromedp.Navigate(host.origin+"/live-oldcsp"))
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	b.Send("Hello over HTTP")
	testkit.Eventually(t, "the post", func() bool { return len(f.log("messages")) == posts+1 })
	testkit.Eventually(t, "sent", func() bool { return !strings.Contains(b.Text(".bk-list"), "Sending") })
	if n := f.socketsOf(siteLive); n != sockets {
		t.Errorf("%d socket requests reached the server", n-sockets)
	}
	if v := testkit.Eval[[]string](b, `window.violations`); len(v) != 1 || !strings.HasPrefix(v[0], "connect-src ws://") {
		t.Errorf("CSP violations %q, want the one refused socket", v)
	}
	if errs, _ := b.Console(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// count returns how many times s appears in the messenger's message list.
func count(b *testkit.Tab, s string) int {
	return strings.Count(b.Text(".bk-list"), s)
}

// lastText returns the text of sel inside the last row of class row ("bk-me", "bk-them").
func lastText(b *testkit.Tab, row, sel string) string {
	return testkit.MessengerJS[string](b, ".bk-list", `function(){
		const r = this.querySelectorAll('.`+row+`'), e = r.length ? r[r.length-1].querySelector('`+sel+`') : null;
		return e ? e.textContent : '' }`)
}

// waitSocket waits for the tab's socket on the live site and returns its visitor and token.
func waitSocket(t *testing.T, f *fakeBeckon, not string) (visitor, token string) {
	t.Helper()
	testkit.Eventually(t, "the socket", func() bool {
		visitor, token = f.connected(siteLive)
		return visitor != "" && token != not
	})
	return visitor, token
}

func testSocketChat(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	b.Do("open the page", chromedp.Navigate(host.origin+"/live"))
	b.Visible(".bk-launcher")
	visitor, tok := waitSocket(t, f, "")
	if h := f.log("hello"); len(h) == 0 || !strings.HasPrefix(tok, "bkv1.") {
		t.Fatalf("socket token %q after %d hellos", tok, len(h))
	}
	posts := len(f.log("messages"))

	// Send → ack → shown once, over the socket only.
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	b.Send("Hello over the socket")
	testkit.Eventually(t, "the ack", func() bool {
		return len(f.sent(visitor, "send")) == 1 && !strings.Contains(b.Text(".bk-list"), "Sending")
	})
	conv := f.convOf(visitor)
	send := f.sent(visitor, "send")[0]
	if id, _ := send["id"].(string); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) || send["text"] != "Hello over the socket" || send["conv"] != nil {
		t.Errorf("send frame %v", send)
	}
	if got := f.messages(conv); strings.Join(got, "|") != "Hello over the socket" {
		t.Errorf("stored %q", got)
	}
	if n := len(f.log("messages")); n != posts {
		t.Errorf("%d HTTP message calls with a working socket", n-posts)
	}
	// It follows the conversation it started, from its beginning; its own message's echo is
	// announced to the page once, and the conversation counted as started once.
	testkit.Eventually(t, "the subscription", func() bool {
		s := f.sent(visitor, "sub")
		return len(s) == 1 && s[0]["conv"] == conv && s[0]["after"] == 0.0
	})
	testkit.Eventually(t, "the message event", func() bool {
		return strings.Contains(strings.Join(testkit.Eval[[]string](b, `window.seen`), "\n"), "message:visitor:Hello over the socket")
	})
	if n := testkit.MessengerJS[int](b, ".bk-list", `function(){ return this.querySelectorAll('.bk-me').length }`); n != 1 || count(b, "Hello over the socket") != 1 {
		t.Errorf("%d own messages shown, %d times the text", n, count(b, "Hello over the socket"))
	}

	// Typing, from the visitor: on when typing (throttled), off on blur.
	in, opts := b.In(".bk-input")
	b.Do("type", chromedp.SendKeys(in, "Do you", opts...))
	testkit.Eventually(t, "typing on", func() bool {
		ty := f.sent(visitor, "typing")
		return len(ty) == 1 && ty[0]["on"] == true && ty[0]["conv"] == conv
	})
	testkit.MessengerJS[bool](b, ".bk-input", `function(){ this.blur(); this.value = ''; return true }`)
	testkit.Eventually(t, "typing off", func() bool {
		ty := f.sent(visitor, "typing")
		return len(ty) == 2 && ty[1]["on"] == false
	})
	// …and from the rep.
	f.repFrame(conv, map[string]any{"t": "typing", "conv": conv, "author": "rep", "name": "Riley Chen", "on": true})
	b.Visible(".bk-typing")
	if got := b.Text(".bk-typing"); got != "Riley is typing…" {
		t.Errorf("typing indicator %q", got)
	}
	testkit.Screenshot(t, b.Ctx, "messenger-rep-typing")

	// A reply pushed by the server, with links: only http(s) and mailto become anchors, built
	// safely; the rest stays text. The typing indicator goes.
	reply := "Hi! I'm Riley. See https://acme.example/docs?a=1&b=2, not javascript:alert(1) or " +
		"data:text/html,<b>x</b>; write to mailto:sales@acme.example. <img src=x onerror=alert(1)>"
	seq := f.repSay(conv, "Riley Chen", reply)
	testkit.Eventually(t, "the reply", func() bool { return count(b, "I'm Riley") == 1 })
	b.Hidden(".bk-typing")
	links := testkit.MessengerJS[[]string](b, ".bk-list", `function(){
		return Array.from(this.querySelectorAll('a')).map(a => a.getAttribute('href') + ' ' + a.rel + ' ' + a.target + ' ' + a.textContent) }`)
	want := []string{
		"https://acme.example/docs?a=1&b=2 noopener noreferrer nofollow _blank https://acme.example/docs?a=1&b=2",
		"mailto:sales@acme.example noopener noreferrer nofollow _blank mailto:sales@acme.example",
	}
	if strings.Join(links, "\n") != strings.Join(want, "\n") {
		t.Errorf("links:\n%s\nwant:\n%s", strings.Join(links, "\n"), strings.Join(want, "\n"))
	}
	if n := testkit.MessengerJS[int](b, ".bk-list", `function(){ return this.querySelectorAll('img, b').length }`); n != 0 {
		t.Error("a reply was rendered as HTML")
	}
	if got := lastText(b, "bk-them", ".bk-bubble"); !strings.Contains(got, "not javascript:alert(1) or data:text/html,<b>x</b>;") {
		t.Errorf("reply text %q", got)
	}
	if got := lastText(b, "bk-them", ".bk-name"); got != "Riley Chen" {
		t.Errorf("rep name %q", got)
	}
	// Read receipts: the panel is open and visible, so the visitor has read the reply…
	testkit.Eventually(t, "the read receipt", func() bool {
		r := f.sent(visitor, "read")
		return len(r) == 1 && r[0]["conv"] == conv && r[0]["seq"] == float64(seq)
	})
	// …and the rep has read the visitor's message.
	f.repFrame(conv, map[string]any{"t": "read", "conv": conv, "author": "rep", "seq": seq})
	testkit.Eventually(t, "Seen", func() bool { return lastText(b, "bk-me", ".bk-status") == "Seen" })
	testkit.Screenshot(t, b.Ctx, "messenger-socket-conversation")

	// The server drops the socket; a reply stored meanwhile arrives after the reconnect, which
	// subscribes after the last seq seen; nothing shows twice.
	f.drop(visitor)
	seq2 := f.repSay(conv, "Riley Chen", "Are you still there?")
	testkit.Eventually(t, "the reply sent while away", func() bool { return count(b, "Are you still there?") == 1 })
	subs := f.sent(visitor, "sub")
	if s := subs[len(subs)-1]; len(subs) != 2 || s["conv"] != conv || s["after"] != float64(seq) {
		t.Errorf("subscriptions %v, want the second after=%d", subs, seq)
	}
	// A message whose ack was lost goes again after the reconnect, with the same id: stored once.
	f.set(func() { f.dropOnSend = 1 })
	b.Send("Can I get a demo?")
	testkit.Eventually(t, "the resent message acknowledged", func() bool {
		return len(f.sent(visitor, "send")) == 3 && !strings.Contains(b.Text(".bk-list"), "Sending")
	})
	sends := f.sent(visitor, "send")
	if sends[1]["id"] != sends[2]["id"] || sends[2]["text"] != "Can I get a demo?" {
		t.Errorf("resent %v, then %v", sends[1], sends[2])
	}
	if subs := f.sent(visitor, "sub"); len(subs) != 3 || subs[2]["after"] != float64(seq2) {
		t.Errorf("subscriptions %v, want the third after=%d", subs, seq2)
	}
	// A server going away (1001): reconnected, resubscribed from the last seq.
	f.goAway(visitor)
	testkit.Eventually(t, "the resubscription after 1001", func() bool { return len(f.sent(visitor, "sub")) == 4 })
	if s, n := f.sent(visitor, "sub")[3], len(f.messages(conv)); s["after"] != float64(n) {
		t.Errorf("subscription after 1001: %v, want after=%d (all had arrived)", s, n)
	}
	// A message over the rate limit says so and goes again by itself.
	f.set(func() { f.refuseSend = "too_many_requests" })
	b.Send("Slow down?")
	testkit.Eventually(t, "the retry status", func() bool { return strings.Contains(b.Text(".bk-list"), "Not delivered yet. Retrying") })
	testkit.Eventually(t, "sent after the limit", func() bool {
		txt := b.Text(".bk-list")
		return len(f.sent(visitor, "send")) == 5 && !strings.Contains(txt, "Retrying") && !strings.Contains(txt, "Sending")
	})
	// A refused message shows why, with a retry.
	f.set(func() { f.refuseSend = "invalid" })
	b.Send("Tuesday works")
	testkit.Eventually(t, "the refusal", func() bool { return strings.Contains(b.Text(".bk-list"), "Not sent: the message was refused") })
	testkit.Screenshot(t, b.Ctx, "messenger-send-refused")
	b.Click(".bk-retry")
	testkit.Eventually(t, "the retry", func() bool {
		txt := b.Text(".bk-list")
		return !strings.Contains(txt, "Not sent") && !strings.Contains(txt, "Sending") && len(f.sent(visitor, "send")) == 7
	})
	// The echo of a message may come before its ack: still once.
	f.set(func() { f.echoFirst = true })
	b.Send("Echo first")
	testkit.Eventually(t, "the echoed message", func() bool {
		return len(f.sent(visitor, "send")) == 8 && !strings.Contains(b.Text(".bk-list"), "Sending")
	})
	f.set(func() { f.echoFirst = false })
	wantStored := []string{"Hello over the socket", reply, "Are you still there?", "Can I get a demo?", "Slow down?", "Tuesday works", "Echo first"}
	if got := f.messages(conv); strings.Join(got, "\n") != strings.Join(wantStored, "\n") {
		t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantStored, "\n"))
	}
	for _, s := range []string{"Hello over the socket", "I'm Riley", "Are you still there?", "Can I get a demo?", "Slow down?", "Tuesday works", "Echo first"} {
		if n := count(b, s); n != 1 {
			t.Errorf("%q shows %d times", s, n)
		}
	}
	var events []string
	for _, e := range testkit.Eval[[]string](b, `window.seen`) {
		if strings.HasPrefix(e, "message:") {
			events = append(events, e[:min(len(e), 40)])
		}
	}
	wantEvents := []string{"message:visitor:Hello over the socket", "message:rep:" + reply[:28], "message:rep:Are you still there?",
		"message:visitor:Can I get a demo?", "message:visitor:Slow down?", "message:visitor:Tuesday works", "message:visitor:Echo first"}
	if strings.Join(events, "\n") != strings.Join(wantEvents, "\n") {
		t.Errorf("message events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(wantEvents, "\n"))
	}
	if got := testkit.Eval[string](b, `JSON.stringify(window.dataLayer)`); got != `[{"event":"ga_event","category":"Beckon","action":"Conversation Started"}]` {
		t.Errorf("dataLayer %s", got)
	}

	// The rep closes the conversation: the end shows, the transcript can be emailed, and the
	// next message starts a new conversation.
	f.closeConv(conv, "Riley Chen")
	testkit.Eventually(t, "the end", func() bool { return strings.Contains(b.Text(".bk-list"), "This conversation has ended") })
	if count(b, "Riley Chen closed the conversation") != 1 {
		t.Error("no system line for the closing")
	}
	b.Click(".bk-end .bk-link")
	mail, mopts := b.In(".bk-email")
	b.Do("email", chromedp.SendKeys(mail, "ada@acme.example"+kb.Enter, mopts...))
	testkit.Eventually(t, "the transcript", func() bool {
		return strings.Contains(b.Text(".bk-list"), "We'll email the transcript to ada@acme.example.")
	})
	f.mu.Lock()
	tr := f.transcripts
	f.mu.Unlock()
	if len(tr) != 1 || tr[0]["conversation_id"] != conv || tr[0]["email"] != "ada@acme.example" {
		t.Errorf("transcript requests %v", tr)
	}
	testkit.Screenshot(t, b.Ctx, "messenger-conversation-ended")
	b.Send("One more question")
	testkit.Eventually(t, "a new conversation", func() bool { return f.convOf(visitor) != conv && !strings.Contains(b.Text(".bk-list"), "Sending") })
	if s := f.sent(visitor, "send"); s[len(s)-1]["conv"] != nil {
		t.Errorf("the message after the end named a conversation: %v", s[len(s)-1])
	}
	if got := f.messages(f.convOf(visitor)); strings.Join(got, "|") != "One more question" {
		t.Errorf("new conversation holds %q", got)
	}

	// A refused token on reconnect (4001): hello again for a fresh token, then the socket.
	hellos := len(f.log("hello"))
	f.revoke()
	f.drop(visitor)
	_, tok2 := waitSocket(t, f, tok)
	if n := len(f.log("hello")); n != hellos+1 || f.log("hello")[hellos].Body["visitor_token"] != nil {
		t.Errorf("%d hellos after a refused socket token, want %d", n, hellos+1)
	}
	if !strings.HasPrefix(tok2, "bkv1.") {
		t.Errorf("new socket token %q", tok2)
	}

	if errs, _ := b.Console(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
	if v := testkit.Eval[[]string](b, `window.violations`); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

// testRepStarts: a rep starts a conversation from Live View while the panel is closed. The
// message waits in the panel, the launcher counts it, and opening shows and reads it.
func testRepStarts(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	b.Do("open the page", chromedp.Navigate(host.origin+"/live"))
	b.Visible(".bk-launcher")
	visitor, _ := waitSocket(t, f, "")
	conv := f.repStart(visitor, "Riley Chen", "Hi there! Any questions about our plans?")
	badge := `function(){ return this.hidden ? '' : this.textContent }`
	testkit.Eventually(t, "the badge", func() bool { return testkit.MessengerJS[string](b, ".bk-badge", badge) == "1" })
	if got := testkit.MessengerJS[string](b, ".bk-launcher", `function(){ return this.getAttribute('aria-label') }`); got != "Open chat, 1 unread" {
		t.Errorf("launcher label %q", got)
	}
	if s := f.sent(visitor, "sub"); len(s) != 1 || s[0]["conv"] != conv || s[0]["after"] != 0.0 {
		t.Errorf("subscriptions %v", s)
	}
	if r := f.sent(visitor, "read"); len(r) != 0 {
		t.Errorf("read with the panel closed: %v", r)
	}
	testkit.Screenshot(t, b.Ctx, "messenger-unread-badge")
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	if got := lastText(b, "bk-them", ".bk-name") + ": " + lastText(b, "bk-them", ".bk-bubble"); got != "Riley Chen: Riley Chen: Hi there! Any questions about our plans?" {
		t.Errorf("the rep's message: %q", got)
	}
	b.Hidden(".bk-badge")
	testkit.Eventually(t, "the read receipt", func() bool {
		r := f.sent(visitor, "read")
		return len(r) == 1 && r[0]["conv"] == conv && r[0]["seq"] == 1.0
	})
	testkit.Screenshot(t, b.Ctx, "messenger-rep-started")
	b.Send("Yes: do you have SSO?")
	testkit.Eventually(t, "the answer", func() bool { return len(f.messages(conv)) == 2 })
	if s := f.sent(visitor, "send"); len(s) != 1 || s[0]["conv"] != conv {
		t.Errorf("send frames %v", s)
	}
	if errs, _ := b.Console(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
