// Package app is Beckon's composition root: it opens the database, the bus and the job queue,
// builds every domain service with its dependencies, mounts the HTTP server, and runs and stops
// them together. It is the only package that imports everything.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/config"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/idverify"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/liveview"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/presence"
	"github.com/beckonhq/beckon/internal/realtime"
	"github.com/beckonhq/beckon/internal/routing"
	"github.com/beckonhq/beckon/internal/secret"
	"github.com/beckonhq/beckon/internal/spam"
	"github.com/beckonhq/beckon/internal/timezone"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/web"
	"github.com/beckonhq/beckon/internal/workspace"
)

// App is a wired Beckon server.
type App struct {
	Cfg        config.Config
	Log        *slog.Logger
	Clock      clock.Clock
	DB         *db.DB
	Bus        bus.Bus
	Jobs       *jobs.Queue
	Mail       *email.Outbox
	Refusals   *spam.Refusals  // what the spam defences refused (E4)
	Secrets    *secret.Keyring // nil when no BECKON_SECRET_KEY is configured (operator CLI commands)
	Workspaces *workspace.Store
	Identity   *identity.Service
	Visitors   *visitor.Service
	Chat       *chat.Store
	Fields     *field.Store
	Hub        *realtime.Hub
	Presence   *presence.Service
	Notify     *notify.Service // alert preferences, team channels, webhooks (N1–N3)
	Routing    *routing.Service
	Web        *web.Server
}

// Options adjust how New builds the app.
type Options struct {
	// Hash overrides the password hashing cost (tests); zero uses the production default.
	Hash identity.HashParams
	// Sender overrides the email sender; nil picks SMTP when BECKON_SMTP_HOST is set, else the log.
	Sender email.Sender
	// Visitor overrides options of visitor recording (tests and the demo's browser tests allow
	// headless browsers).
	Visitor visitor.Options
}

