// Package config is Beckon's typed configuration. Every setting has a flag and a BECKON_*
// environment variable; a flag given on the command line wins over the variable, which wins over
// the default. Secrets can also be read from a file named by the variable with a _FILE suffix
// (BECKON_SECRET_KEY_FILE=/run/secrets/beckon-key), the usual way of container orchestrators.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config holds every setting of a Beckon server.
type Config struct {
	Addr        string // HTTP listen address of the console and API
	DataDir     string // folder of the SQLite database and other local state
	DatabaseURL string // postgres://… for PostgreSQL; empty for SQLite in DataDir
	NATSURL     string // nats://… to share the bus between replicas; empty for in-process
	BaseURL     string // public URL of this server, used in links sent by email

	SecretKey     string // key for secrets at rest and signed tokens (≥ 32 bytes, hex or base64)
	SecretKeysOld string // comma-separated previous keys, still accepted for decryption

	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	SMTPTLS      string // "starttls" (default), "tls" (implicit, port 465) or "none"
	// EmailWebhookSecret signs bounce and complaint reports posted to /hooks/email/… (empty: off).
	EmailWebhookSecret string

	LogFormat string // "json" or "text"
	LogLevel  string // "debug", "info", "warn", "error"

	JobWorkers int           // jobs run at once by this process
	JobLease   time.Duration // how long a running job is owned before others may rescue it

	SessionTTL  time.Duration // console session lifetime
	InviteTTL   time.Duration // activation link lifetime
	MaxBodySize int64         // request body limit in bytes for JSON APIs

	AllowInsecureHTTP bool // serve: accept an http:// BASE_URL (behind a TLS-terminating proxy on a private network)

	GeoIPDB        string // a MaxMind-format database (GeoLite2-City.mmdb …) to locate visitors by IP
	TrustedProxies string // comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed
	// WebhookAllowPrivate lets outbound webhooks and team channels reach loopback and private
	// addresses (a receiver inside the operator's own network); off, they reach only public ones.
	WebhookAllowPrivate bool
	MetricsToken        string // when set, GET /metrics needs 'Authorization: Bearer <MetricsToken>'; empty: public

	defaults map[string]string // per-command default overrides given to Bind
}

// setting describes one configuration field.
type setting struct {
	name   string // flag name; the variable is BECKON_ + upper(name with - as _)
	usage  string
	secret bool // may come from a _FILE variable; never printed
	def    string
	ptr    any // *string, *int, *bool, *time.Duration, *int64
}

func (c *Config) settings() []setting {
	return []setting{
		{"addr", "HTTP listen address", false, ":8080", &c.Addr},
		{"data", "data folder for the SQLite database", false, "./beckon-data", &c.DataDir},
		{"database-url", "PostgreSQL URL (postgres://…); empty for SQLite in the data folder", true, "", &c.DatabaseURL},
		{"nats-url", "NATS URL (nats://…) to share the bus between replicas; empty for in-process", true, "", &c.NATSURL},
		{"base-url", "public URL of this server, used in emailed links (https://chat.example.com)", false, "", &c.BaseURL},
		{"secret-key", "secret key, 32+ random bytes as hex or base64 (openssl rand -hex 32)", true, "", &c.SecretKey},
		{"secret-keys-old", "previous secret keys, comma-separated, still accepted while rotating", true, "", &c.SecretKeysOld},
		{"smtp-host", "SMTP server host; empty prints emails to the log", false, "", &c.SMTPHost},
		{"smtp-port", "SMTP server port", false, "587", &c.SMTPPort},
		{"smtp-username", "SMTP user name", false, "", &c.SMTPUsername},
		{"smtp-password", "SMTP password", true, "", &c.SMTPPassword},
		{"smtp-from", "sender address of emails", false, "Beckon <beckon@localhost>", &c.SMTPFrom},
		{"smtp-tls", "SMTP transport security: starttls, tls or none", false, "starttls", &c.SMTPTLS},
		{"email-webhook-secret", "secret that signs bounce and complaint reports posted to /hooks/email/events and /hooks/email/dsn; empty turns them off", true, "", &c.EmailWebhookSecret},
		{"log-format", "log format: json or text", false, "json", &c.LogFormat},
		{"log-level", "log level: debug, info, warn or error", false, "info", &c.LogLevel},
		{"job-workers", "background jobs run at once by this process", false, "4", &c.JobWorkers},
		{"job-lease", "how long a running job is owned before another process may rescue it", false, "5m", &c.JobLease},
		{"session-ttl", "console session lifetime", false, "336h", &c.SessionTTL},
		{"invite-ttl", "lifetime of an invitation's activation link", false, "168h", &c.InviteTTL},
		{"max-body", "largest JSON request body in bytes", false, "1048576", &c.MaxBodySize},
		{"allow-insecure-http", "serve: allow an http:// base URL", false, "false", &c.AllowInsecureHTTP},
		{"geoip-db", "a MaxMind-format database file to locate visitors by IP; without it, by their time zone", false, "", &c.GeoIPDB},
		{"trusted-proxies", "comma-separated IPs or CIDRs of your reverse proxies; X-Forwarded-For from them names the client", false, "", &c.TrustedProxies},
		{"webhook-allow-private", "let webhooks and Slack/Teams channels reach loopback and private network addresses", false, "false", &c.WebhookAllowPrivate},
		{"metrics-token", "bearer token that GET /metrics requires (Authorization: Bearer …); empty leaves /metrics public", true, "", &c.MetricsToken},
	}
}

