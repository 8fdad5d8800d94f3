package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// Lockout: every password check for an email address first claims an attempt in login_attempts,
// atomically, and is refused while the address is locked. Claiming before checking means that
// parallel guesses are counted as surely as sequential ones; keying by address, whether or not an
// account has it, means a lockout tells nothing about which accounts exist. The LockoutThreshold-th
// attempt in a row locks the address for LockoutBase, each further one for twice as long, up to
// LockoutMax; a correct password clears the count.

// claimAttempt records an attempt for email, or returns errs.TooMany with RetryAfter while the
// address is locked.
func (s *Service) claimAttempt(ctx context.Context, email string) error {
	now := s.clk.Now()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var failures int
		err := tx.QueryRowContext(ctx, `INSERT INTO login_attempts (email, failures, locked_until, updated_at) VALUES ($1, 1, 0, $2)
			ON CONFLICT (email) DO UPDATE SET failures = login_attempts.failures + 1, updated_at = $2
			WHERE login_attempts.locked_until <= $2
			RETURNING failures`, email, db.Micro(now)).Scan(&failures)
		if errors.Is(err, sql.ErrNoRows) { // the conflict's WHERE was false: locked
			var until int64
			if err := tx.QueryRowContext(ctx, `SELECT locked_until FROM login_attempts WHERE email = $1`, email).Scan(&until); err != nil {
				return err
			}
			wait := db.Time(until).Sub(now)
			e := errs.E(errs.TooMany, "too many failed attempts for this email address; try again in %s", wait.Round(time.Second))
			e.RetryAfter = int(wait.Seconds()) + 1
			return e
		}
		if err != nil {
			return err
		}
		if failures >= s.opt.LockoutThreshold {
			d := s.opt.LockoutBase << min(failures-s.opt.LockoutThreshold, 20)
			until := now.Add(min(d, s.opt.LockoutMax))
			_, err = tx.ExecContext(ctx, `UPDATE login_attempts SET locked_until = $1 WHERE email = $2`, db.Micro(until), email)
		}
		return err
	})
	return errs.Op("identity.claimAttempt", err)
}

// clearAttempts forgets the failures of email after a correct password.
func (s *Service) clearAttempts(ctx context.Context, email string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_attempts WHERE email = $1`, email)
	return errs.Op("identity.clearAttempts", err)
}

// acquire takes a place for an expensive operation (an argon2id hash, an image decode), waiting
// while MaxHeavy of them run; it returns errs.Unavailable if ctx ends first.
func (s *Service) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.heavy <- struct{}{}:
		return func() { <-s.heavy }, nil
	case <-ctx.Done():
		return nil, errs.Wrap(errs.Unavailable, ctx.Err(), "the server is busy; try again")
	}
}

// verify checks pw against hash within the bound on expensive operations.
func (s *Service) verify(ctx context.Context, pw, hash string) (bool, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	ok, err := VerifyPassword(pw, hash)
	if err != nil {
		return false, fmt.Errorf("identity: %w", err)
	}
	return ok, nil
}

// hash hashes pw within the bound on expensive operations.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(pw, s.opt.Hash), nil
}

// Purge deletes what has expired: sessions ended more than a day ago, activation links used,
// voided or expired more than a day ago, and login attempts idle for a day. It returns how many
// rows went. Housekeeping calls it periodically for the whole server.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	cut := db.Micro(s.clk.Now().Add(-24 * time.Hour))
	var total int64
	for _, q := range []string{
		`DELETE FROM sessions WHERE expires_at < $1 OR (revoked_at <> 0 AND revoked_at < $1)`,
		`DELETE FROM invites WHERE expires_at < $1 OR (used_at <> 0 AND used_at < $1) OR (voided_at <> 0 AND voided_at < $1)`,
		`DELETE FROM login_attempts WHERE updated_at < $1 AND locked_until < $1`,
	} {
		res, err := s.db.ExecContext(ctx, q, cut)
		if err != nil {
			return total, fmt.Errorf("identity.Purge: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
