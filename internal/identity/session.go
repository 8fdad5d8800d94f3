package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// Session is a console login.
type Session struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	UserID      string    `json:"user_id"`
	CSRFToken   string    `json:"-"`
	UserAgent   string    `json:"user_agent"`
	IP          string    `json:"ip"`
	CreatedAt   time.Time `json:"created_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// LoginInput is a login attempt.
type LoginInput struct {
	Email       string
	Password    string
	WorkspaceID string // optional: chooses among several workspaces with the same email
	UserAgent   string
	IP          string
}

// WorkspaceChoice names a workspace a login could enter.
type WorkspaceChoice struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AmbiguousLoginError is returned by Login when the email and password are right for several
// workspaces and none was chosen: the caller asks which.
type AmbiguousLoginError struct{ Choices []WorkspaceChoice }

func (e *AmbiguousLoginError) Error() string { return "identity: login matches several workspaces" }

var errBadLogin = errs.E(errs.Unauthenticated, "wrong email or password")

// Login checks an email and password and opens a session, returning it and its secret token
// (for the cookie; only its hash is stored). Every attempt is counted for the email address before
// the password is checked; after LockoutThreshold failures in a row the address is locked with a
// doubling backoff: errs.TooMany with RetryAfter, alike for addresses with and without an account.
// Wrong credentials, unknown, deactivated and not-yet-activated accounts all give the same
// errs.Unauthenticated. Several matching workspaces and no choice: *AmbiguousLoginError.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Session, string, error) {
	email, err := NormalizeEmail("email", in.Email)
	if err != nil || in.Password == "" || len(in.Password) > 4*MaxPasswordLen {
		return nil, "", errBadLogin
	}
	if err := s.claimAttempt(ctx, email); err != nil {
		return nil, "", err
	}
	users, err := db.All(ctx, s.db, scanUser, `SELECT `+userCols+` FROM users WHERE email = $1 AND active = TRUE AND activated_at <> 0 ORDER BY created_at LIMIT 20`, email)
	if err != nil {
		return nil, "", fmt.Errorf("identity.Login: %w", err)
	}
	var cands []*User
	for _, u := range users {
		if in.WorkspaceID == "" || u.WorkspaceID == in.WorkspaceID {
			cands = append(cands, u)
		}
	}
	if len(cands) == 0 {
		if _, err := s.verify(ctx, in.Password, s.dummyHash); err != nil { // equal timing for unknown accounts
			return nil, "", err
		}
		return nil, "", errBadLogin
	}
	var ok []*User
	for _, u := range cands {
		match, err := s.verify(ctx, in.Password, u.passwordHash)
		if err != nil {
			return nil, "", fmt.Errorf("identity.Login: user %s: %w", u.ID, err)
		}
		if match {
			ok = append(ok, u)
		}
	}
	if len(ok) == 0 {
		return nil, "", errBadLogin
	}
	if err := s.clearAttempts(ctx, email); err != nil {
		return nil, "", err
	}
	if len(ok) > 1 {
		var ch []WorkspaceChoice
		for _, u := range ok {
			var name string
			if err := s.db.QueryRowContext(ctx, `SELECT name FROM workspaces WHERE id = $1`, u.WorkspaceID).Scan(&name); err != nil {
				return nil, "", fmt.Errorf("identity.Login: %w", err)
			}
			ch = append(ch, WorkspaceChoice{ID: u.WorkspaceID, Name: name})
		}
		return nil, "", &AmbiguousLoginError{Choices: ch}
	}
	return s.CreateSession(ctx, ok[0], in.UserAgent, in.IP)
}

// CreateSession opens a session for u and returns it with its secret token.
func (s *Service) CreateSession(ctx context.Context, u *User, userAgent, ip string) (*Session, string, error) {
	now := s.clk.Now()
	token := id.Token("bks")
	sess := &Session{ID: id.New("ses"), WorkspaceID: u.WorkspaceID, UserID: u.ID, CSRFToken: id.Token("csrf"),
		UserAgent: truncate(userAgent, 300), IP: truncate(ip, 64), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.opt.SessionTTL)}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id, token_hash, workspace_id, user_id, csrf_token, user_agent, ip,
		created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)`,
		sess.ID, id.Hash(token), sess.WorkspaceID, sess.UserID, sess.CSRFToken, sess.UserAgent, sess.IP, db.Micro(now), db.Micro(sess.ExpiresAt))
	if err != nil {
		return nil, "", fmt.Errorf("identity.CreateSession: %w", err)
	}
	return sess, token, nil
}

// AuthenticateSession returns the principal of a session token: errs.Unauthenticated when the
// token is unknown, expired or revoked, or its user deactivated.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (*Principal, error) {
	if !strings.HasPrefix(token, "bks_") || len(token) > 100 {
		return nil, errs.E(errs.Unauthenticated, "not logged in")
	}
	var sess Session
	var created, seen, expires, revoked int64
	row := s.db.QueryRowContext(ctx, `SELECT id, workspace_id, user_id, csrf_token, user_agent, ip, created_at, last_seen_at, expires_at, revoked_at
		FROM sessions WHERE token_hash = $1`, id.Hash(token))
	err := row.Scan(&sess.ID, &sess.WorkspaceID, &sess.UserID, &sess.CSRFToken, &sess.UserAgent, &sess.IP, &created, &seen, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.Unauthenticated, "not logged in")
	}
	if err != nil {
		return nil, fmt.Errorf("identity.AuthenticateSession: %w", err)
	}
	now := s.clk.Now()
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = db.Time(created), db.Time(seen), db.Time(expires)
	if revoked != 0 || !now.Before(sess.ExpiresAt) {
		return nil, errs.E(errs.Unauthenticated, "your session has ended; log in again")
	}
	u, err := s.GetUser(ctx, sess.WorkspaceID, sess.UserID)
	if errs.Is(err, errs.NotFound) || (err == nil && !u.Active) {
		return nil, errs.E(errs.Unauthenticated, "your session has ended; log in again")
	}
	if err != nil {
		return nil, err // a database fault is not a logout
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE workspace_id = $2 AND id = $3`, db.Micro(now), sess.WorkspaceID, sess.ID)
	}
	return &Principal{User: u, Session: &sess}, nil
}

// Logout revokes the session of token; an unknown token is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at = 0`,
		db.Micro(s.clk.Now()), id.Hash(token))
	return errs.Op("identity.Logout", err)
}
