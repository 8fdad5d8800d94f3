package identity_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// outbox records queued emails; it writes nothing, so a rolled-back transaction is the caller's
// concern (the email package's Outbox enqueues a job in the transaction).
type outbox struct {
	mu   sync.Mutex
	msgs []email.Message
}

func (o *outbox) Queue(_ context.Context, _ db.Queryer, _ string, m email.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

type fixture struct {
	svc   *identity.Service
	clk   *clock.Fake
	mail  *outbox
	ws    *workspace.Workspace
	admin *identity.User
	d     *db.DB
}

func setup(t *testing.T, d *db.DB) *fixture {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC))
	wss := workspace.NewStore(d, clk)
	ws, err := wss.Create(ctx, d, workspace.New{Name: "Acme", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	mail := &outbox{}
	svc := identity.NewService(d, clk, mail, identity.Options{BaseURL: "https://chat.acme.example", Hash: identity.TestHashParams})
	admin, err := svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: ws.ID, Email: "Ada@Acme.example", Role: identity.RoleAdmin,
		FirstName: "Ada", LastName: "Admin", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, clk: clk, mail: mail, ws: ws, admin: admin, d: d}
}

func TestInviteActivateLogin(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		if f.admin.Email != "ada@acme.example" || f.admin.TimeZone != "Europe/Berlin" || f.admin.Status != "active" {
			t.Fatalf("admin %+v", f.admin)
		}
		u, link, err := f.svc.Invite(ctx, f.admin, identity.InviteInput{Email: "rep@acme.example", Role: "rep", FirstName: "<b>Rae</b>"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != "invited" || !strings.HasPrefix(link, "https://chat.acme.example/activate/inv_") {
			t.Fatalf("invited %+v link %q", u, link)
		}
		if len(f.mail.msgs) != 1 || f.mail.msgs[0].To[0] != "rep@acme.example" || !strings.Contains(f.mail.msgs[0].Text, link) {
			t.Fatalf("invite email %+v", f.mail.msgs)
		}
		if _, _, err := f.svc.Invite(ctx, f.admin, identity.InviteInput{Email: "REP@acme.example"}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate invite: %v", err)
		}
		// Not activated yet: cannot log in.
		if _, _, err := f.svc.Login(ctx, identity.LoginInput{Email: "rep@acme.example", Password: "anything at all"}); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("login before activation: %v", err)
		}
		// Resending voids the old link.
		link2, err := f.svc.ResendInvite(ctx, f.admin, u.ID)
		if err != nil || link2 == link {
			t.Fatalf("resend: %q %v", link2, err)
		}
		old := strings.TrimPrefix(link, "https://chat.acme.example/activate/")
		tok := strings.TrimPrefix(link2, "https://chat.acme.example/activate/")
		if _, err := f.svc.Activate(ctx, old, "a fine password"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("old link after resend: %v", err)
		}
		if _, err := f.svc.Activate(ctx, tok, "short"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("weak password: %v", err)
		}
		inv, err := f.svc.InvitationByToken(ctx, tok)
		if err != nil || inv.WorkspaceName != "Acme" || inv.User.ID != u.ID {
			t.Fatalf("invitation: %+v %v", inv, err)
		}
		act, err := f.svc.Activate(ctx, tok, "a fine password")
		if err != nil || act.Status != "active" {
			t.Fatalf("activate: %+v %v", act, err)
		}
		if _, err := f.svc.Activate(ctx, tok, "a fine password"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("link reused: %v", err)
		}
		sess, token, err := f.svc.Login(ctx, identity.LoginInput{Email: " Rep@Acme.example ", Password: "a fine password"})
		if err != nil || sess.UserID != u.ID {
			t.Fatalf("login: %v", err)
		}
		p, err := f.svc.AuthenticateSession(ctx, token)
		if err != nil || p.User.ID != u.ID || p.WorkspaceID() != f.ws.ID {
			t.Fatalf("session: %+v %v", p, err)
		}
		if err := f.svc.Logout(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AuthenticateSession(ctx, token); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("after logout: %v", err)
		}
	})
}

func TestInviteExpires(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		_, link, err := f.svc.Invite(ctx, f.admin, identity.InviteInput{Email: "late@acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		tok := link[strings.LastIndex(link, "/")+1:]
		f.clk.Advance(7*24*time.Hour - time.Second)
		if _, err := f.svc.InvitationByToken(ctx, tok); err != nil {
			t.Fatalf("a second before expiry: %v", err)
		}
		f.clk.Advance(time.Second)
		if _, err := f.svc.Activate(ctx, tok, "a fine password"); !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("at expiry: %v", err)
		}
	})
}

