package web

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// TestConsoleInBrowser drives the console in a real Chromium: log in, invite a teammate, upload
// a photo, and activate the invitation in a private window. It saves screenshots of the key
// screens (BECKON_SCREENSHOTS names their folder).
func TestConsoleInBrowser(t *testing.T) {
	ctx := testkit.Browser(t)
	h := newHarness(t, testkit.SQLite(t))
	base := h.srv.URL
	do := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	// submit clicks a form's submit button and waits until the page it leads to has loaded.
	submit := func(ctx context.Context, what, button string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(button)))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	location := func(ctx context.Context) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(s, base)
	}

	// Log in: a wrong password first, then the right one.
	do(ctx, "open login", chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.ID("email")))
	testkit.Screenshot(t, ctx, "console-login")
	do(ctx, "wrong password",
		chromedp.SendKeys(chromedp.ID("email"), "admin@acme.example"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"))
	submit(ctx, "wrong password", `main button[type="submit"]`)
	if got := text(ctx, ".notice.error"); got != "Wrong email or password." {
		t.Errorf("login error %q", got)
	}
	testkit.Screenshot(t, ctx, "console-login-error")
	do(ctx, "password", chromedp.SendKeys(chromedp.ID("password"), adminPassword))
	submit(ctx, "log in", `main button[type="submit"]`)
	if loc := location(ctx); loc != "/users" {
		t.Errorf("after login at %s, want /users (the page asked for)", loc)
	}
	submit(ctx, "home", `a.brand`)
	if got := text(ctx, "h1"); got != "Welcome, Ada" {
		t.Errorf("home heading %q", got)
	}
	testkit.Screenshot(t, ctx, "console-home")

	// Invite a teammate from the users page.
	submit(ctx, "users", `nav a[href="/users"]`)
	do(ctx, "invite",
		chromedp.SendKeys(chromedp.ID("invite-email"), "bea@acme.example"),
		chromedp.SendKeys(chromedp.ID("invite-first"), "Bea"),
		chromedp.SendKeys(chromedp.ID("invite-last"), "Bell"),
		chromedp.SetValue(chromedp.ID("invite-role"), "meetings_only"))
	submit(ctx, "invite", `.invite-form button[type="submit"]`)
	if got := text(ctx, ".notice.success"); !strings.HasPrefix(got, "Invitation sent.") {
		t.Errorf("after invite %q", got)
	}
	row := text(ctx, "table.users tbody tr:last-child")
	for _, want := range []string{"Bea Bell", "bea@acme.example", "Invited"} {
		if !strings.Contains(row, want) {
			t.Errorf("the new row %q lacks %q", row, want)
		}
	}
	testkit.Screenshot(t, ctx, "console-users")

	// The profile, with a photo.
	pic := filepath.Join(t.TempDir(), "ada.png")
	if err := os.WriteFile(pic, portraitPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	submit(ctx, "profile", `nav a[href="/settings/profile"]`)
	do(ctx, "choose photo", chromedp.SetUploadFiles(chromedp.ID("photo"), []string{pic}))
	submit(ctx, "upload photo", `form[action="/settings/photo"] button[type="submit"]`)
	if got := text(ctx, ".notice.success"); got != "Your photo is updated." {
		t.Errorf("after upload %q", got)
	}
	do(ctx, "profile details",
		chromedp.SendKeys(chromedp.ID("job_title"), "Head of Sales"),
		chromedp.SetValue(chromedp.ID("time_zone"), "Europe/Berlin"))
	submit(ctx, "save profile", `form[action="/settings/profile"] button[type="submit"]`)
	if got := text(ctx, ".notice.success"); got != "Your profile is saved." {
		t.Errorf("after save %q", got)
	}
	if u, _ := h.id.GetUser(context.Background(), h.ws.ID, h.admin.ID); u.JobTitle != "Head of Sales" || u.TimeZone != "Europe/Berlin" || !u.HasPhoto {
		t.Errorf("profile not saved: %+v", u)
	}
	testkit.Screenshot(t, ctx, "console-profile")

	// Bea activates her account in a private window and lands logged in.
	link := lastActivationPath(t, h, "bea@acme.example")
	bea := testkit.BrowserContext(t, ctx)
	do(bea, "activation page", chromedp.Navigate(base+link), chromedp.WaitVisible(chromedp.ID("password")))
	if got := text(bea, "h1"); got != "Join Acme" {
		t.Errorf("activation heading %q", got)
	}
	testkit.Screenshot(t, bea, "console-activate")
	do(bea, "passwords",
		chromedp.SendKeys(chromedp.ID("password"), "bea password 1"),
		chromedp.SendKeys(chromedp.ID("confirm_password"), "bea password 1"))
	submit(bea, "activate", `main button[type="submit"]`)
	if got := text(bea, "h1"); got != "Welcome, Bea" {
		t.Errorf("after activation %q", got)
	}
	if loc := location(bea); loc != "/" {
		t.Errorf("after activation at %s", loc)
	}
	testkit.Screenshot(t, bea, "console-home-bea")
	// Bea also works for Globex, with the same password: logging in asks which workspace.
	globex, err := h.wss.Create(context.Background(), h.d, workspace.New{Name: "Globex", TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.id.CreateUser(context.Background(), h.d, identity.NewUser{WorkspaceID: globex.ID, Email: "bea@acme.example",
		Role: identity.RoleRep, FirstName: "Bea", LastName: "Bell", Password: "bea password 1"}); err != nil {
		t.Fatal(err)
	}
	bea2 := testkit.BrowserContext(t, ctx)
	do(bea2, "login page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "bea@acme.example"),
		chromedp.SendKeys(chromedp.ID("password"), "bea password 1"))
	submit(bea2, "log in", `main button[type="submit"]`)
	if got := text(bea2, "h1"); got != "Choose a workspace" {
		t.Fatalf("login with two workspaces: %q", got)
	}
	testkit.Screenshot(t, bea2, "console-login-choose")
	do(bea2, "choose Globex", chromedp.Click(chromedp.CSS(`input[value="`+globex.ID+`"]`)))
	submit(bea2, "continue", `main button[type="submit"]`)
	if got := text(bea2, ".workspace"); got != "Globex" {
		t.Errorf("logged in to %q, want Globex", got)
	}

	// The admin's window is still Ada's: the private window shares no cookies.
	do(ctx, "admin again", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(".tiles")))
	if got := text(ctx, "h1"); got != "Welcome, Ada" {
		t.Errorf("admin window %q", got)
	}
	do(ctx, "not found", chromedp.Navigate(base+"/no/such/page"), chromedp.WaitVisible(chromedp.CSS(".error-page")))
	testkit.Screenshot(t, ctx, "console-not-found")

	// The users page in the dark scheme.
	dark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	})
	do(ctx, "dark users", dark, chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.ID("invite-email")))
	testkit.Screenshot(t, ctx, "console-users-dark")
	do(ctx, "narrow users", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("invite-email")))
	testkit.Screenshot(t, ctx, "console-users-narrow")
}

// portraitPNG draws a soft gradient disc, a stand-in for a profile photo.
func portraitPNG(t *testing.T) []byte {
	t.Helper()
	const n = 160
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			d := math.Hypot(float64(x-n/2), float64(y-n/3)) / n
			c := color.RGBA{R: uint8(90 + 80*float64(y)/n), G: uint8(120 + 60*float64(x)/n), B: 200, A: 255}
			if d < 0.2 {
				c = color.RGBA{R: 245, G: 214, B: 186, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
