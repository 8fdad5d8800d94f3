package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/app"
	"github.com/beckonhq/beckon/internal/config"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// TestInviteEmailOverSMTP runs the wired server — database, bus, job workers, HTTP — and proves
// that an invitation made through the API arrives as a real email over SMTP, with a working
// activation link. It runs on SQLite, and on PostgreSQL with NATS when those are available.
func TestInviteEmailOverSMTP(t *testing.T) {
	type engine struct{ dbURL, natsURL string }
	engines := map[string]engine{"sqlite": {}}
	if os.Getenv(testkit.EnvPostgres) != "" {
		engines["postgres+nats"] = engine{dbURL: testkit.PostgresURL(t), natsURL: os.Getenv("BECKON_TEST_NATS_URL")}
	}
	for name, e := range engines {
		t.Run(name, func(t *testing.T) {
			smtpSrv := testkit.NewSMTPServer(t)
			cfg := config.Defaults()
			cfg.DataDir, cfg.DatabaseURL, cfg.NATSURL = t.TempDir(), e.dbURL, e.natsURL
			cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS, cfg.SMTPFrom = smtpSrv.Host, smtpSrv.Port, "none", "Beckon <beckon@acme.example>"
			l, err := app.Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cfg.BaseURL = app.URLFor(l)
			cfg.SecretKey = strings.Repeat("9c", 32)
			ctx, cancel := context.WithCancel(context.Background())
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			a, err := app.New(ctx, cfg, log, app.Options{Hash: identity.TestHashParams})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- a.Serve(ctx, l) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
				a.Close()
			})

			ws, err := a.Workspaces.Create(ctx, a.DB, workspace.New{Name: "Acme"})
			if err != nil {
				t.Fatal(err)
			}
			admin, err := a.Identity.CreateUser(ctx, a.DB, identity.NewUser{WorkspaceID: ws.ID, Email: "admin@acme.example", Role: identity.RoleAdmin, Password: "admin password 1"})
			if err != nil {
				t.Fatal(err)
			}
			_, tok, _ := a.Identity.CreateToken(ctx, &identity.Principal{User: admin}, identity.TokenInput{Name: "t", Scopes: []string{"users:write", "jobs:read"}})

			body, _ := json.Marshal(map[string]string{"email": "rae@acme.example", "first_name": "Rae", "role": "rep"})
			req, _ := http.NewRequest("POST", cfg.BaseURL+"/api/v1/users", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 201 {
				t.Fatalf("invite: %v %v", resp, err)
			}
			resp.Body.Close()
			start := time.Now()
			mails := smtpSrv.WaitFor(t, 1, 10*time.Second)
			t.Logf("invitation delivered over SMTP %v after the API answered", time.Since(start).Round(time.Millisecond))
			m := mails[0]
			if m.To[0] != "rae@acme.example" || !strings.Contains(m.Subject, "Acme") || m.HTML == "" {
				t.Fatalf("mail: to %v subject %q", m.To, m.Subject)
			}
			link := regexp.MustCompile(`https?://\S+/activate/inv_[a-z2-7]+`).FindString(m.Text)
			if !strings.HasPrefix(link, cfg.BaseURL) {
				t.Fatalf("no activation link in %q", m.Text)
			}
			resp, err = http.Get(link)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("activation page: %v %v", resp, err)
			}
			resp.Body.Close()
			u, err := a.Identity.Activate(ctx, link[strings.LastIndex(link, "/")+1:], "rae's password")
			if err != nil || u.Status != "active" {
				t.Fatalf("activate: %v", err)
			}
			// The job is listed as succeeded once the worker has recorded the delivery.
			var jobsList struct {
				Data []struct{ Kind, State string }
			}
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				req, _ = http.NewRequest("GET", cfg.BaseURL+"/api/v1/jobs?state=succeeded", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err = http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				json.NewDecoder(resp.Body).Decode(&jobsList)
				resp.Body.Close()
				if len(jobsList.Data) > 0 {
					break
				}
			}
			if len(jobsList.Data) != 1 || jobsList.Data[0].Kind != "email.send" {
				t.Fatalf("jobs: %+v", jobsList)
			}
		})
	}
}