// NewLogger returns the logger the configuration asks for, writing to w.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// New opens the database and migrates it, connects the bus, and builds every service.
// Close releases what it opened.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opt Options) (*App, error) {
	a := &App{Cfg: cfg, Log: log, Clock: clock.System{}}
	var err error
	if a.Secrets, err = Keyring(cfg); err != nil {
		return nil, err
	}
	if a.DB, err = OpenDB(ctx, cfg); err != nil {
		return nil, err
	}
	if n, err := a.DB.Migrate(ctx); err != nil {
		a.DB.Close()
		return nil, err
	} else if n > 0 {
		log.Info("database migrated", "applied", n, "engine", a.DB.Engine)
	}
	if cfg.NATSURL != "" {
		a.Bus, err = bus.NewNATS(cfg.NATSURL, log)
		if err != nil {
			a.DB.Close()
			return nil, fmt.Errorf("bus: %w", err)
		}
	} else {
		a.Bus = bus.NewInProcess()
	}
	host, _ := os.Hostname()
	a.Jobs = jobs.New(a.DB, a.Clock, log, jobs.Options{Workers: cfg.JobWorkers, Lease: cfg.JobLease,
		WorkerID: fmt.Sprintf("%s/%d", host, os.Getpid())})
	sender := opt.Sender
	if sender == nil {
		if sender, err = NewSender(cfg, log); err != nil {
			a.Close()
			return nil, err
		}
	}
	a.Refusals = spam.NewRefusals(a.DB, a.Clock, log)
	a.Mail = email.NewOutbox(email.NewStore(a.DB, a.Clock, &address.Validator{MX: &address.MXChecker{}}), a.Jobs, sender, a.Secrets, cfg.BaseURL)
	a.Workspaces = workspace.NewStore(a.DB, a.Clock)
	a.Identity = identity.NewService(a.DB, a.Clock, a.Mail, identity.Options{
		BaseURL: cfg.BaseURL, InviteTTL: cfg.InviteTTL, SessionTTL: cfg.SessionTTL, Hash: opt.Hash})
	if a.Secrets == nil {
		a.Close()
		return nil, errors.New("no secret key: set BECKON_SECRET_KEY (visitor tokens and stored secrets need it)")
	}
	key, _ := config.KeyBytes(cfg.SecretKey)
	vopt := opt.Visitor
	if vopt.GeoIPDB == "" {
		vopt.GeoIPDB = cfg.GeoIPDB
	}
	if a.Visitors, err = visitor.New(a.DB, a.Clock, log, vopt); err != nil {
		a.Close()
		return nil, err
	}
	a.Chat = chat.New(a.DB, a.Clock, chat.Options{Bus: a.Bus, Log: log, Mailer: a.Mail,
		Workspace: func(ctx context.Context, wsID string) (string, *time.Location, error) {
			w, err := a.Workspaces.Get(ctx, wsID)
			if err != nil {
				return "", nil, err
			}
			return w.Name, timezone.Load(w.TimeZone), nil
		}})
	a.Fields = field.NewStore(a.DB, a.Clock)
	a.Visitors.OnMerge(a.Chat.MergeHook)
	a.Visitors.OnMerge(a.Fields.MergeHook)
	proxies, err := config.ParseProxies(cfg.TrustedProxies)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("BECKON_TRUSTED_PROXIES: %w", err)
	}
	// Real time (docs/REALTIME.md).
	a.Hub = realtime.New(a.Bus, log)
	a.Presence = presence.New(a.DB, a.Clock, a.Bus, presence.Options{Log: log,
		IdleTimeout: func(ctx context.Context, wsID string) time.Duration {
			w, err := a.Workspaces.Get(ctx, wsID)
			if err != nil {
				return 0 // the default
			}
			return time.Duration(w.Settings.IdleMinutes) * time.Minute
		}})
	// Channels reach only public https URLs unless BECKON_WEBHOOK_ALLOW_PRIVATE lets them reach
	// the operator's own network (where plain http is then allowed too).
	a.Notify = notify.NewService(a.DB, a.Clock, a.Bus, a.Jobs, a.Secrets, notify.Options{Log: log,
		AllowPrivate: cfg.WebhookAllowPrivate, AllowInsecure: cfg.WebhookAllowPrivate,
		ConversationURL: func(convID string) string {
			return strings.TrimRight(cfg.BaseURL, "/") + "/inbox?c=" + convID // ids are URL-safe
		}})
	// Every conversation event goes to the outbound webhooks and channels that asked for it, in
	// the transaction of the change (at least once, N3).
	a.Chat.OnEvent(func(ctx context.Context, tx db.Queryer, ev chat.Event) error {
		if ev.Kind == "" {
			return nil
		}
		return a.Notify.Event(ctx, tx, ev.Space, ev.Kind, ev)
	})
	a.Routing = routing.New(routing.Options{DB: a.DB, Clock: a.Clock, Log: log, Jobs: a.Jobs,
		Env: a.routingEnv, Reps: a.routingReps, Visitor: a.routingVisitor,
		Waiting: func(ctx context.Context, wsID, convID string) (bool, error) {
			c, err := a.Chat.Get(ctx, wsID, convID)
			if errs.Is(err, errs.NotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return c.Status == chat.StatusOpen && !c.WaitingSince.IsZero(), nil
		},
		OnOffer: func(ctx context.Context, o routing.Offer) { a.Web.RoutingOffer(ctx, o) }})
	// A conversation accepted or closed stops ringing, in the transaction of the change.
	a.Chat.OnEvent(func(ctx context.Context, tx db.Queryer, ev chat.Event) error {
		switch ev.Kind {
		case "conversation.accepted":
			by := ""
			if ev.State != nil {
				by = ev.State.AssigneeID
			}
			return a.Routing.EndOffer(ctx, tx, ev.Space, ev.Conv, "accepted", by)
		case "conversation.closed":
			return a.Routing.EndOffer(ctx, tx, ev.Space, ev.Conv, "ended", "")
		}
		return nil
	})
	live, err := liveview.New(liveview.Options{Bus: a.Bus, Log: log, Clock: a.Clock, Sessions: a.Visitors, Fields: a.Fields,
		Settings: func(ctx context.Context, wsID string) (workspace.Settings, error) {
			w, err := a.Workspaces.Get(ctx, wsID)
			if err != nil {
				return workspace.Settings{}, err
			}
			return w.Settings, nil
		},
		InConversation: a.Chat.OpenConversations})
	if err == nil {
		// Conversations open and close in chat, whose "conv" events reach every replica.
		_, err = a.Bus.Subscribe("inbox.>", func(m bus.Msg) {
			var ev chat.Event
			if json.Unmarshal(m.Data, &ev) == nil && ev.T == "conv" && ev.State != nil {
				live.ConversationChanged(ev.State.WorkspaceID, ev.Visitor, ev.Conv, ev.State.Status == chat.StatusOpen)
			}
		})
	}
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("live view: %w", err)
	}
	deps := web.Deps{
		Log: log, Identity: a.Identity, Workspaces: a.Workspaces, Jobs: a.Jobs,
		Checks:        []web.Check{{Name: "database", Ping: a.DB.Ping}, {Name: "bus", Ping: a.Bus.Ping}},
		Metrics:       web.NewMetrics(a.Jobs),
		SecureCookies: cfg.SecureCookies(), MaxBody: cfg.MaxBodySize, MetricsToken: cfg.MetricsToken,
		TrustedProxies: proxies,
		Visitors:       a.Visitors, Tokens: visitor.NewTokens(key), Chat: a.Chat, Clock: a.Clock,
		Fields: a.Fields, DB: a.DB, Secrets: a.Secrets, BaseURL: cfg.BaseURL,
		Hub: a.Hub, Presence: a.Presence, Notify: a.Notify, LiveView: live, Routing: a.Routing,
		Email: a.Mail, EmailWebhookSecret: []byte(cfg.EmailWebhookSecret), Bus: a.Bus, Refusals: a.Refusals,
	}
	a.Web = web.New(deps)
	return a, nil
}

