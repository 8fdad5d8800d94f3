package identity

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/timezone"
)

// InviteInput describes a person to invite.
type InviteInput struct {
	Email     string `json:"email"`
	Role      string `json:"role"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	TimeZone  string `json:"time_zone"`
}

// ActivationPath is the console path of activation links; the token follows it.
const ActivationPath = "/activate/"

// Invite creates a user who has not activated yet and emails them an activation link valid for
// the invite lifetime. The user, the link and the email job are written in one transaction.
// Only admins may invite. It returns the user and the activation URL (also for the CLI), or
// errs.Forbidden, errs.Invalid naming the field, or errs.Conflict when the email is taken.
func (s *Service) Invite(ctx context.Context, actor *User, in InviteInput) (*User, string, error) {
	if actor.Role != RoleAdmin {
		return nil, "", errs.E(errs.Forbidden, "only an admin can invite users")
	}
	if in.Role == "" {
		in.Role = string(RoleRep)
	}
	var u *User
	var link string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = s.CreateUser(ctx, tx, NewUser{WorkspaceID: actor.WorkspaceID, Email: in.Email, Role: Role(in.Role),
			FirstName: in.FirstName, LastName: in.LastName, TimeZone: in.TimeZone})
		if err != nil {
			return err
		}
		link, err = s.issueInvite(ctx, tx, actor, u)
		return err
	})
	return u, link, errs.Op("identity.Invite", err)
}

// InviteFirstAdmin is Invite for the CLI's `workspace create` and `admin create`: it needs no
// acting admin. The user must exist and not be activated.
func (s *Service) InviteFirstAdmin(ctx context.Context, q db.Queryer, u *User) (string, error) {
	return s.issueInvite(ctx, q, nil, u)
}

// ResendInvite voids every earlier activation link of a user who has not activated yet and
// emails a new one. Admins only. Returns errs.Forbidden, errs.NotFound, or errs.Conflict when the
// user is already active or deactivated.
func (s *Service) ResendInvite(ctx context.Context, actor *User, userID string) (string, error) {
	if actor.Role != RoleAdmin {
		return "", errs.E(errs.Forbidden, "only an admin can resend invitations")
	}
	var link string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		u, err := s.getUser(ctx, tx, actor.WorkspaceID, userID)
		if err != nil {
			return err
		}
		if !u.Active {
			return errs.E(errs.Conflict, "%s is deactivated; reactivate them first", u.Email)
		}
		if u.Activated {
			return errs.E(errs.Conflict, "%s has already activated their account", u.Email)
		}
		link, err = s.issueInvite(ctx, tx, actor, u)
		return err
	})
	return link, errs.Op("identity.ResendInvite", err)
}

func (s *Service) issueInvite(ctx context.Context, q db.Queryer, actor *User, u *User) (string, error) {
	now := s.clk.Now()
	if _, err := q.ExecContext(ctx, `UPDATE invites SET voided_at = $1 WHERE workspace_id = $2 AND user_id = $3 AND voided_at = 0 AND used_at = 0`,
		db.Micro(now), u.WorkspaceID, u.ID); err != nil {
		return "", err
	}
	token := id.Token("inv")
	expires := now.Add(s.opt.InviteTTL)
	createdBy := ""
	if actor != nil {
		createdBy = actor.ID
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO invites (token_hash, workspace_id, user_id, created_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id.Hash(token), u.WorkspaceID, u.ID, createdBy, db.Micro(now), db.Micro(expires)); err != nil {
		return "", err
	}
	link := s.opt.BaseURL + ActivationPath + token
	if s.mail == nil {
		return link, nil
	}
	var wsName string
	if err := q.QueryRowContext(ctx, `SELECT name FROM workspaces WHERE id = $1`, u.WorkspaceID).Scan(&wsName); err != nil {
		return "", err
	}
	inviter := "Your administrator"
	if actor != nil {
		inviter = actor.Name()
	}
	loc := timezone.Load(u.TimeZone)
	subject, text, html, err := email.Render("invite", map[string]any{
		"WorkspaceName": wsName, "InviterName": inviter, "ActivationURL": link,
		"ExpiresAt": expires.In(loc).Format("Monday 2 January 2006, 15:04 MST"), "RecipientName": u.FirstName,
	})
	if err != nil {
		return "", err
	}
	err = s.mail.Queue(ctx, q, u.WorkspaceID, email.Message{To: []string{u.Email}, Subject: subject, Text: text, HTML: html, Template: "invite"})
	return link, err
}

// Invitation is what the activation page shows about a link.
type Invitation struct {
	User          *User
	WorkspaceName string
	ExpiresAt     time.Time
}

// InvitationByToken returns the invitation of an activation link. It returns errs.NotFound for
// an unknown, used or voided link and errs.Conflict (with a message to show) for an expired one.
func (s *Service) InvitationByToken(ctx context.Context, token string) (*Invitation, error) {
	return s.invitation(ctx, s.db, token)
}

func (s *Service) invitation(ctx context.Context, q db.Queryer, token string) (*Invitation, error) {
	var wsID, userID, wsName string
	var expires, used, voided int64
	err := q.QueryRowContext(ctx, `SELECT i.workspace_id, i.user_id, i.expires_at, i.used_at, i.voided_at, w.name
		FROM invites i JOIN workspaces w ON w.id = i.workspace_id WHERE i.token_hash = $1`, id.Hash(token)).
		Scan(&wsID, &userID, &expires, &used, &voided, &wsName)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (used != 0 || voided != 0)) {
		return nil, errs.NotFoundf("this activation link is not valid: it was used already, or replaced by a newer invitation")
	}
	if err != nil {
		return nil, err
	}
	if !s.clk.Now().Before(db.Time(expires)) {
		return nil, errs.E(errs.Conflict, "this activation link has expired; ask your administrator to resend the invitation")
	}
	u, err := s.getUser(ctx, q, wsID, userID)
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, errs.NotFoundf("this account has been deactivated")
	}
	return &Invitation{User: u, WorkspaceName: wsName, ExpiresAt: db.Time(expires)}, nil
}

// Activate sets the password of an invited user through their activation link, marks the link
// used and voids the user's other links. It returns the activated user, or errs.NotFound /
// errs.Conflict as InvitationByToken does, or errs.Invalid about "password".
func (s *Service) Activate(ctx context.Context, token, password string) (*User, error) {
	inv, err := s.InvitationByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	hash, err := s.passwordHash(ctx, password, inv.User.Email) // before the transaction: it takes 0.1 s
	if err != nil {
		return nil, err
	}
	var out *User
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		again, err := s.invitation(ctx, tx, token) // used or voided meanwhile?
		if err != nil {
			return err
		}
		u := again.User
		if err := s.storePassword(ctx, tx, u, hash); err != nil {
			return err
		}
		now := db.Micro(s.clk.Now())
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET used_at = $1 WHERE token_hash = $2`, now, id.Hash(token)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET voided_at = $1 WHERE workspace_id = $2 AND user_id = $3 AND used_at = 0 AND voided_at = 0`,
			now, u.WorkspaceID, u.ID); err != nil {
			return err
		}
		out, err = s.getUser(ctx, tx, u.WorkspaceID, u.ID)
		return err
	})
	return out, errs.Op("identity.Activate", err)
}

// passwordHash checks a new password against the rules and hashes it. It returns errs.Invalid
// about "password".
func (s *Service) passwordHash(ctx context.Context, password, email string) (string, error) {
	if err := CheckPassword(password, email); err != nil {
		return "", err
	}
	return s.hash(ctx, password)
}

// storePassword stores a password hash for u using q, activating u if they were invited.
func (s *Service) storePassword(ctx context.Context, q db.Queryer, u *User, hash string) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET password_hash = $1,
		activated_at = CASE WHEN activated_at = 0 THEN $2 ELSE activated_at END, updated_at = $2
		WHERE workspace_id = $3 AND id = $4`, hash, db.Micro(s.clk.Now()), u.WorkspaceID, u.ID)
	return err
}

