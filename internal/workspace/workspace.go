// Package workspace owns the tenants of a Beckon server: a workspace has a name, an unguessable
// public site id (named in its website snippet), the origins its messenger may be embedded on,
// a default time zone and settings. Every other row in Beckon belongs to exactly one workspace.
package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/timezone"
)

// Workspace is a tenant.
type Workspace struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	SiteID         string   `json:"site_id"`
	TimeZone       string   `json:"time_zone"`
	AllowedOrigins []string `json:"allowed_origins"`
	Settings       Settings `json:"settings"`
	// HasIdentitySecret tells whether an identity-verification secret exists (never the secret).
	HasIdentitySecret bool      `json:"has_identity_secret"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// MaxOrigins is the most allowed origins a workspace may list.
const MaxOrigins = 50

// Store reads and writes workspaces.
type Store struct {
	db  *db.DB
	clk clock.Clock

	// bySite caches BySiteID, which every messenger request asks: entries live SiteCacheTTL and
	// this process's own changes drop them at once.
	mu     sync.Mutex
	bySite map[string]siteEntry
	byID   map[string]siteEntry // Cached's entries, kept the same way
	gen    uint64               // bumped by forget: a read that began before a change is not kept
}

type siteEntry struct {
	w  *Workspace
	at time.Time
}

// SiteCacheTTL is how long BySiteID answers from memory: another replica's change to a workspace
// reaches this one's messenger endpoints within it.
const SiteCacheTTL = 5 * time.Second

// maxSiteCache bounds the cache; past it, it starts over (a server hosts few workspaces).
const maxSiteCache = 10_000

// NewStore returns a Store on d.
func NewStore(d *db.DB, clk clock.Clock) *Store {
	return &Store{db: d, clk: clk, bySite: map[string]siteEntry{}, byID: map[string]siteEntry{}}
}

// forget drops a workspace from the caches after a change.
func (s *Store) forget(w *Workspace) {
	s.mu.Lock()
	delete(s.bySite, w.SiteID)
	delete(s.byID, w.ID)
	s.gen++
	s.mu.Unlock()
}

// New describes a workspace to create.
type New struct {
	Name           string
	TimeZone       string
	AllowedOrigins []string
}

// Create inserts a workspace with fresh random ids, using q (a transaction or the database).
// It returns errs.Invalid naming the field for a bad name, zone or origin.
func (s *Store) Create(ctx context.Context, q db.Queryer, n New) (*Workspace, error) {
	name, err := ValidateName(n.Name)
	if err != nil {
		return nil, err
	}
	if n.TimeZone == "" {
		n.TimeZone = "UTC"
	}
	if err := timezone.Validate("time_zone", n.TimeZone); err != nil {
		return nil, err
	}
	origins, err := NormalizeOrigins(n.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	now := s.clk.Now()
	w := &Workspace{ID: id.New("ws"), Name: name, SiteID: id.New("site"), TimeZone: n.TimeZone,
		AllowedOrigins: origins, Settings: DefaultSettings(), CreatedAt: now, UpdatedAt: now}
	ob, _ := json.Marshal(origins)
	_, err = q.ExecContext(ctx, `INSERT INTO workspaces (id, name, site_id, time_zone, allowed_origins, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`, w.ID, w.Name, w.SiteID, w.TimeZone, string(ob), db.Micro(now))
	if err != nil {
		return nil, fmt.Errorf("workspace.Create: %w", err)
	}
	return w, nil
}

const cols = `id, name, site_id, time_zone, allowed_origins, settings, identity_secret <> '', created_at, updated_at`

func scan(row db.Scanner) (*Workspace, error) {
	var w Workspace
	var origins, settings string
	var created, updated int64
	if err := row.Scan(&w.ID, &w.Name, &w.SiteID, &w.TimeZone, &origins, &settings, &w.HasIdentitySecret, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if w.Settings, err = decodeSettings(settings); err != nil {
		return nil, fmt.Errorf("workspace %s: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(origins), &w.AllowedOrigins); err != nil {
		return nil, fmt.Errorf("workspace %s: allowed_origins: %w", w.ID, err)
	}
	if w.AllowedOrigins == nil {
		w.AllowedOrigins = []string{}
	}
	w.CreatedAt, w.UpdatedAt = db.Time(created), db.Time(updated)
	return &w, nil
}

// Get returns the workspace with the given id, or errs.NotFound.
func (s *Store) Get(ctx context.Context, wsID string) (*Workspace, error) {
	w, err := scan(s.db.QueryRowContext(ctx, `SELECT `+cols+` FROM workspaces WHERE id = $1`, wsID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such workspace")
	}
	if err != nil {
		return nil, fmt.Errorf("workspace.Get: %w", err)
	}
	return w, nil
}

// Cached is Get for hot paths (every chat message asks): it answers from memory for up to
// SiteCacheTTL, like BySiteID, and this process's own changes drop the entry at once. The answer
// is shared between callers, who must not modify it. It returns errs.NotFound for an unknown id.
func (s *Store) Cached(ctx context.Context, wsID string) (*Workspace, error) {
	return s.cached(s.byID, wsID, func() (*Workspace, error) { return s.Get(ctx, wsID) })
}

// BySiteID returns the workspace whose public site id is siteID, or errs.NotFound.
//
// The answer may be up to SiteCacheTTL old when another replica changed the workspace; it is
// shared between callers, who must not modify it.
func (s *Store) BySiteID(ctx context.Context, siteID string) (*Workspace, error) {
	return s.cached(s.bySite, siteID, func() (*Workspace, error) {
		w, err := scan(s.db.QueryRowContext(ctx, `SELECT `+cols+` FROM workspaces WHERE site_id = $1`, siteID))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errs.NotFoundf("no such site")
		}
		if err != nil {
			return nil, fmt.Errorf("workspace.BySiteID: %w", err)
		}
		return w, nil
	})
}

// cached answers key from m while its entry is younger than SiteCacheTTL, and otherwise loads it
// and keeps it — unless this process changed a workspace while it loaded (forget), when the
// answer may be older than the change.
func (s *Store) cached(m map[string]siteEntry, key string, load func() (*Workspace, error)) (*Workspace, error) {
	now := time.Now() // wall time, not the domain clock: a cache's age, whatever a test's clock says
	s.mu.Lock()
	e, ok := m[key]
	gen := s.gen
	s.mu.Unlock()
	if ok && now.Sub(e.at) < SiteCacheTTL {
		return e.w, nil
	}
	w, err := load()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(m) >= maxSiteCache {
		clear(m)
	}
	if s.gen == gen {
		m[key] = siteEntry{w: w, at: now}
	}
	s.mu.Unlock()
	return w, nil
}

// Patch holds the fields an admin may change; nil fields stay as they are.
type Patch struct {
	Name           *string        `json:"name"`
	TimeZone       *string        `json:"time_zone"`
	AllowedOrigins *[]string      `json:"allowed_origins"`
	Settings       *SettingsPatch `json:"settings"`
}

// Update applies p to the workspace and returns it. It returns errs.Invalid naming the field for a
// bad value (nothing is written then) and errs.NotFound for an unknown workspace.
func (s *Store) Update(ctx context.Context, wsID string, p Patch) (*Workspace, error) {
	var out *Workspace
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		w, err := scan(tx.QueryRowContext(ctx, `SELECT `+cols+` FROM workspaces WHERE id = $1`, wsID))
		if errors.Is(err, sql.ErrNoRows) {
			return errs.NotFoundf("no such workspace")
		}
		if err != nil {
			return err
		}
		if p.Name != nil {
			if w.Name, err = ValidateName(*p.Name); err != nil {
				return err
			}
		}
		if p.TimeZone != nil {
			if err := timezone.Validate("time_zone", *p.TimeZone); err != nil {
				return err
			}
			w.TimeZone = *p.TimeZone
		}
		if p.AllowedOrigins != nil {
			if w.AllowedOrigins, err = NormalizeOrigins(*p.AllowedOrigins); err != nil {
				return err
			}
		}
		if p.Settings != nil {
			if err := p.Settings.apply(&w.Settings, w.HasIdentitySecret); err != nil {
				return err
			}
		}
		w.UpdatedAt = s.clk.Now()
		ob, _ := json.Marshal(w.AllowedOrigins)
		sb, _ := json.Marshal(w.Settings)
		_, err = tx.ExecContext(ctx, `UPDATE workspaces SET name = $1, time_zone = $2, allowed_origins = $3, settings = $4, updated_at = $5 WHERE id = $6`,
			w.Name, w.TimeZone, string(ob), string(sb), db.Micro(w.UpdatedAt), w.ID)
		out = w
		return err
	})
	if err != nil {
		return nil, errs.Op("workspace.Update", err)
	}
	s.forget(out)
	return out, nil
}

// MaxNameLen is the most characters a workspace name may have.
const MaxNameLen = 100

// ValidateName trims a workspace name and checks it is 1–MaxNameLen characters of printable text:
// valid UTF-8 without control characters (Unicode category Cc: NUL, tab, line breaks…) or format
// characters (Cf: bidirectional overrides such as U+202E, zero-width characters), which could make
// a name display as something else. It returns errs.Invalid on field "name".
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errs.Field(errs.Invalid, "name", "is required")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen || strings.ContainsFunc(name, controlOrFormat) {
		return "", errs.Field(errs.Invalid, "name", "must be at most %d characters of printable text", MaxNameLen)
	}
	return name, nil
}

// controlOrFormat reports whether r is a control (Cc) or format (Cf) character, except the
// zero-width joiner, which emoji sequences need and which cannot reorder text.
func controlOrFormat(r rune) bool { return r != '\u200d' && unicode.In(r, unicode.Cc, unicode.Cf) }

// NormalizeOrigins checks each entry is a web origin — scheme http or https, a host, an optional
// port, nothing else — and returns them lower-cased, without default ports, de-duplicated.
// "https://*.acme.example" allows every subdomain. It returns errs.Invalid naming the entry.
func NormalizeOrigins(in []string) ([]string, error) {
	if len(in) > MaxOrigins {
		return nil, errs.Field(errs.Invalid, "allowed_origins", "at most %d origins", MaxOrigins)
	}
	out := []string{}
	seen := map[string]bool{}
	for i, o := range in {
		field := fmt.Sprintf("allowed_origins[%d]", i)
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, errs.Field(errs.Invalid, field, "%s", err.Error())
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// NormalizeOrigin returns the canonical form of one origin, or an error saying what is wrong; a
// port must be a number from 1 to 65535.
func NormalizeOrigin(o string) (string, error) {
	o = strings.TrimSpace(o)
	if len(o) > 253+20 {
		return "", errors.New("is too long")
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an origin like https://www.acme.example", o)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q: an origin has no path, query, fragment or user (just scheme://host[:port])", o)
	}
	host := strings.ToLower(u.Hostname())
	wild := strings.HasPrefix(host, "*.")
	check := strings.TrimPrefix(host, "*.")
	if check == "" || strings.ContainsAny(check, "*_ ") || strings.HasPrefix(check, ".") || strings.HasSuffix(check, ".") {
		return "", fmt.Errorf("%q has an invalid host", o)
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port) // url.Parse let only digits through
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q has an invalid port: want a number from 1 to 65535", o)
		}
		port = strconv.Itoa(n) // without leading zeros
	}
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	h := host
	if wild {
		h = "*." + check
	}
	if strings.Contains(check, ":") { // IPv6 literal
		h = "[" + check + "]"
	}
	if port != "" {
		h += ":" + port
	}
	return u.Scheme + "://" + h, nil
}

// OriginAllowed reports whether origin (as a browser sends it in the Origin header) is one of the
// workspace's allowed origins, a "*.domain" entry matching any subdomain of domain.
func (w *Workspace) OriginAllowed(origin string) bool {
	n, err := NormalizeOrigin(origin)
	if err != nil || strings.Contains(n, "*") {
		return false
	}
	for _, a := range w.AllowedOrigins {
		if a == n {
			return true
		}
		scheme, rest, _ := strings.Cut(a, "://")
		if base, ok := strings.CutPrefix(rest, "*."); ok {
			ns, nrest, _ := strings.Cut(n, "://")
			if ns == scheme && strings.HasSuffix(nrest, "."+base) {
				return true
			}
		}
	}
	return false
}
