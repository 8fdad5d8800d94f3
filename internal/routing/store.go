package routing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// Draft is a workspace's routing configuration as an admin edits it.
type Draft struct {
	Body      json.RawMessage `json:"config"`
	UpdatedBy string          `json:"updated_by,omitempty"`
	UpdatedAt time.Time       `json:"updated_at,omitzero"`
	// Published is the newest published version (0: none; the built-in default routes).
	Published int `json:"published_version"`
	// Unpublished is true when the draft differs from the published version.
	Unpublished bool `json:"unpublished"`
}

// Version is a published routing configuration.
type Version struct {
	Version     int             `json:"version"`
	Body        json.RawMessage `json:"config,omitempty"`
	PublishedBy string          `json:"published_by"`
	PublishedAt time.Time       `json:"published_at"`
}

// Record is a stored decision (R4): what was decided for a conversation, and why.
type Record struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	VisitorID      string    `json:"visitor_id"`
	Version        int       `json:"version"` // the configuration version that decided (0: the built-in default)
	Attempt        int       `json:"attempt"` // 1 for the first routing, 2… for each reroute after a ring timeout
	RuleID         string    `json:"rule_id"`
	PoolID         string    `json:"pool_id"`
	Strategy       string    `json:"strategy"`
	Outcome        string    `json:"outcome"`
	Offered        []string  `json:"offered"`
	Turn           int64     `json:"turn,omitempty"` // the pool's turn number, for a round-robin turn
	Trace          Trace     `json:"trace"`
	CreatedAt      time.Time `json:"created_at"`
}

// latestVersion returns the newest published version's number and body (0 and nil when none).
func latestVersion(ctx context.Context, q db.Queryer, wsID string) (int, []byte, error) {
	var v int
	var body string
	err := q.QueryRowContext(ctx, `SELECT version, body FROM routing_versions WHERE workspace_id = $1
		ORDER BY version DESC LIMIT 1`, wsID).Scan(&v, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return v, []byte(body), nil
}

// latestNumber returns the newest published version's number (0 when none).
func latestNumber(ctx context.Context, q db.Queryer, wsID string) (int, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM routing_versions WHERE workspace_id = $1`, wsID).Scan(&v)
	return int(v.Int64), err
}

// readLedger reads the round-robin state of the workspace's pools (of one pool when poolID is
// not empty).
func readLedger(ctx context.Context, q db.Queryer, wsID, poolID string) (Ledger, error) {
	l := Ledger{}
	query := `SELECT pool_id, v FROM routing_pools WHERE workspace_id = $1`
	args := []any{wsID}
	if poolID != "" {
		query += ` AND pool_id = $2`
		args = append(args, poolID)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return nil, err
		}
		l[id] = &PoolLedger{V: v, Pass: map[string]int64{}}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	query = `SELECT pool_id, user_id, pass FROM routing_ledger WHERE workspace_id = $1`
	if poolID != "" {
		query += ` AND pool_id = $2`
	}
	rows, err = q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var pool, user string
		var pass int64
		if err := rows.Scan(&pool, &user, &pass); err != nil {
			return nil, err
		}
		pl := l[pool]
		if pl == nil {
			pl = &PoolLedger{Pass: map[string]int64{}}
			l[pool] = pl
		}
		pl.Pass[user] = pass
	}
	return l, rows.Err()
}

// lockPool creates the pool's state row if need be and locks it until the transaction ends (on
// PostgreSQL; SQLite's immediate transactions already serialise writers), so that two replicas
// assigning turns of one pool at once take them one after the other. It returns the pool's
// number of turns so far.
func lockPool(ctx context.Context, d *db.DB, tx *sql.Tx, wsID, poolID string) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO routing_pools (workspace_id, pool_id, v, turns) VALUES ($1, $2, 0, 0)
		ON CONFLICT (workspace_id, pool_id) DO NOTHING`, wsID, poolID); err != nil {
		return 0, err
	}
	var turns int64
	err := tx.QueryRowContext(ctx, `SELECT turns FROM routing_pools WHERE workspace_id = $1 AND pool_id = $2`+d.ForUpdate(),
		wsID, poolID).Scan(&turns)
	return turns, err
}