// Keyring builds the keyring of secrets at rest from BECKON_SECRET_KEY and BECKON_SECRET_KEYS_OLD;
// nil when no key is configured.
func Keyring(cfg config.Config) (*secret.Keyring, error) {
	if cfg.SecretKey == "" {
		return nil, nil
	}
	cur, err := config.KeyBytes(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("BECKON_SECRET_KEY: %w", err)
	}
	var old [][]byte
	for i, s := range strings.Split(cfg.SecretKeysOld, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		b, err := config.KeyBytes(s)
		if err != nil {
			return nil, fmt.Errorf("BECKON_SECRET_KEYS_OLD entry %d: %w", i+1, err)
		}
		old = append(old, b)
	}
	return secret.NewKeyring(cur, old...)
}

// DemoSecretKey returns the demo's secret key, kept in DATA/secret.key and made on first use, so
// that `beckon demo` needs no configuration.
func DemoSecretKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", err
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", err
	}
	key := hex.EncodeToString(k[:])
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo secret key: %w", err)
	}
	return key, nil
}

// OpenDB opens the configured database without migrating it.
func OpenDB(ctx context.Context, cfg config.Config) (*db.DB, error) {
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// NewSender returns the SMTP sender when an SMTP host is configured, else one that logs emails.
func NewSender(cfg config.Config, log *slog.Logger) (email.Sender, error) {
	if cfg.SMTPHost == "" {
		log.Warn("no SMTP server configured (BECKON_SMTP_HOST): emails are written to this log instead of sent")
		return email.NewLogSender(log), nil
	}
	s, err := email.NewSMTP(email.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
		Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLS: cfg.SMTPTLS})
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return s, nil
}

// Close releases the bus and the database.
func (a *App) Close() {
	if a.Web != nil {
		a.Web.Close()
	}
	if a.Bus != nil {
		a.Bus.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
}

// Listen opens the HTTP listener on addr (":0" picks a free port).
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

// Serve runs the HTTP server on l and the job workers until ctx is cancelled, then shuts both down
// gracefully: in-flight requests get up to 10 s, running jobs get their context cancelled and are
// waited for. Extra handlers (the demo site) are served on their own listeners alongside.
func (a *App) Serve(ctx context.Context, l net.Listener, extra ...Extra) error {
	srv := &http.Server{Handler: a.Web, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
	servers := []*http.Server{srv}
	listeners := []net.Listener{l}
	for _, e := range extra {
		servers = append(servers, &http.Server{Handler: e.Handler, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, e.Listener)
	}
	jctx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errc := make(chan error, len(servers)+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Jobs.Run(jctx); err != nil {
			errc <- fmt.Errorf("jobs: %w", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.housekeeping(jctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.Refusals.Run(jctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Visitors.Run(jctx); err != nil {
			errc <- fmt.Errorf("visitors: %w", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.Web.RunSockets(jctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Presence.Run(jctx); err != nil && jctx.Err() == nil {
			errc <- fmt.Errorf("presence: %w", err)
		}
	}()
	for i := range servers {
		go func(s *http.Server, l net.Listener) {
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}(servers[i], listeners[i])
	}
	a.Log.Info("serving", "addr", l.Addr().String(), "engine", a.DB.Engine, "bus", busKind(a.Cfg))
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Sockets are hijacked connections that Shutdown does not track: close them first (1001),
	// and their clients reconnect elsewhere or later and resume from their last seq.
	a.Web.CloseSockets()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	// Every acknowledged page view is written before the process goes.
	if err := a.Visitors.Close(sctx); err != nil {
		a.Log.Error("writing the last page views failed", "err", err)
	}
	stopJobs()
	wg.Wait()
	return runErr
}

// JobRetention is how long succeeded jobs are kept before housekeeping deletes them.
const JobRetention = 14 * 24 * time.Hour

// housekeeping prunes old succeeded jobs and expired sessions, activation links and login
// attempts at start and then hourly, until ctx ends.
func (a *App) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := a.Jobs.Prune(ctx, a.Clock.Now().Add(-JobRetention)); err != nil && ctx.Err() == nil {
			a.Log.Warn("pruning old jobs failed", "err", err)
		} else if n > 0 {
			a.Log.Info("pruned old jobs", "deleted", n)
		}
		if _, err := idverify.PurgeExpired(ctx, a.DB, a.Clock.Now()); err != nil && ctx.Err() == nil {
			a.Log.Warn("purging used identity tokens failed", "err", err)
		}
		if n, err := a.Identity.Purge(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("purging expired sessions and links failed", "err", err)
		} else if n > 0 {
			a.Log.Info("purged expired sessions, links and login attempts", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Extra is another HTTP handler served with the app (the demo customer site).
type Extra struct {
	Listener net.Listener
	Handler  http.Handler
}

func busKind(cfg config.Config) string {
	if cfg.NATSURL != "" {
		return "nats"
	}
	return "in-process"
}

// URLFor returns http://host:port for a listener, replacing an unspecified host by 127.0.0.1.
func URLFor(l net.Listener) string {
	addr := l.Addr().String()
	if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, "0.0.0.0:") {
		_, port, _ := net.SplitHostPort(addr)
		addr = "127.0.0.1:" + port
	}
	return "http://" + addr
}