func TestLockout(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		try := func(pw string) error {
			_, _, err := f.svc.Login(ctx, identity.LoginInput{Email: "ada@acme.example", Password: pw})
			return err
		}
		for i := 0; i < 5; i++ {
			if err := try("wrong password"); !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("failure %d: %v", i, err)
			}
		}
		// Locked now, even with the right password.
		err := try("correct horse battery")
		if e := errs.As(err); e == nil || e.Kind != errs.TooMany || e.RetryAfter < 29 {
			t.Fatalf("locked: %v", err)
		}
		f.clk.Advance(31 * time.Second)
		if err := try("wrong again"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("after lock: %v", err)
		}
		// The sixth failure doubles the lock.
		if e := errs.As(try("correct horse battery")); e == nil || e.RetryAfter < 59 {
			t.Fatalf("doubled lock: %v", e)
		}
		f.clk.Advance(61 * time.Second)
		if err := try("correct horse battery"); err != nil {
			t.Fatalf("after backoff: %v", err)
		}
		// Success resets the counter: four failures do not lock.
		for i := 0; i < 4; i++ {
			try("wrong")
		}
		if err := try("correct horse battery"); err != nil {
			t.Fatalf("counter not reset: %v", err)
		}
	})
}

func TestLoginSeveralWorkspaces(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		ws2, _ := workspace.NewStore(d, f.clk).Create(ctx, d, workspace.New{Name: "Beta"})
		if _, err := f.svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: ws2.ID, Email: "ada@acme.example", Role: identity.RoleRep, Password: "correct horse battery"}); err != nil {
			t.Fatal(err)
		}
		_, _, err := f.svc.Login(ctx, identity.LoginInput{Email: "ada@acme.example", Password: "correct horse battery"})
		amb, ok := err.(*identity.AmbiguousLoginError)
		if !ok || len(amb.Choices) != 2 {
			t.Fatalf("want ambiguity, got %v", err)
		}
		s, _, err := f.svc.Login(ctx, identity.LoginInput{Email: "ada@acme.example", Password: "correct horse battery", WorkspaceID: ws2.ID})
		if err != nil || s.WorkspaceID != ws2.ID {
			t.Fatalf("chosen workspace: %v", err)
		}
	})
}

