// Command beckon is the Beckon server and its operator tools. It parses flags and BECKON_*
// environment variables into a config.Config and calls internal/app; it holds no logic of its own.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/beckonhq/beckon/internal/app"
	"github.com/beckonhq/beckon/internal/config"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/demo"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/version"
	"github.com/beckonhq/beckon/internal/widget"
	"github.com/beckonhq/beckon/internal/workspace"
)

const usage = `Beckon — conversational sales, self-hosted.

Usage:
  beckon serve                 run the server (production)
  beckon demo                  run a demo: console, demo customer site, seeded data
  beckon migrate up|status     apply or list database migrations
  beckon workspace create      create a workspace and invite its first admin
  beckon admin create          invite another admin into a workspace
  beckon email status|suppress|unsuppress --address ADDRESS
                               look up, add to or lift from the global email suppression list
  beckon backup --to FILE      write a consistent copy of the SQLite database
  beckon version               print the app, Go and tzdata versions

Run 'beckon <command> --help' for a command's flags. Every flag also reads a BECKON_* variable.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "beckon:", err)
		}
		os.Exit(2)
	}
}

// run dispatches a command line; it is main without the process, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr, getenv)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr, getenv)
	case "workspace":
		if len(rest) == 0 || rest[0] != "create" {
			if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
				fmt.Fprintln(stdout, "Usage: beckon workspace create --name NAME --admin-email EMAIL [flags]\n\nRun 'beckon workspace create --help' for its flags.")
				return nil
			}
			return fmt.Errorf("usage: beckon workspace create --name NAME --admin-email EMAIL")
		}
		return cmdWorkspaceCreate(ctx, rest[1:], stdout, stderr, getenv)
	case "admin":
		if len(rest) == 0 || rest[0] != "create" {
			if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
				fmt.Fprintln(stdout, "Usage: beckon admin create --workspace ID --email EMAIL [flags]\n\nRun 'beckon admin create --help' for its flags.")
				return nil
			}
			return fmt.Errorf("usage: beckon admin create --workspace ID --email EMAIL")
		}
		return cmdAdminCreate(ctx, rest[1:], stdout, stderr, getenv)
	case "email":
		return cmdEmail(ctx, rest, stdout, stderr, getenv)
	case "backup":
		return cmdBackup(ctx, rest, stdout, stderr, getenv)
	case "version", "--version":
		v := version.Get()
		fmt.Fprintf(stdout, "beckon %s\ngo %s\ntzdata %s\n", v.App, v.Go, v.TZData)
		return nil
	}
	return fmt.Errorf("unknown command %q; run 'beckon --help'", cmd)
}

// flags makes a command's flag set with every configuration setting bound.
func flags(name, synopsis string, stderr io.Writer, cfg *config.Config, defaults ...map[string]string) *flag.FlagSet {
	fs := flag.NewFlagSet("beckon "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var d map[string]string
	if len(defaults) > 0 {
		d = defaults[0]
	}
	cfg.Bind(fs, d)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: beckon %s\n\n%s\n\nFlags (each also read from the BECKON_* variable named):\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// load parses args into cfg (flags, then the environment, then defaults) and validates it with
// cfg.Validate, or with the stricter check given.
func load(fs *flag.FlagSet, cfg *config.Config, args []string, getenv func(string) string, check ...func() error) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.Load(fs, getenv); err != nil {
		return err
	}
	if len(check) > 0 {
		return check[0]()
	}
	return cfg.Validate()
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg config.Config
	fs := flags("serve", "Runs the Beckon server: console, API and background jobs. Migrates the database first.", stderr, &cfg)
	if err := load(fs, &cfg, args, getenv, cfg.ValidateProduction); err != nil {
		return err
	}
	log := app.NewLogger(cfg, stderr)
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	l, err := app.Listen(cfg.Addr)
	if err != nil {
		return err
	}
	return a.Serve(ctx, l)
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg config.Config
	fs := flags("demo", "Runs a demo: the console, a demo customer website on a second origin, and a seeded workspace \"Acme\".\n"+
		"Writes DATA/demo.json with the URLs and logins. Safe to run again over the same data folder.", stderr, &cfg,
		map[string]string{"addr": "127.0.0.1:8080", "log-format": "text"})
	siteAddr := fs.String("site-addr", "127.0.0.1:8081", "listen address of the demo customer website")
	if err := load(fs, &cfg, args, getenv); err != nil {
		return err
	}
	l, err := app.Listen(cfg.Addr)
	if err != nil {
		return err
	}
	sl, err := app.Listen(*siteAddr)
	if err != nil {
		l.Close()
		return err
	}
	if cfg.SecretKey == "" {
		if cfg.SecretKey, err = app.DemoSecretKey(cfg.DataDir); err != nil {
			return err
		}
	}
	consoleURL, siteURL := app.URLFor(l), app.URLFor(sl)
	if cfg.BaseURL == "" {
		cfg.BaseURL = consoleURL
	}
	log := app.NewLogger(cfg, stderr)
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	info, err := demo.Seed(ctx, a.DB, a.Workspaces, a.Identity, cfg.DataDir, cfg.BaseURL, siteURL)
	if err != nil {
		return err
	}
	if err := seedRouting(ctx, a, info); err != nil {
		return fmt.Errorf("demo: routing: %w", err)
	}
	if err := seedEmail(ctx, a, info); err != nil {
		return fmt.Errorf("demo: email: %w", err)
	}
	fmt.Fprintf(stdout, `
