package presence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// mutation is what one change does to a rep before their status is computed again.
type mutation struct {
	chosen   string    // the new chosen status; "" keeps it
	activeAt time.Time // console activity at this instant; zero for none
	sockets  bool      // store this node's socket count of the rep, as counted in memory
}

// errLostRace ends a transaction whose compare-and-set found the row changed under it; it is
// retried. Under the row lock it does not happen; the guard keeps the rule even so.
var errLostRace = errors.New("presence: the row changed during the transaction")

// change applies m to rep k in one transaction and publishes the transition it caused, if any,
// after the commit. Deadlocks (PostgreSQL) and lost races are retried a few times.
func (s *Service) change(ctx context.Context, k key, m mutation, idle time.Duration) error {
	for attempt := 0; ; attempt++ {
		ev, err := s.apply(ctx, k, m, idle)
		if err != nil && retryable(err) && attempt < 4 && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return err
		}
		if ev != nil {
			s.publish(ctx, k.ws, *ev)
		}
		return nil
	}
}

// apply runs one change of rep k in a transaction holding their presence row: it creates the row
// when the rep is new, applies m, drops connection rows of any node whose lease has lapsed,
// computes the effective status and, when it differs from the published one (or the chosen
// status changed), moves the published state with a compare-and-set and returns the new State to
// publish. It returns nil when nothing is to be published.
func (s *Service) apply(ctx context.Context, k key, m mutation, idle time.Duration) (*State, error) {
	var ev *State
	err := s.d.InTx(ctx, func(tx *sql.Tx) error {
		ev = nil
		now := s.clk.Now()
		nowUS := db.Micro(now)
		if _, err := tx.ExecContext(ctx, `INSERT INTO presence (workspace_id, user_id, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (workspace_id, user_id) DO NOTHING`, k.ws, k.user, nowUS); err != nil {
			if isForeignKeyViolation(err) {
				return errs.NotFoundf("no such user")
			}
			return err
		}
		var chosen, pubStatus, pubReason string
		var lastActive, updated int64
		if err := tx.QueryRowContext(ctx, `SELECT chosen, published_status, published_reason, last_active_at, updated_at
			FROM presence WHERE workspace_id = $1 AND user_id = $2`+s.d.ForUpdate(), k.ws, k.user).
			Scan(&chosen, &pubStatus, &pubReason, &lastActive, &updated); err != nil {
			return err
		}
		newChosen, newActive := chosen, lastActive
		if m.chosen != "" {
			newChosen = m.chosen
		}
		if a := db.Micro(m.activeAt); a > newActive {
			newActive = a
		}
		if m.sockets {
			// Read the count under the row lock: whichever change of this rep commits last
			// stores the count of every Connect and release that happened before it.
			s.mu.Lock()
			n := s.conns[k]
			delete(s.dirty, k)
			s.mu.Unlock()
			var err error
			if n > 0 {
				_, err = tx.ExecContext(ctx, `INSERT INTO presence_connections (node, workspace_id, user_id, sockets, lease_until)
					VALUES ($1, $2, $3, $4, $5) ON CONFLICT (node, workspace_id, user_id)
					DO UPDATE SET sockets = excluded.sockets, lease_until = excluded.lease_until`,
					s.opt.Node, k.ws, k.user, n, db.Micro(now.Add(s.opt.Lease)))
			} else {
				_, err = tx.ExecContext(ctx, `DELETE FROM presence_connections WHERE node = $1 AND workspace_id = $2 AND user_id = $3`,
					s.opt.Node, k.ws, k.user)
			}
			if err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM presence_connections WHERE workspace_id = $1 AND user_id = $2 AND lease_until <= $3`,
			k.ws, k.user, nowUS); err != nil {
			return err
		}
		var sockets int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(sockets), 0) FROM presence_connections
			WHERE workspace_id = $1 AND user_id = $2 AND lease_until > $3`, k.ws, k.user, nowUS).Scan(&sockets); err != nil {
			return err
		}
		availableReason := ReasonActive
		if m.chosen != "" {
			availableReason = ReasonChosen
		}
		status, reason := effective(newChosen, int(sockets), db.Time(newActive), now, idle, availableReason)
		if status == pubStatus && status == StatusAvailable {
			reason = pubReason // still available: the reason it became so stands
		}
		if status == pubStatus && reason == pubReason && newChosen == chosen {
			if newActive != lastActive {
				_, err := tx.ExecContext(ctx, `UPDATE presence SET last_active_at = $3 WHERE workspace_id = $1 AND user_id = $2`,
					k.ws, k.user, newActive)
				return err
			}
			return nil
		}
		newUpdated := max(nowUS, updated+1) // strictly increasing per rep, whatever the clocks say
		res, err := tx.ExecContext(ctx, `UPDATE presence SET chosen = $3, published_status = $4, published_reason = $5,
			last_active_at = $6, updated_at = $7
			WHERE workspace_id = $1 AND user_id = $2 AND published_status = $8 AND chosen = $9 AND updated_at = $10`,
			k.ws, k.user, newChosen, status, reason, newActive, newUpdated, pubStatus, chosen, updated)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errLostRace
		}
		ev = &State{UserID: k.user, Chosen: newChosen, Status: status, Reason: reason, Connections: int(sockets),
			LastActiveAt: db.Time(newActive), UpdatedAt: db.Time(newUpdated)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// isForeignKeyViolation reports whether err is a foreign-key violation on either engine:
// SQLSTATE 23503 on PostgreSQL, SQLITE_CONSTRAINT_FOREIGNKEY (787) on SQLite.
func isForeignKeyViolation(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == "23503"
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		return lite.Code() == 787
	}
	return false
}

// retryable reports whether a transaction that failed with err may simply run again: a lost
// compare-and-set, or PostgreSQL's deadlock (40P01) and serialization failure (40001).
func retryable(err error) bool {
	if errors.Is(err, errLostRace) {
		return true
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == "40P01" || pg.SQLState() == "40001"
	}
	return false
}

// scanKey reads a (workspace_id, user_id) row.
func scanKey(sc db.Scanner) (key, error) {
	var k key
	err := sc.Scan(&k.ws, &k.user)
	return k, err
}

// wrap names the operation in a database error.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("presence.%s: %w", op, err)
}