// EnvName returns the environment variable of a flag name: "smtp-host" → "BECKON_SMTP_HOST".
func EnvName(flagName string) string {
	return "BECKON_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Bind registers every setting as a flag on fs. defaults overrides the built-in defaults of some
// settings for this command (the demo listens on 127.0.0.1:8080); a flag or a BECKON_* variable
// still wins over them. Call Load after fs.Parse.
func (c *Config) Bind(fs *flag.FlagSet, defaults map[string]string) {
	c.defaults = defaults
	for _, s := range c.settings() {
		if d, ok := defaults[s.name]; ok {
			s.def = d
		}
		usage := s.usage + " (" + EnvName(s.name)
		if s.secret {
			usage += ", or " + EnvName(s.name) + "_FILE"
		}
		usage += ")"
		fs.String(s.name, s.def, usage)
	}
}

// Load fills c from fs (after Parse), then the environment given by getenv, then defaults, and
// reads *_FILE secrets. It returns an error naming the setting for any value that does not parse.
func (c *Config) Load(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	var errs []string
	for _, s := range c.settings() {
		if d, ok := c.defaults[s.name]; ok {
			s.def = d
		}
		env := EnvName(s.name)
		val, from := s.def, "default"
		if v, ok := set[s.name]; ok {
			val, from = v, "--"+s.name
		} else if v := getenv(env); v != "" {
			val, from = v, env
		} else if p := getenv(env + "_FILE"); s.secret && p != "" {
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s_FILE: %v", env, err))
				continue
			}
			val, from = strings.TrimSpace(string(b)), env+"_FILE"
		}
		if err := assign(s.ptr, val); err != nil {
			errs = append(errs, fmt.Sprintf("%s (from %s): %v", s.name, from, err))
		}
	}
	if len(errs) > 0 {
		return errors.New("config: " + strings.Join(errs, "; "))
	}
	return nil
}

func assign(ptr any, val string) error {
	switch p := ptr.(type) {
	case *string:
		*p = val
	case *int:
		n, err := strconv.Atoi(val)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", val)
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", val)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%q is not true or false", val)
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30s or 5m", val)
		}
		*p = d
	}
	return nil
}

// Defaults returns a Config holding every default value.
func Defaults() Config {
	var c Config
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	c.Bind(fs, nil)
	_ = c.Load(fs, func(string) string { return "" })
	return c
}

// ParseProxies parses a comma-separated list of IP addresses and CIDR prefixes.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// KeyBytes decodes a secret key given as hex or base64 (standard or URL alphabet, padded or not).
func KeyBytes(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not hex or base64")
}