Beckon demo is running.

  Console:       %s
  Customer site: %s
  Log in as:     %s
  Password:      %s   (every demo user has it: riley@, sam@, dana@ and morgan@acme.example)
  API token:     %s

Details are in %s. Stop with Ctrl-C; run again to continue where you left off.

`, info.ConsoleURL, info.SiteURL, info.AdminEmail, info.AdminPassword, info.APIToken, filepath.Join(cfg.DataDir, "demo.json"))
	snippet := template.HTML(widget.Snippet(info.ConsoleURL, info.SiteID))
	return a.Serve(ctx, l, app.Extra{Listener: sl, Handler: demo.Site(siteURL, snippet)})
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "status") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "Usage: beckon migrate up|status [flags]\n\n  up      apply every pending migration\n  status  list migrations and when each was applied")
			return nil
		}
		return fmt.Errorf("usage: beckon migrate up|status")
	}
	sub := args[0]
	var cfg config.Config
	fs := flags("migrate "+sub, "Applies (up) or lists (status) the database migrations.", stderr, &cfg)
	if err := load(fs, &cfg, args[1:], getenv); err != nil {
		return err
	}
	d, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if sub == "up" {
		n, err := d.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s) on %s\n", n, d.Engine)
		return nil
	}
	all, unknown, err := d.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range all {
		at := "pending"
		if !m.AppliedAt.IsZero() {
			at = m.AppliedAt.Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", m.Version, m.Name, at)
	}
	tw.Flush()
	if len(unknown) > 0 {
		fmt.Fprintf(stdout, "warning: the database has migrations this binary does not know: %v (a newer Beckon ran here)\n", unknown)
	}
	return nil
}

// created is what `workspace create` prints.
type created struct {
	WorkspaceID   string `json:"workspace_id"`
	SiteID        string `json:"site_id"`
	AdminEmail    string `json:"admin_email"`
	ActivationURL string `json:"activation_url"`
	APIToken      string `json:"api_token"`
}

// operatorApp opens the database, migrates it and builds the services, for the CLI commands that
// change data. Emails they queue are sealed with the server's secret key and sent by the running
// server's job workers, so these commands need the same BECKON_SECRET_KEY and BECKON_BASE_URL as
// the server; over a demo's data folder they take the demo's key and console URL.
func operatorApp(ctx context.Context, cfg config.Config, stderr io.Writer) (*app.App, error) {
	if cfg.DatabaseURL == "" {
		if cfg.SecretKey == "" {
			if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "secret.key")); err == nil {
				cfg.SecretKey = strings.TrimSpace(string(b))
			}
		}
		if cfg.BaseURL == "" {
			var d struct {
				ConsoleURL string `json:"console_url"`
			}
			if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "demo.json")); err == nil && json.Unmarshal(b, &d) == nil {
				cfg.BaseURL = d.ConsoleURL
			}
		}
	}
	var missing []string
	if cfg.SecretKey == "" {
		missing = append(missing, "BECKON_SECRET_KEY (the server's key: invitation emails are stored encrypted with it)")
	}
	if cfg.BaseURL == "" {
		missing = append(missing, "BECKON_BASE_URL (the server's public URL: activation links point there)")
	}
	if len(missing) > 0 {
		return nil, errors.New("set " + strings.Join(missing, " and "))
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	return app.New(ctx, cfg, log, app.Options{})
}

func cmdWorkspaceCreate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg config.Config
	fs := flags("workspace create", "Creates a workspace and invites its first admin; prints one JSON object with the\n"+
		"workspace and site ids, the admin's activation URL and an API token with every scope.\n"+
		"The invitation email is sent by the running server.", stderr, &cfg)
	name := fs.String("name", "", "workspace name (required)")
	adminEmail := fs.String("admin-email", "", "email of the first admin (required)")
	tz := fs.String("time-zone", "UTC", "the workspace's IANA time zone")
	origins := fs.String("origins", "", "comma-separated origins allowed to embed the messenger")
	if err := load(fs, &cfg, args, getenv); err != nil {
		return err
	}
	if *name == "" || *adminEmail == "" {
		return errors.New("--name and --admin-email are required")
	}
	a, err := operatorApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	var out created
	var admin *identity.User
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		var list []string
		for _, o := range strings.Split(*origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				list = append(list, o)
			}
		}
		ws, err := a.Workspaces.Create(ctx, tx, workspace.New{Name: *name, TimeZone: *tz, AllowedOrigins: list})
		if err != nil {
			return err
		}
		admin, err = a.Identity.CreateUser(ctx, tx, identity.NewUser{WorkspaceID: ws.ID, Email: *adminEmail, Role: identity.RoleAdmin})
		if err != nil {
			return err
		}
		out.ActivationURL, err = a.Identity.InviteFirstAdmin(ctx, tx, admin)
		out.WorkspaceID, out.SiteID, out.AdminEmail = ws.ID, ws.SiteID, admin.Email
		return err
	})
	if err != nil {
		return err
	}
	out.APIToken, err = adminToken(ctx, a, admin)
	if err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func adminToken(ctx context.Context, a *app.App, admin *identity.User) (string, error) {
	var scopes []string
	for _, s := range identity.AllScopes {
		scopes = append(scopes, string(s))
	}
	_, secret, err := a.Identity.CreateToken(ctx, &identity.Principal{User: admin}, identity.TokenInput{Name: "created by beckon CLI", Scopes: scopes})
	return secret, err
}

func cmdAdminCreate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg config.Config
	fs := flags("admin create", "Adds an admin to an existing workspace and prints one JSON object with the user id and\n"+
		"the activation URL. With --password-file the admin is active at once and no invitation is sent.", stderr, &cfg)
	wsID := fs.String("workspace", "", "workspace id (required)")
	emailAddr := fs.String("email", "", "the admin's email (required)")
	pwFile := fs.String("password-file", "", "file holding the admin's password; - reads standard input")
	if err := load(fs, &cfg, args, getenv); err != nil {
		return err
	}
	if *wsID == "" || *emailAddr == "" {
		return errors.New("--workspace and --email are required")
	}
	password := ""
	if *pwFile != "" {
		var b []byte
		var err error
		if *pwFile == "-" {
			b, err = io.ReadAll(io.LimitReader(os.Stdin, 4096))
		} else {
			b, err = os.ReadFile(*pwFile)
		}
		if err != nil {
			return err
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	a, err := operatorApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Workspaces.Get(ctx, *wsID); err != nil {
		return fmt.Errorf("workspace %s: %w", *wsID, err)
	}
	out := map[string]string{"workspace_id": *wsID}
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		u, err := a.Identity.CreateUser(ctx, tx, identity.NewUser{WorkspaceID: *wsID, Email: *emailAddr, Role: identity.RoleAdmin, Password: password})
		if err != nil {
			return err
		}
		out["user_id"], out["email"] = u.ID, u.Email
		if password == "" {
			out["activation_url"], err = a.Identity.InviteFirstAdmin(ctx, tx, u)
		}
		return err
	})
	if err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg config.Config
	fs := flags("backup", "Writes a consistent copy of the live SQLite database to --to (the server may keep running).\n"+
		"For PostgreSQL use pg_dump.", stderr, &cfg)
	to := fs.String("to", "", "file to write (must not exist)")
	if err := load(fs, &cfg, args, getenv); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("--to FILE is required")
	}
	d, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if d.Engine != db.SQLite {
		return errors.New("backup copies the embedded SQLite database; for PostgreSQL use pg_dump")
	}
	if err := d.Backup(ctx, *to); err != nil {
		return err
	}
	fi, err := os.Stat(*to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *to, fi.Size())
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// seedEmail gives the demo workspace an email policy the first time the demo runs: leads nobody
// answered are emailed to the admin (written to the log, without SMTP), and bursts of made-up
// addresses from one domain are refused. Later runs keep what the admin saved.
func seedEmail(ctx context.Context, a *app.App, info *demo.Info) error {
	p, err := a.Mail.Store().Policy(ctx, info.WorkspaceID)
	if err != nil || !p.UpdatedAt.IsZero() {
		return err
	}
	_, err = a.Mail.Store().SetPolicy(ctx, info.WorkspaceID, email.Policy{DomainBurst: 10, LeadAlertsTo: []string{demo.AdminEmail}})
	return err
}

// seedRouting publishes the demo's routing (demo.RoutingConfig) the first time the demo runs;
// later runs keep whatever the admin published since.
func seedRouting(ctx context.Context, a *app.App, info *demo.Info) error {
	if vs, err := a.Routing.Versions(ctx, info.WorkspaceID); err != nil || len(vs) > 0 {
		return err
	}
	users, err := a.Identity.ListUsers(ctx, info.WorkspaceID)
	if err != nil {
		return err
	}
	ids := map[string]string{}
	for _, u := range users {
		ids[u.Email] = u.ID
	}
	admin := ids[demo.AdminEmail]
	if _, err := a.Routing.SaveDraft(ctx, info.WorkspaceID, admin, demo.RoutingConfig(ids)); err != nil {
		return err
	}
	_, err = a.Routing.Publish(ctx, info.WorkspaceID, admin)
	return err
}

// cmdEmail is the operator's hand on the global suppression list (docs/EMAIL.md): look an address
// up, suppress it, or lift its suppression once the mailbox works again.
func cmdEmail(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	const use = "usage: beckon email status|suppress|unsuppress --address ADDRESS [flags]"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, use)
		return nil
	}
	verb := args[0]
	switch verb {
	case "status", "suppress", "unsuppress":
	default:
		return errors.New(use)
	}
	var cfg config.Config
	fs := flags("email "+verb, "Looks up, suppresses or lifts the suppression of one address on the global list that\n"+
		"every workspace's mail checks, and prints one JSON object.", stderr, &cfg)
	address := fs.String("address", "", "the email address (required)")
	if err := load(fs, &cfg, args[1:], getenv); err != nil {
		return err
	}
	addr := *address
	if addr == "" {
		return errors.New(use)
	}
	a, err := operatorApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	st := a.Mail.Store()
	switch verb {
	case "suppress":
		err = st.Suppress(ctx, addr, email.ReasonManual, "by the operator", "operator", "", "")
	case "unsuppress":
		err = st.Unsuppress(ctx, addr)
	}
	if err != nil {
		return err
	}
	status, err := st.Lookup(ctx, "", addr)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(status)
}
