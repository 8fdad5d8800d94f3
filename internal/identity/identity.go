// Package identity owns the people of a workspace and how they prove who they are: users and
// their roles and profiles, passwords (argon2id) with lockout, invitations with expiring
// activation links, console sessions, and scoped API tokens. Every method is scoped by workspace:
// an id from another workspace is errs.NotFound.
package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/timezone"
)

// Mailer queues an email inside the caller's transaction, so that the email is sent if and only
// if the transaction commits (the email package's Outbox does this with a durable job).
type Mailer interface {
	Queue(ctx context.Context, tx db.Queryer, workspaceID string, m email.Message) error
}

// Options configure a Service.
type Options struct {
	BaseURL    string        // public URL of the console, for activation links
	InviteTTL  time.Duration // lifetime of an activation link (default 7 days)
	SessionTTL time.Duration // lifetime of a console session (default 14 days)
	Hash       HashParams    // password hashing cost (default DefaultHashParams)
	// LockoutThreshold failed logins in a row lock an account for LockoutBase, doubling with each
	// further failure up to LockoutMax. Defaults: 5, 30 s, 1 h.
	LockoutThreshold int
	LockoutBase      time.Duration
	LockoutMax       time.Duration
	// MaxHeavy bounds the password hashes and photo decodes running at once (each argon2id hash
	// holds Hash.Memory KiB); further ones wait. Default: the number of CPUs, at least 2.
	MaxHeavy int
}

// Service is the identity domain.
type Service struct {
	db        *db.DB
	clk       clock.Clock
	mail      Mailer
	opt       Options
	dummyHash string        // verified against when no user matches, so timing does not reveal accounts
	heavy     chan struct{} // bounds the argon2 hashes and image decodes running at once
}

// NewService returns a Service. mail may be nil only in tests that send no invitations.
func NewService(d *db.DB, clk clock.Clock, mail Mailer, opt Options) *Service {
	if opt.InviteTTL == 0 {
		opt.InviteTTL = 7 * 24 * time.Hour
	}
	if opt.SessionTTL == 0 {
		opt.SessionTTL = 14 * 24 * time.Hour
	}
	if opt.Hash == (HashParams{}) {
		opt.Hash = DefaultHashParams
	}
	if opt.LockoutThreshold == 0 {
		opt.LockoutThreshold = 5
	}
	if opt.LockoutBase == 0 {
		opt.LockoutBase = 30 * time.Second
	}
	if opt.LockoutMax == 0 {
		opt.LockoutMax = time.Hour
	}
	opt.BaseURL = strings.TrimRight(opt.BaseURL, "/")
	if opt.MaxHeavy == 0 {
		opt.MaxHeavy = max(2, runtime.NumCPU())
	}
	return &Service{db: d, clk: clk, mail: mail, opt: opt, dummyHash: HashPassword("not a password", opt.Hash),
		heavy: make(chan struct{}, opt.MaxHeavy)}
}