// Validate checks the settings that every mode needs: formats and ranges. It returns an error
// listing every problem and the variable that fixes it.
func (c *Config) Validate() error {
	var p []string
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p = append(p, fmt.Sprintf("BECKON_ADDR %q is not host:port (e.g. :8080)", c.Addr))
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, fmt.Sprintf("BECKON_BASE_URL %q is not an http(s) URL", c.BaseURL))
		}
	}
	switch c.SMTPTLS {
	case "starttls", "tls", "none":
	default:
		p = append(p, fmt.Sprintf("BECKON_SMTP_TLS %q: want starttls, tls or none", c.SMTPTLS))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		p = append(p, fmt.Sprintf("BECKON_LOG_FORMAT %q: want json or text", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("BECKON_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.JobWorkers < 1 || c.JobWorkers > 256 {
		p = append(p, "BECKON_JOB_WORKERS must be between 1 and 256")
	}
	if c.JobLease < time.Second {
		p = append(p, "BECKON_JOB_LEASE must be at least 1s")
	}
	if c.SessionTTL < time.Minute || c.InviteTTL < time.Minute {
		p = append(p, "BECKON_SESSION_TTL and BECKON_INVITE_TTL must be at least 1m")
	}
	if _, err := ParseProxies(c.TrustedProxies); err != nil {
		p = append(p, "BECKON_TRUSTED_PROXIES: "+err.Error())
	}
	if c.MaxBodySize < 1024 {
		p = append(p, "BECKON_MAX_BODY must be at least 1024 bytes")
	}
	if strings.ContainsFunc(c.MetricsToken, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		p = append(p, "BECKON_METRICS_TOKEN must be printable ASCII without spaces (it travels in an HTTP header): generate one with `openssl rand -hex 32`")
	}
	if c.EmailWebhookSecret != "" && len(c.EmailWebhookSecret) < 16 {
		p = append(p, "BECKON_EMAIL_WEBHOOK_SECRET must be at least 16 characters: generate one with `openssl rand -hex 32`")
	}
	if c.SecretKey != "" {
		if b, err := KeyBytes(c.SecretKey); err != nil || len(b) < 32 {
			p = append(p, "BECKON_SECRET_KEY must be at least 32 random bytes as hex or base64: generate one with `openssl rand -hex 32`")
		}
	}
	if len(p) > 0 {
		return errors.New("config: " + strings.Join(p, "; "))
	}
	return nil
}

// ValidateProduction adds the checks `beckon serve` makes before it starts: a secret key, a public
// base URL over https (unless explicitly allowed), and a working SMTP sender so invites arrive.
// The error says exactly which variables to set.
func (c *Config) ValidateProduction() error {
	var p []string
	if err := c.Validate(); err != nil {
		p = append(p, strings.TrimPrefix(err.Error(), "config: "))
	}
	if c.SecretKey == "" {
		p = append(p, "no secret key: set BECKON_SECRET_KEY (or BECKON_SECRET_KEY_FILE) to 32+ random bytes, e.g. the output of `openssl rand -hex 32`")
	}
	if c.BaseURL == "" {
		p = append(p, "no public URL: set BECKON_BASE_URL to the https:// address users reach this server at")
	} else if u, err := url.Parse(c.BaseURL); err == nil && u.Scheme == "http" && !c.AllowInsecureHTTP {
		p = append(p, "BECKON_BASE_URL is http://: session cookies would travel unencrypted; use https://, or set BECKON_ALLOW_INSECURE_HTTP=true if a TLS proxy fronts a private network")
	}
	if c.SMTPHost == "" {
		p = append(p, "no SMTP server: set BECKON_SMTP_HOST (and BECKON_SMTP_USERNAME, BECKON_SMTP_PASSWORD, BECKON_SMTP_FROM) so invitations can be emailed")
	}
	if len(p) > 0 {
		return errors.New("unsafe production configuration:\n  - " + strings.Join(p, "\n  - "))
	}
	return nil
}

// SecureCookies reports whether cookies should carry the Secure attribute: whenever the public
// URL is https.
func (c *Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// Describe lists every setting as "flag  ENV  default" lines for documentation, sorted.
func Describe() []string {
	var c Config
	var out []string
	for _, s := range c.settings() {
		env := EnvName(s.name)
		if s.secret {
			env += " / " + env + "_FILE"
		}
		out = append(out, fmt.Sprintf("| `--%s` | `%s` | `%s` | %s |", s.name, env, s.def, s.usage))
	}
	sort.Strings(out)
	return out
}