func TestDeactivateRevokesEverything(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		rep, err := f.svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: f.ws.ID, Email: "rep@acme.example", Role: identity.RoleRep, Password: "rep password 1"})
		if err != nil {
			t.Fatal(err)
		}
		_, sessTok, _ := f.svc.Login(ctx, identity.LoginInput{Email: "rep@acme.example", Password: "rep password 1"})
		_, apiTok, err := f.svc.CreateToken(ctx, &identity.Principal{User: rep}, identity.TokenInput{Name: "ci", Scopes: []string{"users:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Deactivate(ctx, rep, rep.ID); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("rep deactivating: %v", err)
		}
		if _, err := f.svc.Deactivate(ctx, f.admin, f.admin.ID); !errs.Is(err, errs.Conflict) {
			t.Fatalf("last admin: %v", err)
		}
		u, err := f.svc.Deactivate(ctx, f.admin, rep.ID)
		if err != nil || u.Active || u.Status != "deactivated" {
			t.Fatalf("deactivate: %+v %v", u, err)
		}
		if _, err := f.svc.AuthenticateSession(ctx, sessTok); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("session survived: %v", err)
		}
		if _, err := f.svc.AuthenticateToken(ctx, apiTok); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("token survived: %v", err)
		}
		if _, _, err := f.svc.Login(ctx, identity.LoginInput{Email: "rep@acme.example", Password: "rep password 1"}); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("login after deactivation: %v", err)
		}
		if _, err := f.svc.Reactivate(ctx, f.admin, rep.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AuthenticateToken(ctx, apiTok); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("revoked token came back with reactivation: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		rep, _ := f.svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: f.ws.ID, Email: "rep@acme.example", Role: identity.RoleRep, Password: "rep password 1"})
		for _, tc := range []struct {
			owner  *identity.User
			in     identity.TokenInput
			kind   errs.Kind
			wantOK bool
		}{
			{f.admin, identity.TokenInput{Name: "all", Scopes: []string{"users:write", "jobs:read"}}, 0, true},
			{rep, identity.TokenInput{Name: "mine", Scopes: []string{"users:read"}}, 0, true},
			{rep, identity.TokenInput{Name: "too much", Scopes: []string{"users:write"}}, errs.Forbidden, false},
			{f.admin, identity.TokenInput{Name: "", Scopes: []string{"users:read"}}, errs.Invalid, false},
			{f.admin, identity.TokenInput{Name: "x", Scopes: []string{"root"}}, errs.Invalid, false},
			{f.admin, identity.TokenInput{Name: "x", Scopes: nil}, errs.Invalid, false},
			{f.admin, identity.TokenInput{Name: "x", Scopes: []string{"users:read"}, ExpiresAt: f.clk.Now().Add(-time.Hour)}, errs.Invalid, false},
		} {
			_, _, err := f.svc.CreateToken(ctx, &identity.Principal{User: tc.owner}, tc.in)
			if tc.wantOK != (err == nil) || (!tc.wantOK && !errs.Is(err, tc.kind)) {
				t.Errorf("CreateToken(%s, %+v) = %v", tc.owner.Role, tc.in, err)
			}
		}
		tok, secret, err := f.svc.CreateToken(ctx, &identity.Principal{User: f.admin}, identity.TokenInput{Name: "expiring", Scopes: []string{"users:read"}, ExpiresAt: f.clk.Now().Add(time.Hour)})
		if err != nil || !strings.HasPrefix(secret, tok.Prefix) {
			t.Fatal(err)
		}
		p, err := f.svc.AuthenticateToken(ctx, secret)
		if err != nil || !p.Can(identity.ScopeUsersRead) || p.Can(identity.ScopeUsersWrite) {
			t.Fatalf("token principal: %v", err)
		}
		f.clk.Advance(time.Hour)
		if _, err := f.svc.AuthenticateToken(ctx, secret); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("expired token: %v", err)
		}
		// A rep sees only their own tokens and cannot revoke the admin's.
		mine, _ := f.svc.ListTokens(ctx, rep)
		all, _ := f.svc.ListTokens(ctx, f.admin)
		if len(mine) != 1 || len(all) != 3 {
			t.Fatalf("list: rep %d admin %d", len(mine), len(all))
		}
		if err := f.svc.RevokeToken(ctx, rep, tok.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("rep revoking admin token: %v", err)
		}
		// A token never exceeds its user's current role.
		_, adminSecret, _ := f.svc.CreateToken(ctx, &identity.Principal{User: f.admin}, identity.TokenInput{Name: "w", Scopes: []string{"users:write"}})
		second, _ := f.svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: f.ws.ID, Email: "boss@acme.example", Role: identity.RoleAdmin, Password: "boss password"})
		if _, err := f.svc.UpdateUser(ctx, second, f.admin.ID, identity.UserPatch{Role: ptr("rep")}); err != nil {
			t.Fatal(err)
		}
		p, _ = f.svc.AuthenticateToken(ctx, adminSecret)
		if p.Can(identity.ScopeUsersWrite) {
			t.Fatal("demoted user's token kept users:write")
		}
	})
}

func TestTenancy(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		ws2, _ := workspace.NewStore(d, f.clk).Create(ctx, d, workspace.New{Name: "Other"})
		other, _ := f.svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: ws2.ID, Email: "x@other.example", Role: identity.RoleRep})
		tok, _, _ := f.svc.CreateToken(ctx, &identity.Principal{User: f.admin}, identity.TokenInput{Name: "a", Scopes: []string{"users:read"}})
		otherAdmin, _ := f.svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: ws2.ID, Email: "admin@other.example", Role: identity.RoleAdmin})
		checks := map[string]error{}
		_, checks["get"] = f.svc.GetUser(ctx, f.ws.ID, other.ID)
		_, checks["update"] = f.svc.UpdateUser(ctx, f.admin, other.ID, identity.UserPatch{FirstName: ptr("pwned")})
		_, checks["deactivate"] = f.svc.Deactivate(ctx, f.admin, other.ID)
		_, checks["resend"] = f.svc.ResendInvite(ctx, f.admin, other.ID)
		checks["photo"] = f.svc.SetPhoto(ctx, f.admin, other.ID, pngBytes(t, 10, 10))
		checks["revoke"] = f.svc.RevokeToken(ctx, otherAdmin, tok.ID)
		checks["garbage id"] = func() error { _, err := f.svc.GetUser(ctx, f.ws.ID, "usr_../../x"); return err }()
		for name, err := range checks {
			if !errs.Is(err, errs.NotFound) {
				t.Errorf("%s across workspaces: %v, want not found", name, err)
			}
		}
		if u, _ := f.svc.GetUser(ctx, ws2.ID, other.ID); u.FirstName != "" || !u.Active {
			t.Fatalf("other workspace's user changed: %+v", u)
		}
	})
}