// User is a person in a workspace.
type User struct {
	ID            string    `json:"id"`
	WorkspaceID   string    `json:"workspace_id"`
	Email         string    `json:"email"`
	Role          Role      `json:"role"`
	FirstName     string    `json:"first_name"`
	LastName      string    `json:"last_name"`
	JobTitle      string    `json:"job_title"`
	Phone         string    `json:"phone"`
	TimeZone      string    `json:"time_zone"`
	Active        bool      `json:"active"`    // false once deactivated
	Activated     bool      `json:"activated"` // true once a password is set
	Status        string    `json:"status"`    // "invited", "active" or "deactivated"
	HasPhoto      bool      `json:"has_photo"`
	ActivatedAt   time.Time `json:"activated_at"`
	DeactivatedAt time.Time `json:"deactivated_at"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	passwordHash string
}

// Name returns "First Last", or the email when both are empty.
func (u *User) Name() string {
	n := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if n == "" {
		return u.Email
	}
	return n
}

const userCols = `id, workspace_id, email, role, first_name, last_name, job_title, phone, time_zone,
	password_hash, active, activated_at, deactivated_at, photo_updated_at, created_at, updated_at`

func scanUser(row db.Scanner) (*User, error) {
	var u User
	var activated, deactivated, photo, created, updated int64
	err := row.Scan(&u.ID, &u.WorkspaceID, &u.Email, &u.Role, &u.FirstName, &u.LastName, &u.JobTitle, &u.Phone,
		&u.TimeZone, &u.passwordHash, &u.Active, &activated, &deactivated, &photo, &created, &updated)
	if err != nil {
		return nil, err
	}
	u.ActivatedAt, u.DeactivatedAt = db.Time(activated), db.Time(deactivated)
	u.CreatedAt, u.UpdatedAt = db.Time(created), db.Time(updated)
	u.Activated = activated != 0
	u.HasPhoto = photo != 0
	switch {
	case !u.Active:
		u.Status = "deactivated"
	case !u.Activated:
		u.Status = "invited"
	default:
		u.Status = "active"
	}
	return &u, nil
}

// NormalizeEmail checks an address with Beckon's one validator (internal/email/address) and
// returns its normalized form (lower case, NFC). It returns errs.Invalid about field.
func NormalizeEmail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errs.Field(errs.Invalid, field, "is required")
	}
	a, err := address.Parse(s)
	if err != nil {
		msg := "is not an email address"
		if e := errs.As(err); e != nil {
			msg = e.Message
		}
		return "", &errs.Error{Kind: errs.Invalid, Field: field, Message: fmt.Sprintf("%q: %s", truncate(s, 80), msg), Err: err}
	}
	return a.String(), nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// checkText validates a short free-text profile field: valid UTF-8, one line, no control or
// format characters (such as U+202E, which reverses how the rest of a line reads).
func checkText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return "", errs.Field(errs.Invalid, field, "must be at most %d characters on one line", max)
	}
	for _, r := range s {
		if r != '\u200d' && unicode.In(r, unicode.Cc, unicode.Cf) { // the zero-width joiner builds emoji
			return "", errs.Field(errs.Invalid, field, "must be plain text on one line, without control characters")
		}
	}
	return s, nil
}

// checkPhone accepts digits, spaces and + - ( ) . / x, up to 40 characters.
func checkPhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 40 || strings.Trim(s, "0123456789 +-().x/") != "" {
		return "", errs.Field(errs.Invalid, "phone", "must be a phone number (digits, spaces and + - ( ) .)")
	}
	return s, nil
}

// NewUser describes a user to create directly (the first admin, seeded users).
type NewUser struct {
	WorkspaceID string
	Email       string
	Role        Role
	FirstName   string
	LastName    string
	TimeZone    string // default: the workspace's
	Password    string // when set, the user is active at once; when empty, invited
}

// CreateUser inserts a user using q (a transaction or the database). It returns errs.Invalid
// naming the field, or errs.Conflict when the email is taken in the workspace.
func (s *Service) CreateUser(ctx context.Context, q db.Queryer, n NewUser) (*User, error) {
	email, err := NormalizeEmail("email", n.Email)
	if err != nil {
		return nil, err
	}
	if _, err := ParseRole(string(n.Role)); err != nil {
		return nil, err
	}
	first, err := checkText("first_name", n.FirstName, 100)
	if err != nil {
		return nil, err
	}
	last, err := checkText("last_name", n.LastName, 100)
	if err != nil {
		return nil, err
	}
	if n.TimeZone == "" {
		var tz string
		if err := q.QueryRowContext(ctx, `SELECT time_zone FROM workspaces WHERE id = $1`, n.WorkspaceID).Scan(&tz); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, errs.NotFoundf("no such workspace")
			}
			return nil, fmt.Errorf("identity.CreateUser: %w", err)
		}
		n.TimeZone = tz
	}
	if err := timezone.Validate("time_zone", n.TimeZone); err != nil {
		return nil, err
	}
	hash, activated := "", int64(0)
	now := s.clk.Now()
	if n.Password != "" {
		if err := CheckPassword(n.Password, email); err != nil {
			return nil, err
		}
		if hash, err = s.hash(ctx, n.Password); err != nil {
			return nil, err
		}
		activated = db.Micro(now)
	}
	uid := id.New("usr")
	_, err = q.ExecContext(ctx, `INSERT INTO users (id, workspace_id, email, role, first_name, last_name, time_zone,
		password_hash, active, activated_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $10, $10)`,
		uid, n.WorkspaceID, email, string(n.Role), first, last, n.TimeZone, hash, activated, db.Micro(now))
	if db.IsUniqueViolation(err) {
		return nil, errs.Field(errs.Conflict, "email", "%s is already a user of this workspace", email)
	}
	if err != nil {
		return nil, fmt.Errorf("identity.CreateUser: %w", err)
	}
	return s.getUser(ctx, q, n.WorkspaceID, uid)
}

func (s *Service) getUser(ctx context.Context, q db.Queryer, wsID, userID string) (*User, error) {
	if !id.Valid("usr", userID) {
		return nil, errs.NotFoundf("no such user")
	}
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = $1 AND id = $2`, wsID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such user")
	}
	if err != nil {
		return nil, fmt.Errorf("identity.getUser: %w", err)
	}
	return u, nil
}

