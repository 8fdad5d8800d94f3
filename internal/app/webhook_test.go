package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/app"
	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/config"
	"github.com/beckonhq/beckon/internal/demo"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/testkit"
)

// TestConversationWebhooks wires the whole app and checks that conversation events reach an
// outbound webhook, signed, from the transaction of the change (N3): the chat hook enqueues the
// delivery, the job queue sends it.
func TestConversationWebhooks(t *testing.T) {
	urls := map[string]string{"sqlite": ""}
	if os.Getenv(testkit.EnvPostgres) != "" {
		urls["postgres"] = testkit.PostgresURL(t)
	}
	for name, dbURL := range urls {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			var secret []byte
			bad := 0
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				defer mu.Unlock()
				if err := notify.Verify(r.Header.Get("Beckon-Signature"), body, secret, time.Now(), 5*time.Minute); err != nil {
					bad++
					http.Error(w, err.Error(), http.StatusUnauthorized)
					return
				}
				got = append(got, r.Header.Get("Beckon-Event"))
			}))
			defer recv.Close()

			cfg := config.Defaults()
			cfg.DataDir, cfg.DatabaseURL, cfg.SecretKey = t.TempDir(), dbURL, strings.Repeat("3d", 32)
			cfg.BaseURL, cfg.WebhookAllowPrivate = "http://127.0.0.1:1", true
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Hash: identity.TestHashParams})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			info, err := demo.Seed(ctx, a.DB, a.Workspaces, a.Identity, cfg.DataDir, cfg.BaseURL, rtSite)
			if err != nil {
				t.Fatal(err)
			}
			_, sec, err := a.Notify.CreateChannel(ctx, info.WorkspaceID, notify.ChannelInput{Kind: "webhook", Name: "CRM bridge",
				URL: recv.URL + "/hook", Events: []string{"conversation.started", "conversation.accepted", "message.created", "conversation.closed"}})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			secret = []byte(sec)
			mu.Unlock()
			jctx, stopJobs := context.WithCancel(ctx)
			jobsDone := make(chan struct{})
			go func() { defer close(jobsDone); a.Jobs.Run(jctx) }()
			defer func() { stopJobs(); <-jobsDone }()

			c, _, _, err := a.Chat.VisitorMessage(ctx, info.WorkspaceID, "vis_webhook", "Hello there", "w1")
			if err != nil {
				t.Fatal(err)
			}
			admin, err := a.Identity.UserByEmail(ctx, info.WorkspaceID, info.AdminEmail)
			if err != nil {
				t.Fatal(err)
			}
			rep := chat.Actor{Kind: chat.KindRep, ID: admin.ID, Name: admin.Name(), Admin: true}
			if _, err := a.Chat.Accept(ctx, info.WorkspaceID, rep, c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Chat.Close(ctx, info.WorkspaceID, rep, c.ID); err != nil {
				t.Fatal(err)
			}
			a.Jobs.Notify()
			want := []string{"conversation.started", "message.created", "conversation.accepted", "conversation.closed"}
			deadline := time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				have := slices.Clone(got)
				mu.Unlock()
				missing := 0
				for _, w := range want {
					if !slices.Contains(have, w) {
						missing++
					}
				}
				if missing == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("webhook got %v, want at least %v (bad signatures: %d)", have, want, bad)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if bad > 0 {
				t.Fatalf("%d deliveries had a bad signature", bad)
			}
		})
	}
}
