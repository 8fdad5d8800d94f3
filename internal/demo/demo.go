// Package demo seeds the demo workspace "Acme" for `beckon demo` and serves the demo customer
// website on a second origin. Seeding is idempotent: a second run over the same data folder reuses
// the workspace, its users, password and API token recorded in demo.json.
package demo

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/workspace"
)

// Info is what demo.json holds, for people and for tests that drive the demo.
type Info struct {
	ConsoleURL    string `json:"console_url"`
	SiteURL       string `json:"site_url"`
	WorkspaceID   string `json:"workspace_id"`
	SiteID        string `json:"site_id"`
	AdminEmail    string `json:"admin_email"`
	AdminPassword string `json:"admin_password"`
	APIToken      string `json:"api_token"`
	// UserPassword is the password of every other demo user.
	Users []SeededUser `json:"users"`
}

// SeededUser is one demo user.
type SeededUser struct {
	Email string        `json:"email"`
	Role  identity.Role `json:"role"`
	Name  string        `json:"name"`
}

// AdminEmail is the demo admin's login.
const AdminEmail = "admin@acme.example"

var people = []struct {
	email, first, last, title, tz string
	role                          identity.Role
}{
	{AdminEmail, "Ada", "Admin", "Head of Revenue Operations", "America/New_York", identity.RoleAdmin},
	{"riley@acme.example", "Riley", "Rivera", "Account Executive", "America/Los_Angeles", identity.RoleRep},
	{"sam@acme.example", "Sam", "Sato", "Sales Development Rep", "Europe/London", identity.RoleRep},
	{"dana@acme.example", "Dana", "Dasgupta", "Account Executive", "Asia/Kolkata", identity.RoleRep},
	{"morgan@acme.example", "Morgan", "Meyer", "Solutions Engineer", "Australia/Adelaide", identity.RoleMeetingsOnly},
}

// Seed makes sure the demo workspace exists with its users, allows siteURL as an origin, and
// writes dataDir/demo.json. All demo users share one password, made at the first run.
func Seed(ctx context.Context, d *db.DB, wss *workspace.Store, ids *identity.Service, dataDir, consoleURL, siteURL string) (*Info, error) {
	path := filepath.Join(dataDir, "demo.json")
	var prev Info
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &prev)
	}
	info := &Info{ConsoleURL: consoleURL, SiteURL: siteURL, AdminEmail: AdminEmail, AdminPassword: prev.AdminPassword}
	if info.AdminPassword == "" {
		info.AdminPassword = password()
	}

	// Find the workspace of an earlier run: from demo.json, else by its admin's email.
	var ws *workspace.Workspace
	if prev.WorkspaceID != "" {
		ws, _ = wss.Get(ctx, prev.WorkspaceID)
	}
	if ws == nil {
		if us, err := ids.UsersByEmail(ctx, AdminEmail); err == nil && len(us) > 0 {
			ws, _ = wss.Get(ctx, us[0].WorkspaceID)
		}
	}
	if ws == nil {
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			ws, err = wss.Create(ctx, tx, workspace.New{Name: "Acme", TimeZone: "America/New_York", AllowedOrigins: []string{siteURL}})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("demo: create workspace: %w", err)
		}
	}
	origins := append([]string{}, ws.AllowedOrigins...)
	has := false
	for _, o := range origins {
		has = has || o == siteURL
	}
	if !has {
		origins = append(origins, siteURL)
		if _, err := wss.Update(ctx, ws.ID, workspace.Patch{AllowedOrigins: &origins}); err != nil {
			return nil, fmt.Errorf("demo: allow %s: %w", siteURL, err)
		}
	}
	info.WorkspaceID, info.SiteID = ws.ID, ws.SiteID

	var admin *identity.User
	for _, p := range people {
		u, err := ids.UserByEmail(ctx, ws.ID, p.email)
		if errs.Is(err, errs.NotFound) {
			u, err = ids.CreateUser(ctx, d, identity.NewUser{WorkspaceID: ws.ID, Email: p.email, Role: p.role,
				FirstName: p.first, LastName: p.last, TimeZone: p.tz, Password: info.AdminPassword})
			if err == nil {
				title := p.title
				u, err = ids.UpdateUser(ctx, u, u.ID, identity.UserPatch{JobTitle: &title})
			}
		} else if err == nil && prev.AdminPassword != info.AdminPassword {
			err = ids.SetPassword(ctx, ws.ID, u.ID, info.AdminPassword) // demo.json was lost: a new password
		}
		if err != nil {
			return nil, fmt.Errorf("demo: user %s: %w", p.email, err)
		}
		if p.email == AdminEmail {
			admin = u
		}
		info.Users = append(info.Users, SeededUser{Email: p.email, Role: p.role, Name: p.first + " " + p.last})
	}

	if prev.APIToken != "" {
		if p, err := ids.AuthenticateToken(ctx, prev.APIToken); err == nil && p.User.ID == admin.ID {
			info.APIToken = prev.APIToken
		}
	}
	if info.APIToken == "" {
		var scopes []string
		for _, s := range identity.AllScopes {
			scopes = append(scopes, string(s))
		}
		_, secret, err := ids.CreateToken(ctx, &identity.Principal{User: admin}, identity.TokenInput{Name: "demo", Scopes: scopes})
		if err != nil {
			return nil, fmt.Errorf("demo: API token: %w", err)
		}
		info.APIToken = secret
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("demo: write %s: %w", path, err)
	}
	return info, nil
}

