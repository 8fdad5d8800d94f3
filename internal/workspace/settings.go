package workspace

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/secret"
)

// Settings are a workspace's choices about its messenger and its visitors' privacy.
type Settings struct {
	Messenger MessengerSettings `json:"messenger"`
	// ConsentRequired: the messenger stores nothing in a visitor's browser until they consent
	// (beckon('consent', true)).
	ConsentRequired bool `json:"consent_required"`
	// CookieDays is the lifetime of the messenger's cookie, renewed on each visit (browsers cap
	// cookies at 400 days).
	CookieDays int `json:"cookie_days"`
	// IdentityVerification: identify calls must carry a token signed with the workspace's
	// identity secret (SEC3).
	IdentityVerification bool `json:"identity_verification"`
	// IdleMinutes: a rep whose console shows no activity for this long is away for routing (C3),
	// and available again at their next activity.
	IdleMinutes int `json:"idle_minutes"`
	// LiveViewBlock lists pages and subdomains whose visitors never appear in Live View (V5):
	// each entry is a host ("careers.acme.example", "*.internal.acme.example") or a host and a
	// path prefix ("acme.example/admin"). See LiveViewBlocked.
	LiveViewBlock []string `json:"live_view_block"`
	// TargetAccounts lists the company domains of the workspace's target accounts ("globex.com"):
	// a visitor whose email or company website is at one of them is a target account (V5, N1).
	TargetAccounts []string `json:"target_accounts"`
}

// MessengerSettings shape how the messenger looks on the workspace's site.
type MessengerSettings struct {
	Color        string `json:"color"`         // #rrggbb
	Position     string `json:"position"`      // "right" or "left"
	LauncherText string `json:"launcher_text"` // the launcher button's label
	ZIndex       int    `json:"z_index"`       // of the messenger's container on the page
	Greeting     string `json:"greeting"`      // first line of the chat panel
}

// DefaultSettings are a new workspace's settings.
func DefaultSettings() Settings {
	return Settings{
		Messenger:      MessengerSettings{Color: "#3b5bdb", Position: "right", LauncherText: "Chat with us", ZIndex: 2147483000, Greeting: "Hi! How can we help?"},
		CookieDays:     395,
		IdleMinutes:    10,
		LiveViewBlock:  []string{},
		TargetAccounts: []string{},
	}
}

// SettingsPatch holds the settings to change; nil fields stay.
type SettingsPatch struct {
	Messenger *struct {
		Color        *string `json:"color"`
		Position     *string `json:"position"`
		LauncherText *string `json:"launcher_text"`
		ZIndex       *int    `json:"z_index"`
		Greeting     *string `json:"greeting"`
	} `json:"messenger"`
	ConsentRequired      *bool     `json:"consent_required"`
	CookieDays           *int      `json:"cookie_days"`
	IdentityVerification *bool     `json:"identity_verification"`
	IdleMinutes          *int      `json:"idle_minutes"`
	LiveViewBlock        *[]string `json:"live_view_block"`
	TargetAccounts       *[]string `json:"target_accounts"`
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// apply changes st by p, returning errs.Invalid naming the field ("settings.messenger.color").
// hasSecret tells whether identity verification can be switched on.
func (p *SettingsPatch) apply(st *Settings, hasSecret bool) error {
	if m := p.Messenger; m != nil {
		if m.Color != nil {
			if !colorRE.MatchString(*m.Color) {
				return errs.Field(errs.Invalid, "settings.messenger.color", "must be a colour like #3b5bdb")
			}
			st.Messenger.Color = strings.ToLower(*m.Color)
		}
		if m.Position != nil {
			if *m.Position != "left" && *m.Position != "right" {
				return errs.Field(errs.Invalid, "settings.messenger.position", "must be left or right")
			}
			st.Messenger.Position = *m.Position
		}
		if m.LauncherText != nil {
			t, err := settingText("settings.messenger.launcher_text", *m.LauncherText, 1, 40)
			if err != nil {
				return err
			}
			st.Messenger.LauncherText = t
		}
		if m.ZIndex != nil {
			if *m.ZIndex < 0 || *m.ZIndex > 2147483647 {
				return errs.Field(errs.Invalid, "settings.messenger.z_index", "must be from 0 to 2147483647")
			}
			st.Messenger.ZIndex = *m.ZIndex
		}
		if m.Greeting != nil {
			t, err := settingText("settings.messenger.greeting", *m.Greeting, 0, 300)
			if err != nil {
				return err
			}
			st.Messenger.Greeting = t
		}
	}
	if p.ConsentRequired != nil {
		st.ConsentRequired = *p.ConsentRequired
	}
	if p.CookieDays != nil {
		if *p.CookieDays < 1 || *p.CookieDays > 400 {
			return errs.Field(errs.Invalid, "settings.cookie_days", "must be from 1 to 400 days (browsers keep cookies at most 400 days)")
		}
		st.CookieDays = *p.CookieDays
	}
	if p.IdentityVerification != nil {
		if *p.IdentityVerification && !hasSecret {
			return errs.Field(errs.Conflict, "settings.identity_verification", "create an identity secret first (POST /api/v1/workspace/identity-secret), and sign identify calls with it")
		}
		st.IdentityVerification = *p.IdentityVerification
	}
	if p.IdleMinutes != nil {
		if *p.IdleMinutes < 1 || *p.IdleMinutes > 240 {
			return errs.Field(errs.Invalid, "settings.idle_minutes", "must be from 1 to 240 minutes")
		}
		st.IdleMinutes = *p.IdleMinutes
	}
	if p.LiveViewBlock != nil {
		list, err := normalizeBlockList(*p.LiveViewBlock)
		if err != nil {
			return err
		}
		st.LiveViewBlock = list
	}
	if p.TargetAccounts != nil {
		list, err := normalizeDomains(*p.TargetAccounts)
		if err != nil {
			return err
		}
		st.TargetAccounts = list
	}
	return nil
}

func settingText(field, s string, minLen, maxLen int) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n < minLen || n > maxLen || strings.ContainsFunc(s, controlOrFormat) {
		return "", errs.Field(errs.Invalid, field, "must be %d to %d characters of plain text on one line", minLen, maxLen)
	}
	return s, nil
}

