package demo_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/demo"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

func TestSeedIsIdempotent(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		wss := workspace.NewStore(d, clock.System{})
		ids := identity.NewService(d, clock.System{}, nil, identity.Options{Hash: identity.TestHashParams})
		first, err := demo.Seed(ctx, d, wss, ids, dir, "http://127.0.0.1:8080", "http://127.0.0.1:8081")
		if err != nil {
			t.Fatal(err)
		}
		users, _ := ids.ListUsers(ctx, first.WorkspaceID)
		roles := map[identity.Role]int{}
		for _, u := range users {
			roles[u.Role]++
		}
		if roles[identity.RoleAdmin] != 1 || roles[identity.RoleRep] != 3 || roles[identity.RoleMeetingsOnly] != 1 {
			t.Fatalf("seeded roles %v", roles)
		}
		second, err := demo.Seed(ctx, d, wss, ids, dir, "http://127.0.0.1:8080", "http://127.0.0.1:9091")
		if err != nil {
			t.Fatal(err)
		}
		if second.WorkspaceID != first.WorkspaceID || second.APIToken != first.APIToken || second.AdminPassword != first.AdminPassword {
			t.Fatalf("second run changed the demo: %+v vs %+v", second, first)
		}
		if users2, _ := ids.ListUsers(ctx, first.WorkspaceID); len(users2) != len(users) {
			t.Fatalf("second run duplicated users: %d → %d", len(users), len(users2))
		}
		ws, _ := wss.Get(ctx, first.WorkspaceID)
		if !ws.OriginAllowed("http://127.0.0.1:9091") || !ws.OriginAllowed("http://127.0.0.1:8081") {
			t.Fatalf("site origins %v", ws.AllowedOrigins)
		}
		// demo.json lost: the same workspace is found and a new password works.
		os.Remove(filepath.Join(dir, "demo.json"))
		third, err := demo.Seed(ctx, d, wss, ids, dir, "http://127.0.0.1:8080", "http://127.0.0.1:8081")
		if err != nil || third.WorkspaceID != first.WorkspaceID {
			t.Fatalf("after losing demo.json: %+v %v", third, err)
		}
		for _, u := range third.Users {
			if _, _, err := ids.Login(ctx, identity.LoginInput{Email: u.Email, Password: third.AdminPassword, WorkspaceID: third.WorkspaceID}); err != nil {
				t.Errorf("login %s: %v", u.Email, err)
			}
		}
		b, _ := os.ReadFile(filepath.Join(dir, "demo.json"))
		for _, k := range []string{"console_url", "site_url", "workspace_id", "site_id", "admin_email", "admin_password", "api_token"} {
			if !strings.Contains(string(b), `"`+k+`"`) {
				t.Errorf("demo.json lacks %s", k)
			}
		}
	})
}

func TestSite(t *testing.T) {
	srv := httptest.NewServer(demo.Site("http://127.0.0.1:8081", `<script>/*snippet*/</script>`))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{
		"/":              "Turn your data into decisions",
		"/pricing":       "Enterprise",
		"/contact":       `id="contact"`,
		"/features":      "Forecasting",
		"/app/":          "Product tour",
		"/app/pipeline":  "beckon('page')",
		"/assets/app.js": "history.pushState",
	} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, lacks %q", path, resp.StatusCode, want)
		}
		if strings.HasSuffix(path, "/") || !strings.Contains(path, ".") {
			if !strings.Contains(string(b), "/*snippet*/") {
				t.Errorf("%s: no snippet", path)
			}
		}
	}
	resp, err := client.PostForm(srv.URL+"/contact", map[string][]string{"email": {"a@b.example"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/thanks" {
		t.Fatalf("form post without JavaScript: %v %v", resp, err)
	}
}