// ChangePassword sets a new password for u after checking the current one, and revokes every
// other session of theirs. Wrong current passwords count towards the email's lockout like failed
// logins. Returns errs.Unauthenticated for a wrong current password, errs.TooMany while locked, or
// errs.Invalid about "password".
func (s *Service) ChangePassword(ctx context.Context, u *User, keepSessionID, current, next string) error {
	full, err := s.GetUser(ctx, u.WorkspaceID, u.ID)
	if err != nil {
		return err
	}
	if err := s.claimAttempt(ctx, full.Email); err != nil {
		return err
	}
	ok, err := s.verify(ctx, current, full.passwordHash)
	if err != nil {
		return err
	}
	if !ok {
		return errs.Field(errs.Unauthenticated, "current_password", "is not your current password")
	}
	if err := s.clearAttempts(ctx, full.Email); err != nil {
		return err
	}
	hash, err := s.passwordHash(ctx, next, full.Email)
	if err != nil {
		return err
	}
	return errs.Op("identity.ChangePassword", s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.storePassword(ctx, tx, full, hash); err != nil {
			return err
		}
		now := db.Micro(s.clk.Now())
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1 WHERE workspace_id = $2 AND user_id = $3 AND id <> $4 AND revoked_at = 0`,
			now, u.WorkspaceID, u.ID, keepSessionID)
		return err
	}))
}

// SetPassword sets a user's password directly and activates them, for operators (the demo seed).
// Returns errs.Invalid about "password" or errs.NotFound.
func (s *Service) SetPassword(ctx context.Context, wsID, userID, password string) error {
	u, err := s.GetUser(ctx, wsID, userID)
	if err != nil {
		return err
	}
	hash, err := s.passwordHash(ctx, password, u.Email)
	if err != nil {
		return err
	}
	if err := s.storePassword(ctx, s.db, u, hash); err != nil {
		return errs.Op("identity.SetPassword", err)
	}
	return s.clearAttempts(ctx, u.Email)
}
