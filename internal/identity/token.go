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

// Token is an API token. Its secret is shown once, at creation; only its hash is stored.
type Token struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	UserID      string    `json:"user_id"`
	Name        string    `json:"name"`
	Prefix      string    `json:"prefix"` // the first characters of the secret, to recognise it
	Scopes      []Scope   `json:"scopes"`
	CreatedAt   time.Time `json:"created_at"`
	LastUsedAt  time.Time `json:"last_used_at"`
	ExpiresAt   time.Time `json:"expires_at"` // zero: never
	Revoked     bool      `json:"revoked"`
}

// TokenInput describes a token to create.
type TokenInput struct {
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateToken makes an API token for the caller p with the given scopes. Each scope must be
// granted by the caller's role and, when the caller is itself an API token, held by that token:
// a token never mints a stronger one. It returns the token and its secret ("bkt_…"), or
// errs.Invalid naming the field, or errs.Forbidden for a scope beyond the caller's.
func (s *Service) CreateToken(ctx context.Context, p *Principal, in TokenInput) (*Token, string, error) {
	owner := p.User
	name, err := checkText("name", in.Name, 100)
	if err != nil {
		return nil, "", err
	}
	if name == "" {
		return nil, "", errs.Field(errs.Invalid, "name", "is required")
	}
	scopes, err := ParseScopes(in.Scopes)
	if err != nil {
		return nil, "", err
	}
	for _, sc := range scopes {
		if !RoleAllows(owner.Role, sc) {
			return nil, "", errs.Field(errs.Forbidden, "scopes", "your role (%s) does not grant %s", owner.Role, sc)
		}
		if p.Token != nil && !scopesAllow(p.Token.Scopes, sc) {
			return nil, "", errs.Field(errs.Forbidden, "scopes", "the token making this request does not hold %s", sc)
		}
	}
	now := s.clk.Now()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return nil, "", errs.Field(errs.Invalid, "expires_at", "must be in the future")
	}
	secret := id.Token("bkt")
	t := &Token{ID: id.New("tok"), WorkspaceID: owner.WorkspaceID, UserID: owner.ID, Name: name, Prefix: secret[:10],
		Scopes: scopes, CreatedAt: now, ExpiresAt: in.ExpiresAt.UTC()}
	_, err = s.db.ExecContext(ctx, `INSERT INTO api_tokens (id, workspace_id, user_id, name, prefix, token_hash, scopes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.ID, t.WorkspaceID, t.UserID, t.Name, t.Prefix, id.Hash(secret),
		joinScopes(scopes), db.Micro(now), db.Micro(t.ExpiresAt))
	if err != nil {
		return nil, "", fmt.Errorf("identity.CreateToken: %w", err)
	}
	return t, secret, nil
}

func joinScopes(sc []Scope) string {
	s := make([]string, len(sc))
	for i, x := range sc {
		s[i] = string(x)
	}
	return strings.Join(s, " ")
}

func splitScopes(s string) []Scope {
	out := []Scope{}
	for _, f := range strings.Fields(s) {
		out = append(out, Scope(f))
	}
	return out
}

const tokenCols = `id, workspace_id, user_id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at`

func scanToken(row db.Scanner) (*Token, error) {
	var t Token
	var scopes string
	var created, used, expires, revoked int64
	if err := row.Scan(&t.ID, &t.WorkspaceID, &t.UserID, &t.Name, &t.Prefix, &scopes, &created, &used, &expires, &revoked); err != nil {
		return nil, err
	}
	t.Scopes = splitScopes(scopes)
	t.CreatedAt, t.LastUsedAt, t.ExpiresAt, t.Revoked = db.Time(created), db.Time(used), db.Time(expires), revoked != 0
	return &t, nil
}

// ListTokens returns the workspace's tokens that are not revoked — all of them for an admin, the
// actor's own otherwise — newest first.
func (s *Service) ListTokens(ctx context.Context, actor *User) ([]*Token, error) {
	q := `SELECT ` + tokenCols + ` FROM api_tokens WHERE workspace_id = $1 AND revoked_at = 0`
	args := []any{actor.WorkspaceID}
	if actor.Role != RoleAdmin {
		q += ` AND user_id = $2`
		args = append(args, actor.ID)
	}
	out, err := db.All(ctx, s.db, scanToken, q+` ORDER BY created_at DESC, id LIMIT 1000`, args...)
	return out, errs.Op("identity.ListTokens", err)
}

// RevokeToken revokes a token at once. Admins may revoke any token of the workspace, others their
// own; another's token is errs.NotFound to a non-admin, as is a token of another workspace.
func (s *Service) RevokeToken(ctx context.Context, actor *User, tokenID string) error {
	if !id.Valid("tok", tokenID) {
		return errs.NotFoundf("no such token")
	}
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE workspace_id = $1 AND id = $2`, actor.WorkspaceID, tokenID))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && actor.Role != RoleAdmin && t.UserID != actor.ID) {
		return errs.NotFoundf("no such token")
	}
	if err != nil {
		return fmt.Errorf("identity.RevokeToken: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at = 0`,
		db.Micro(s.clk.Now()), t.WorkspaceID, t.ID)
	return errs.Op("identity.RevokeToken", err)
}

// AuthenticateToken returns the principal of an API token secret: errs.Unauthenticated when it is
// unknown, revoked, expired, or its user deactivated.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (*Principal, error) {
	if !strings.HasPrefix(secret, "bkt_") || len(secret) > 100 {
		return nil, errs.E(errs.Unauthenticated, "invalid API token")
	}
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE token_hash = $1`, id.Hash(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.Unauthenticated, "invalid API token")
	}
	if err != nil {
		return nil, fmt.Errorf("identity.AuthenticateToken: %w", err)
	}
	now := s.clk.Now()
	if t.Revoked {
		return nil, errs.E(errs.Unauthenticated, "this API token was revoked")
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return nil, errs.E(errs.Unauthenticated, "this API token has expired")
	}
	u, err := s.GetUser(ctx, t.WorkspaceID, t.UserID)
	if errs.Is(err, errs.NotFound) || (err == nil && !u.Active) {
		return nil, errs.E(errs.Unauthenticated, "this API token's user is deactivated")
	}
	if err != nil {
		return nil, err
	}
	if now.Sub(t.LastUsedAt) > time.Minute {
		s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE workspace_id = $2 AND id = $3`, db.Micro(now), t.WorkspaceID, t.ID)
	}
	return &Principal{User: u, Token: t}, nil
}