// decodeSettings reads the stored settings over the defaults, so settings added later get their
// default value in older workspaces.
func decodeSettings(raw string) (Settings, error) {
	st := DefaultSettings()
	if raw == "" || raw == "{}" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return st, fmt.Errorf("workspace settings: %w", err)
	}
	return st, nil
}

func secretAD(wsID string) string { return "workspaces/" + wsID + "/identity_secret" }

// RotateIdentitySecret makes a new identity-verification secret for the workspace, stores it
// sealed with keys, and returns it: the only time it is shown. Tokens signed with the previous
// secret stop verifying at once. It returns errs.Unavailable when no key is configured and
// errs.NotFound for an unknown workspace.
func (s *Store) RotateIdentitySecret(ctx context.Context, wsID string, keys *secret.Keyring) (string, error) {
	if keys == nil {
		return "", errs.E(errs.Unavailable, "no secret key is configured (BECKON_SECRET_KEY), so secrets cannot be stored")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	sec := base64.RawURLEncoding.EncodeToString(b[:])
	res, err := s.db.ExecContext(ctx, `UPDATE workspaces SET identity_secret = $1, updated_at = $2 WHERE id = $3`,
		keys.Seal([]byte(sec), secretAD(wsID)), db.Micro(s.clk.Now()), wsID)
	if err != nil {
		return "", errs.Op("workspace.RotateIdentitySecret", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", errs.NotFoundf("no such workspace")
	}
	if w, err := s.Get(ctx, wsID); err == nil {
		s.forget(w)
	}
	return sec, nil
}

// IdentitySecret returns the workspace's identity-verification secret, or errs.NotFound when it
// has none.
func (s *Store) IdentitySecret(ctx context.Context, wsID string, keys *secret.Keyring) ([]byte, error) {
	var sealed string
	err := s.db.QueryRowContext(ctx, `SELECT identity_secret FROM workspaces WHERE id = $1`, wsID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sealed == "") {
		return nil, errs.NotFoundf("this workspace has no identity secret")
	}
	if err != nil {
		return nil, errs.Op("workspace.IdentitySecret", err)
	}
	if keys == nil {
		return nil, errs.E(errs.Unavailable, "no secret key is configured (BECKON_SECRET_KEY) to open the identity secret")
	}
	b, err := keys.Open(sealed, secretAD(wsID))
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "the identity secret cannot be opened with this server's keys")
	}
	return b, nil
}