// password returns a readable random password like "demo-kq7m-x3tp-9wze".
func password() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := []byte("demo-xxxx-xxxx-xxxx")
	for i := range b {
		if b[i] == 'x' {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			if err != nil {
				panic(errors.New("demo: crypto/rand failed"))
			}
			b[i] = alphabet[n.Int64()]
		}
	}
	return string(b)
}

// RoutingConfig is the demo workspace's routing (docs/ROUTING.md): a round-robin pool per sales
// region — Riley for the Americas, Sam for EMEA, Dana for Asia-Pacific — chosen by the visitor's
// region; a visitor from elsewhere, or whose regional rep cannot chat, goes to the least busy of
// the three, and when nobody can chat, to email capture. users maps the demo users' email
// addresses to their ids.
func RoutingConfig(users map[string]string) []byte {
	riley, sam, dana := users["riley@acme.example"], users["sam@acme.example"], users["dana@acme.example"]
	cfg := map[string]any{
		"territories": []any{map[string]any{"name": "DACH", "countries": []string{"DE", "AT", "CH"}}},
		"pools": []any{
			pool("amer", "Americas", riley), pool("emea", "EMEA", sam), pool("apac", "Asia-Pacific", dana),
			map[string]any{"id": "everyone", "name": "Everyone", "strategy": "least_busy",
				"members":  []any{map[string]any{"user_id": riley}, map[string]any{"user_id": sam}, map[string]any{"user_id": dana}},
				"fallback": map[string]any{"kind": "capture"}},
		},
		"rules": []any{
			region("amer", "Americas visitors", "AMER"),
			region("emea", "EMEA visitors", "EMEA"),
			region("apac", "Asia-Pacific visitors", "APAC"),
		},
		"default":      map[string]any{"kind": "pool", "pool": "everyone"},
		"ring_seconds": 30,
		"max_chats":    3,
	}
	b, _ := json.Marshal(cfg)
	return b
}

func pool(id, name, member string) map[string]any {
	return map[string]any{"id": id, "name": name, "strategy": "round_robin",
		"members":  []any{map[string]any{"user_id": member}},
		"fallback": map[string]any{"kind": "pool", "pool": "everyone"}}
}

func region(pool, name, region string) map[string]any {
	return map[string]any{"id": pool, "name": name,
		"when": map[string]any{"subject": "geo.region", "op": "eq", "value": region},
		"then": map[string]any{"kind": "pool", "pool": pool}}
}