// GetUser returns a user of the workspace, or errs.NotFound.
func (s *Service) GetUser(ctx context.Context, wsID, userID string) (*User, error) {
	return s.getUser(ctx, s.db, wsID, userID)
}

// UserByEmail returns the user of the workspace with that email, or errs.NotFound.
func (s *Service) UserByEmail(ctx context.Context, wsID, email string) (*User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = $1 AND email = $2`,
		wsID, strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such user")
	}
	if err != nil {
		return nil, fmt.Errorf("identity.UserByEmail: %w", err)
	}
	return u, nil
}

// ListUsers returns the workspace's users, oldest first.
func (s *Service) ListUsers(ctx context.Context, wsID string) ([]*User, error) {
	out, err := db.All(ctx, s.db, scanUser, `SELECT `+userCols+` FROM users WHERE workspace_id = $1 ORDER BY created_at, id LIMIT 10000`, wsID)
	return out, errs.Op("identity.ListUsers", err)
}

// UserPatch holds the fields to change; nil fields stay.
type UserPatch struct {
	Role      *string `json:"role"`
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
	JobTitle  *string `json:"job_title"`
	Phone     *string `json:"phone"`
	TimeZone  *string `json:"time_zone"`
}

// UpdateUser changes a user on behalf of actor. Anyone may change their own profile; only an
// admin may change another user or any role, and the last active admin cannot be demoted.
// It returns errs.Invalid naming the field, errs.Forbidden, errs.Conflict or errs.NotFound;
// nothing is written on error.
func (s *Service) UpdateUser(ctx context.Context, actor *User, userID string, p UserPatch) (*User, error) {
	var out *User
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		u, err := s.getUser(ctx, tx, actor.WorkspaceID, userID)
		if err != nil {
			return err
		}
		if actor.Role != RoleAdmin && (actor.ID != u.ID || p.Role != nil) {
			return errs.E(errs.Forbidden, "only an admin can change another user or a role")
		}
		if p.Role != nil {
			r, err := ParseRole(*p.Role)
			if err != nil {
				return err
			}
			if u.Role == RoleAdmin && r != RoleAdmin {
				if err := s.checkNotLastAdmin(ctx, tx, u); err != nil {
					return err
				}
			}
			u.Role = r
		}
		for _, f := range []struct {
			field string
			in    *string
			dst   *string
			max   int
		}{{"first_name", p.FirstName, &u.FirstName, 100}, {"last_name", p.LastName, &u.LastName, 100}, {"job_title", p.JobTitle, &u.JobTitle, 120}} {
			if f.in != nil {
				if *f.dst, err = checkText(f.field, *f.in, f.max); err != nil {
					return err
				}
			}
		}
		if p.Phone != nil {
			if u.Phone, err = checkPhone(*p.Phone); err != nil {
				return err
			}
		}
		if p.TimeZone != nil {
			if err := timezone.Validate("time_zone", *p.TimeZone); err != nil {
				return err
			}
			u.TimeZone = *p.TimeZone
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET role = $1, first_name = $2, last_name = $3, job_title = $4, phone = $5,
			time_zone = $6, updated_at = $7 WHERE workspace_id = $8 AND id = $9`,
			string(u.Role), u.FirstName, u.LastName, u.JobTitle, u.Phone, u.TimeZone, db.Micro(s.clk.Now()), u.WorkspaceID, u.ID)
		if err != nil {
			return err
		}
		out, err = s.getUser(ctx, tx, u.WorkspaceID, u.ID)
		return err
	})
	return out, errs.Op("identity.UpdateUser", err)
}