// applyTurns writes a decision's ledger changes and counts the pool's turn; it returns the turn's
// number (0 when the decision took no turn).
func applyTurns(ctx context.Context, tx *sql.Tx, wsID string, turns []Turn, turnsSoFar int64) (int64, error) {
	if len(turns) == 0 {
		return 0, nil
	}
	for _, t := range turns {
		if _, err := tx.ExecContext(ctx, `INSERT INTO routing_ledger (workspace_id, pool_id, user_id, pass) VALUES ($1, $2, $3, $4)
			ON CONFLICT (workspace_id, pool_id, user_id) DO UPDATE SET pass = excluded.pass`, wsID, t.PoolID, t.UserID, t.Pass); err != nil {
			return 0, err
		}
	}
	last := turns[len(turns)-1]
	turn := turnsSoFar + 1
	if _, err := tx.ExecContext(ctx, `UPDATE routing_pools SET v = $3, turns = $4 WHERE workspace_id = $1 AND pool_id = $2`,
		wsID, last.PoolID, last.V, turn); err != nil {
		return 0, err
	}
	return turn, nil
}

const recordCols = `id, conversation_id, visitor_id, version, attempt, rule_id, pool_id, strategy, outcome, offered, turn, trace, created_at`

func scanRecord(row db.Scanner) (Record, error) {
	var r Record
	var offered, trace string
	var created int64
	if err := row.Scan(&r.ID, &r.ConversationID, &r.VisitorID, &r.Version, &r.Attempt, &r.RuleID, &r.PoolID, &r.Strategy,
		&r.Outcome, &offered, &r.Turn, &trace, &created); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(offered), &r.Offered); err != nil {
		return r, fmt.Errorf("routing decision %s: offered: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(trace), &r.Trace); err != nil {
		return r, fmt.Errorf("routing decision %s: trace: %w", r.ID, err)
	}
	if r.Offered == nil {
		r.Offered = []string{}
	}
	r.CreatedAt = db.Time(created)
	return r, nil
}

// Decisions returns a conversation's routing decisions, first to last (R4). A conversation of
// another workspace, or one never routed, has none.
func (s *Service) Decisions(ctx context.Context, wsID, convID string) ([]Record, error) {
	out, err := db.All(ctx, s.db, scanRecord, `SELECT `+recordCols+` FROM routing_decisions
		WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY attempt, created_at`, wsID, convID)
	if out == nil {
		out = []Record{}
	}
	return out, errs.Op("routing.Decisions", err)
}

// Versions returns the published versions, newest first, without their bodies.
func (s *Service) Versions(ctx context.Context, wsID string) ([]Version, error) {
	out, err := db.All(ctx, s.db, func(row db.Scanner) (Version, error) {
		var v Version
		var at int64
		err := row.Scan(&v.Version, &v.PublishedBy, &at)
		v.PublishedAt = db.Time(at)
		return v, err
	}, `SELECT version, published_by, published_at FROM routing_versions WHERE workspace_id = $1 ORDER BY version DESC`, wsID)
	if out == nil {
		out = []Version{}
	}
	return out, errs.Op("routing.Versions", err)
}

// GetVersion returns one published version with its configuration, or errs.NotFound.
func (s *Service) GetVersion(ctx context.Context, wsID string, version int) (*Version, error) {
	var v Version
	var body string
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT version, body, published_by, published_at FROM routing_versions
		WHERE workspace_id = $1 AND version = $2`, wsID, version).Scan(&v.Version, &body, &v.PublishedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such routing version")
	}
	if err != nil {
		return nil, errs.Op("routing.GetVersion", err)
	}
	v.Body, v.PublishedAt = json.RawMessage(body), db.Time(at)
	return &v, nil
}