func TestUpdateUserValidation(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		rep, _ := f.svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: f.ws.ID, Email: "rep@acme.example", Role: identity.RoleRep})
		for _, tc := range []struct {
			actor *identity.User
			p     identity.UserPatch
			kind  errs.Kind
			field string
		}{
			{f.admin, identity.UserPatch{TimeZone: ptr("Nowhere/Land")}, errs.Invalid, "time_zone"},
			{f.admin, identity.UserPatch{Role: ptr("owner")}, errs.Invalid, "role"},
			{f.admin, identity.UserPatch{Phone: ptr("call me maybe")}, errs.Invalid, "phone"},
			{f.admin, identity.UserPatch{FirstName: ptr(strings.Repeat("x", 101))}, errs.Invalid, "first_name"},
			{rep, identity.UserPatch{Role: ptr("admin")}, errs.Forbidden, ""},
		} {
			_, err := f.svc.UpdateUser(ctx, tc.actor, rep.ID, tc.p)
			e := errs.As(err)
			if e == nil || e.Kind != tc.kind || e.Field != tc.field {
				t.Errorf("UpdateUser(%+v) = %v, want %v on %q", tc.p, err, tc.kind, tc.field)
			}
		}
		// Nothing half-written: a bad zone with a good name changes neither.
		f.svc.UpdateUser(ctx, f.admin, rep.ID, identity.UserPatch{FirstName: ptr("Rae"), TimeZone: ptr("bad")})
		if u, _ := f.svc.GetUser(ctx, f.ws.ID, rep.ID); u.FirstName != "" {
			t.Fatal("half-written update")
		}
		u, err := f.svc.UpdateUser(ctx, rep, rep.ID, identity.UserPatch{FirstName: ptr("Rae"), TimeZone: ptr("Asia/Kathmandu"), Phone: ptr("+1 (555) 010-0000")})
		if err != nil || u.FirstName != "Rae" || u.TimeZone != "Asia/Kathmandu" {
			t.Fatalf("self update: %+v %v", u, err)
		}
	})
}

func pngBytes(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPhoto(t *testing.T) {
	var jb bytes.Buffer
	jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	good := pngBytes(t, 16, 16)
	for _, tc := range []struct {
		name string
		data []byte
		kind errs.Kind
		ok   bool
	}{
		{"png", good, 0, true},
		{"jpeg", jb.Bytes(), 0, true},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), errs.Invalid, false},
		{"html named png", []byte("<script>alert(1)</script>"), errs.Invalid, false},
		{"truncated png", good[:len(good)/2], errs.Invalid, false},
		{"too big", append(append([]byte{}, good...), make([]byte, 2<<20)...), errs.TooLarge, false},
		{"empty", nil, errs.Invalid, false},
		{"huge dimensions", pngHeader(100000, 100000), errs.Invalid, false},
	} {
		_, err := identity.CheckPhoto(tc.data)
		if tc.ok != (err == nil) || (!tc.ok && !errs.Is(err, tc.kind)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		if err := f.svc.SetPhoto(ctx, f.admin, f.admin.ID, good); err != nil {
			t.Fatal(err)
		}
		ct, data, _, err := f.svc.Photo(ctx, f.ws.ID, f.admin.ID)
		if err != nil || ct != "image/png" || !bytes.Equal(data, good) {
			t.Fatalf("photo: %s %v", ct, err)
		}
		if u, _ := f.svc.GetUser(ctx, f.ws.ID, f.admin.ID); !u.HasPhoto {
			t.Fatal("has_photo not set")
		}
	})
}

// pngHeader is a PNG signature and IHDR claiming w×h pixels, with no data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	b.Write([]byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h), 8, 2, 0, 0, 0})
	b.Write([]byte{0, 0, 0, 0})
	return b.Bytes()
}

func TestPasswordHash(t *testing.T) {
	h := identity.HashPassword("pässwörd long", identity.TestHashParams)
	if ok, err := identity.VerifyPassword("pässwörd long", h); !ok || err != nil {
		t.Fatal("verify failed")
	}
	if ok, _ := identity.VerifyPassword("password long", h); ok {
		t.Fatal("wrong password verified")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", strings.Replace(h, "m=1024", "m=999999999", 1)} {
		if ok, err := identity.VerifyPassword("x", bad); ok || err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
	_ = id.New
}

func FuzzVerifyPassword(f *testing.F) {
	f.Add("pw", identity.HashPassword("pw", identity.TestHashParams))
	f.Fuzz(func(t *testing.T, pw, hash string) {
		if strings.Contains(hash, "m=") && !strings.Contains(hash, "m=1024,") {
			return // keep the fuzzer off expensive parameters
		}
		identity.VerifyPassword(pw, hash)
	})
}

func ptr[T any](v T) *T { return &v }