// checkNotLastAdmin returns errs.Conflict when u is the workspace's only active admin. It first
// locks the workspace's row for the rest of the transaction q, so that two admins demoting or
// deactivating each other at once cannot both pass the check.
func (s *Service) checkNotLastAdmin(ctx context.Context, q db.Queryer, u *User) error {
	var ws string
	if err := q.QueryRowContext(ctx, `SELECT id FROM workspaces WHERE id = $1`+s.db.ForUpdate(), u.WorkspaceID).Scan(&ws); err != nil {
		return err
	}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE workspace_id = $1 AND role = 'admin' AND active = TRUE AND id <> $2`,
		u.WorkspaceID, u.ID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.Conflict, "%s is the last active admin of this workspace; make someone else admin first", u.Email)
	}
	return nil
}

// Deactivate ends a user's access at once: the user can no longer log in, and every session and
// API token of theirs is revoked in the same transaction. Only admins may deactivate; nobody may
// deactivate the last active admin. Returns errs.Forbidden, errs.Conflict or errs.NotFound.
func (s *Service) Deactivate(ctx context.Context, actor *User, userID string) (*User, error) {
	if actor.Role != RoleAdmin {
		return nil, errs.E(errs.Forbidden, "only an admin can deactivate users")
	}
	var out *User
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		u, err := s.getUser(ctx, tx, actor.WorkspaceID, userID)
		if err != nil {
			return err
		}
		if !u.Active {
			out = u
			return nil
		}
		if u.Role == RoleAdmin {
			if err := s.checkNotLastAdmin(ctx, tx, u); err != nil {
				return err
			}
		}
		now := db.Micro(s.clk.Now())
		stmts := []string{
			`UPDATE users SET active = FALSE, deactivated_at = $1, updated_at = $1 WHERE workspace_id = $2 AND id = $3`,
			`UPDATE sessions SET revoked_at = $1 WHERE workspace_id = $2 AND user_id = $3 AND revoked_at = 0`,
			`UPDATE api_tokens SET revoked_at = $1 WHERE workspace_id = $2 AND user_id = $3 AND revoked_at = 0`,
			`UPDATE invites SET voided_at = $1 WHERE workspace_id = $2 AND user_id = $3 AND voided_at = 0 AND used_at = 0`,
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q, now, u.WorkspaceID, u.ID); err != nil {
				return err
			}
		}
		out, err = s.getUser(ctx, tx, u.WorkspaceID, u.ID)
		return err
	})
	return out, errs.Op("identity.Deactivate", err)
}

// Reactivate gives a deactivated user access again (they log in with their old password, or
// need a new invitation if they never activated). Admins only: errs.Forbidden, errs.NotFound.
func (s *Service) Reactivate(ctx context.Context, actor *User, userID string) (*User, error) {
	if actor.Role != RoleAdmin {
		return nil, errs.E(errs.Forbidden, "only an admin can reactivate users")
	}
	u, err := s.GetUser(ctx, actor.WorkspaceID, userID)
	if err != nil {
		return nil, err
	}
	now := db.Micro(s.clk.Now())
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET active = TRUE, deactivated_at = 0,
		updated_at = $1 WHERE workspace_id = $2 AND id = $3`, now, u.WorkspaceID, u.ID); err != nil {
		return nil, fmt.Errorf("identity.Reactivate: %w", err)
	}
	return s.GetUser(ctx, u.WorkspaceID, u.ID)
}

// UsersByEmail returns every user with that email across all workspaces, oldest first. It is for
// operators' tools (the demo seed), never for a request of one workspace.
func (s *Service) UsersByEmail(ctx context.Context, email string) ([]*User, error) {
	out, err := db.All(ctx, s.db, scanUser, `SELECT `+userCols+` FROM users WHERE email = $1 ORDER BY created_at LIMIT 100`,
		strings.ToLower(strings.TrimSpace(email)))
	return out, errs.Op("identity.UsersByEmail", err)
}
