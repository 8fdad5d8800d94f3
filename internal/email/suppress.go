package email

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
)

// Reasons of a global suppression.
const (
	ReasonBounce    = "bounce"    // a hard bounce: the address does not exist or never takes mail
	ReasonComplaint = "complaint" // the recipient reported a Beckon email as spam
	ReasonManual    = "manual"    // an operator suppressed it
	// ReasonOther is what Lookup says of an entry another workspace's mail caused (or the
	// operator's): the address is suppressed, and why is not this workspace's business.
	ReasonOther = "other"
)

// Store owns the email tables: suppressions, unsubscribes, policies and lists, and the history
// of messages. All its methods are safe for concurrent use.
type Store struct {
	d   *db.DB
	clk clock.Clock
	v   *address.Validator
	pol policyCache
}

// NewStore returns a Store on d; times come from clk, and Check validates with v (nil: a
// validator without MX look-ups).
func NewStore(d *db.DB, clk clock.Clock, v *address.Validator) *Store {
	if v == nil {
		v = &address.Validator{}
	}
	return &Store{d: d, clk: clk, v: v, pol: newPolicyCache()}
}

// Suppression is one entry of the global suppression list.
type Suppression struct {
	Address   string    `json:"email"`
	Reason    string    `json:"reason"`
	Detail    string    `json:"detail,omitempty"`
	Source    string    `json:"source,omitempty"` // "dsn", "webhook", "smtp", "admin", …
	MessageID string    `json:"message_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Unsubscribe is an address that asked for no more mail from one workspace.
type Unsubscribe struct {
	Address   string    `json:"email"`
	Source    string    `json:"source,omitempty"` // "one-click", "link", "admin"
	CreatedAt time.Time `json:"created_at"`
}

// Key returns the form in which an address is stored and compared (the validator's normalized
// form, lower-case), or errs.Invalid about "email" when s is not an address. "Ada
// <ada@example.com>" is accepted here: recipients of a message may carry a display name.
func Key(s string) (string, error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		s = s[i+1 : len(s)-1]
	}
	a, err := address.Parse(s)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// Suppress adds addr to the global suppression list, which every send path of every workspace
// checks. It is idempotent: suppressing an address again keeps the first entry (and its reason),
// and concurrent calls for one address leave exactly one row. wsID is the workspace whose mail
// caused it ("" when unknown). It returns errs.Invalid for a bad address or reason.
func (s *Store) Suppress(ctx context.Context, addr, reason, detail, source, wsID, messageID string) error {
	key, err := Key(addr)
	if err != nil {
		return err
	}
	switch reason {
	case ReasonBounce, ReasonComplaint, ReasonManual:
	default:
		return errs.Field(errs.Invalid, "reason", "%q: want bounce, complaint or manual", reason)
	}
	_, err = s.d.ExecContext(ctx, `INSERT INTO email_suppressions (address, reason, detail, source, source_workspace_id, message_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (address) DO NOTHING`,
		key, reason, clip(detail, 500), clip(source, 40), wsID, messageID, db.Micro(s.clk.Now()))
	if err != nil {
		return fmt.Errorf("email.Suppress: %w", err)
	}
	return nil
}

// Unsuppress removes addr from the global list (an operator's decision: the mailbox exists
// again). It returns errs.NotFound when it was not there.
func (s *Store) Unsuppress(ctx context.Context, addr string) error {
	key, err := Key(addr)
	if err != nil {
		return err
	}
	res, err := s.d.ExecContext(ctx, `DELETE FROM email_suppressions WHERE address = $1`, key)
	if err != nil {
		return fmt.Errorf("email.Unsuppress: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("%s is not on the suppression list", key)
	}
	return nil
}

// Unsubscribe records that addr wants no more mail from workspace wsID. Idempotent, like
// Suppress. It returns errs.Invalid for a bad address.
func (s *Store) Unsubscribe(ctx context.Context, wsID, addr, source string) error {
	key, err := Key(addr)
	if err != nil {
		return err
	}
	_, err = s.d.ExecContext(ctx, `INSERT INTO email_unsubscribes (workspace_id, address, source, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, address) DO NOTHING`, wsID, key, clip(source, 40), db.Micro(s.clk.Now()))
	if err != nil {
		return fmt.Errorf("email.Unsubscribe: %w", err)
	}
	return nil
}

// Resubscribe removes addr's unsubscribe from workspace wsID (an admin acting on the person's
// request). It returns errs.NotFound when there was none.
func (s *Store) Resubscribe(ctx context.Context, wsID, addr string) error {
	key, err := Key(addr)
	if err != nil {
		return err
	}
	res, err := s.d.ExecContext(ctx, `DELETE FROM email_unsubscribes WHERE workspace_id = $1 AND address = $2`, wsID, key)
	if err != nil {
		return fmt.Errorf("email.Resubscribe: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("%s has not unsubscribed", key)
	}
	return nil
}

// Status says why mail to one address is not sent, if it is not.
type Status struct {
	Address      string       `json:"email"`
	Suppressed   bool         `json:"suppressed"`
	Suppression  *Suppression `json:"suppression,omitempty"`
	Unsubscribed bool         `json:"unsubscribed"`
	Unsubscribe  *Unsubscribe `json:"unsubscribe,omitempty"`
}

// Lookup tells whether mail from workspace wsID to addr is suppressed and why: the details of a
// global entry only when wsID's mail caused it (reason "other" otherwise), all of them for the
// operator (wsID ""). It returns errs.Invalid for a bad address.
func (s *Store) Lookup(ctx context.Context, wsID, addr string) (*Status, error) {
	key, err := Key(addr)
	if err != nil {
		return nil, err
	}
	st := &Status{Address: key}
	var src string
	sup, err := db.All(ctx, s.d, func(r db.Scanner) (*Suppression, error) {
		var x Suppression
		var at int64
		err := r.Scan(&x.Address, &x.Reason, &x.Detail, &x.Source, &x.MessageID, &at, &src)
		x.CreatedAt = db.Time(at)
		return &x, err
	}, `SELECT `+suppressionCols+`, source_workspace_id FROM email_suppressions WHERE address = $1`, key)
	if err != nil {
		return nil, fmt.Errorf("email.Lookup: %w", err)
	}
	if len(sup) > 0 {
		st.Suppressed, st.Suppression = true, sup[0]
		if wsID != "" && src != wsID {
			// Another workspace's mail caused it: say that mail is suppressed, not what that
			// workspace's mail taught (a complaint, a diagnostic, its message).
			st.Suppression = &Suppression{Address: key, Reason: ReasonOther, CreatedAt: sup[0].CreatedAt}
		}
	}
	uns, err := db.All(ctx, s.d, scanUnsubscribe, `SELECT address, source, created_at FROM email_unsubscribes WHERE workspace_id = $1 AND address = $2`, wsID, key)
	if err != nil {
		return nil, fmt.Errorf("email.Lookup: %w", err)
	}
	if len(uns) > 0 {
		st.Unsubscribed, st.Unsubscribe = true, uns[0]
	}
	return st, nil
}

// MaxListed is the most entries Suppressions, Unsubscribes and Messages return at once.
const MaxListed = 500

// Cursor returns the cursor that lists the entries after x (see Suppressions).
func (x *Suppression) Cursor() string { return timeCursor(x.CreatedAt, x.Address) }

// Cursor returns the cursor that lists the entries after x (see Unsubscribes).
func (x *Unsubscribe) Cursor() string { return timeCursor(x.CreatedAt, x.Address) }

func timeCursor(at time.Time, key string) string {
	return strconv.FormatInt(db.Micro(at), 10) + "." + key
}

// afterCursor returns the SQL condition (on created_at and keyCol, numbered from $n) and its
// arguments for the rows after cursor in newest-first order; none for "". It returns errs.Invalid
// about "cursor" for a cursor that is not one of Cursor's.
func afterCursor(cursor, keyCol string, n int) (string, []any, error) {
	if cursor == "" {
		return "", nil, nil
	}
	at, key, ok := strings.Cut(cursor, ".")
	us, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || key == "" {
		return "", nil, errs.Field(errs.Invalid, "cursor", "is not a next_cursor of this list")
	}
	return fmt.Sprintf(` AND (created_at < $%d OR (created_at = $%d AND %s > $%d))`, n, n, keyCol, n+1), []any{us, key}, nil
}

// listLimit bounds a page: at most MaxListed, plus the one row that tells a caller another page
// follows.
func listLimit(limit int) int {
	if limit <= 0 || limit > MaxListed+1 {
		return MaxListed + 1
	}
	return limit
}

// Suppressions lists, newest first, the global suppressions caused by workspace wsID's mail
// (the rest of the global list belongs to other workspaces and is not shown): at most limit
// (1..MaxListed+1) after cursor ("" for the first page; else a Suppression's Cursor). It returns
// errs.Invalid about "cursor" for a bad cursor.
func (s *Store) Suppressions(ctx context.Context, wsID string, limit int, cursor string) ([]*Suppression, error) {
	cond, args, err := afterCursor(cursor, "address", 2)
	if err != nil {
		return nil, err
	}
	out, err := db.All(ctx, s.d, scanSuppression, `SELECT `+suppressionCols+` FROM email_suppressions
		WHERE source_workspace_id = $1`+cond+` ORDER BY created_at DESC, address LIMIT `+strconv.Itoa(listLimit(limit)), append([]any{wsID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("email.Suppressions: %w", err)
	}
	return out, nil
}

// Unsubscribes lists workspace wsID's unsubscribes, newest first, like Suppressions.
func (s *Store) Unsubscribes(ctx context.Context, wsID string, limit int, cursor string) ([]*Unsubscribe, error) {
	cond, args, err := afterCursor(cursor, "address", 2)
	if err != nil {
		return nil, err
	}
	out, err := db.All(ctx, s.d, scanUnsubscribe, `SELECT address, source, created_at FROM email_unsubscribes
		WHERE workspace_id = $1`+cond+` ORDER BY created_at DESC, address LIMIT `+strconv.Itoa(listLimit(limit)), append([]any{wsID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("email.Unsubscribes: %w", err)
	}
	return out, nil
}

const suppressionCols = `address, reason, detail, source, message_id, created_at`

func scanSuppression(r db.Scanner) (*Suppression, error) {
	var x Suppression
	var at int64
	err := r.Scan(&x.Address, &x.Reason, &x.Detail, &x.Source, &x.MessageID, &at)
	x.CreatedAt = db.Time(at)
	return &x, err
}

func scanUnsubscribe(r db.Scanner) (*Unsubscribe, error) {
	var x Unsubscribe
	var at int64
	err := r.Scan(&x.Address, &x.Source, &at)
	x.CreatedAt = db.Time(at)
	return &x, err
}

// suppressedAmong returns, of the addresses given as keys, those workspace wsID must not mail,
// each with the reason: "bounce", "complaint" or "manual" when wsID's own mail caused the global
// entry, "suppressed" when another's did, "unsubscribed". q may be a transaction.
func suppressedAmong(ctx context.Context, q db.Queryer, wsID string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	err := db.InChunks(keys, 200, 1, func(marks string, args []any) error {
		rows, err := q.QueryContext(ctx, `SELECT address, reason, source_workspace_id FROM email_suppressions WHERE address IN (`+marks+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a, r, src string
			if err := rows.Scan(&a, &r, &src); err != nil {
				return err
			}
			if src != wsID {
				r = "suppressed" // another workspace's mail taught it: not this one's business
			}
			out[a] = r
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	err = db.InChunks(keys, 200, 2, func(marks string, args []any) error {
		rows, err := q.QueryContext(ctx, `SELECT address FROM email_unsubscribes WHERE workspace_id = $1 AND address IN (`+marks+`)`,
			append([]any{wsID}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				return err
			}
			if _, ok := out[a]; !ok {
				out[a] = "unsubscribed"
			}
		}
		return rows.Err()
	})
	return out, err
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
