package field

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// SourceValue is the value one source holds for a field of a visitor.
type SourceValue struct {
	Source    Source    `json:"source"`
	Value     string    `json:"value"` // "" only for a blank from the CRM
	UpdatedAt time.Time `json:"updated_at"`
}

// Value is a field of a visitor: its effective value and what every source says.
type Value struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Type  Type   `json:"type"`
	// Value is the effective value: that of the first source in the field's precedence with a
	// non-empty value, or a blank when the CRM's blank overrides (Source is then "crm").
	Value string `json:"value"`
	// Source and UpdatedAt are the effective value's; Source is "" when no source wins (only a
	// blank from the CRM is stored and it does not override).
	Source    Source    `json:"source"`
	UpdatedAt time.Time `json:"updated_at"`
	// Sources lists every source with a value, in the field's precedence order.
	Sources []SourceValue `json:"sources"`
}

// effective picks the winning value among a field's source values.
func effective(d Definition, vals map[Source]SourceValue) (SourceValue, bool) {
	for _, src := range d.Precedence {
		v, ok := vals[src]
		if !ok {
			continue
		}
		if v.Value != "" || (src == SourceCRM && d.CRMBlankOverrides) {
			return v, true
		}
	}
	return SourceValue{}, false
}

// stored maps a visitor's field keys to each source's value.
type stored map[string]map[Source]SourceValue

func (s stored) put(key string, v SourceValue) {
	if s[key] == nil {
		s[key] = map[Source]SourceValue{}
	}
	s[key][v.Source] = v
}

// load reads every stored value of a visitor. With lock, on PostgreSQL, the rows stay locked
// until q's transaction ends.
func (s *Store) load(ctx context.Context, q db.Queryer, wsID, visitorID string, lock bool) (stored, error) {
	query := `SELECT field_key, source, value, updated_at FROM field_values WHERE workspace_id = $1 AND visitor_id = $2`
	if lock {
		query += s.db.ForUpdate()
	}
	rows, err := q.QueryContext(ctx, query, wsID, visitorID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := stored{}
	for rows.Next() {
		var key string
		var v SourceValue
		var at int64
		if err := rows.Scan(&key, &v.Source, &v.Value, &at); err != nil {
			return nil, err
		}
		v.UpdatedAt = db.Time(at)
		out.put(key, v)
	}
	return out, rows.Err()
}

// Set stores values (field key → value) from one source for a visitor and returns the keys whose
// effective value changed, sorted. Every key and value is checked first (see Definition.Check);
// on any error nothing is written. An empty value from the CRM is stored as a blank; from any
// other source it removes that source's value. A value set again keeps its value and takes the
// new time.
//
// q is the caller's transaction; when it is a *db.DB (or nil, for the Store's database), Set runs
// in a transaction of its own. It returns errs.Invalid on the field key for an unknown field or a bad
// value, or on "source" for an unknown source.
func (s *Store) Set(ctx context.Context, q db.Queryer, wsID, visitorID string, source Source, values map[string]string) (changed []string, err error) {
	if _, err := ParseSource(string(source)); err != nil {
		return nil, err
	}
	d, isDB := q.(*db.DB)
	if q == nil || isDB && d == nil {
		d, isDB = s.db, true
	}
	if isDB {
		err = d.InTx(ctx, func(tx *sql.Tx) error {
			changed, err = s.set(ctx, tx, wsID, visitorID, source, values)
			return err
		})
	} else {
		changed, err = s.set(ctx, q, wsID, visitorID, source, values)
	}
	if err != nil {
		return nil, errs.Op("field.Set", err)
	}
	return changed, nil
}

func (s *Store) set(ctx context.Context, q db.Queryer, wsID, visitorID string, source Source, values map[string]string) ([]string, error) {
	if len(values) == 0 {
		return []string{}, nil
	}
	defs, err := s.definitions(ctx, q, wsID)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	clean := make(map[string]string, len(values))
	byKey := make(map[string]Definition, len(values))
	for _, k := range keys {
		if !validKey(k) {
			return nil, errs.Field(errs.Invalid, "fields", "%q is not a field", clip(k, MaxKeyLen))
		}
		d, ok := find(defs, k)
		if !ok {
			return nil, errs.Field(errs.Invalid, k, "is not a field of this workspace")
		}
		v, err := d.Check(values[k])
		if err != nil {
			return nil, err
		}
		clean[k], byKey[k] = v, d
	}

	cur, err := s.load(ctx, q, wsID, visitorID, true)
	if err != nil {
		return nil, err
	}
	before := make(map[string]SourceValue, len(keys))
	for _, k := range keys {
		before[k], _ = effective(byKey[k], cur[k])
	}
	now := db.Micro(s.clk.Now())
	for _, k := range keys {
		v := clean[k]
		if v == "" && source != SourceCRM {
			if _, err := q.ExecContext(ctx, `DELETE FROM field_values WHERE workspace_id = $1 AND visitor_id = $2
				AND field_key = $3 AND source = $4`, wsID, visitorID, k, string(source)); err != nil {
				return nil, err
			}
			delete(cur[k], source)
			continue
		}
		// The guard on workspace_id keeps a visitor id of another workspace from being written to.
		if _, err := q.ExecContext(ctx, `INSERT INTO field_values (workspace_id, visitor_id, field_key, source, value, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (visitor_id, field_key, source) DO UPDATE
			SET value = excluded.value, updated_at = excluded.updated_at WHERE field_values.workspace_id = excluded.workspace_id`,
			wsID, visitorID, k, string(source), v, now); err != nil {
			return nil, err
		}
		cur.put(k, SourceValue{Source: source, Value: v, UpdatedAt: db.Time(now)})
	}
	changed := []string{}
	for _, k := range keys {
		after, _ := effective(byKey[k], cur[k])
		if after.Value != before[k].Value {
			changed = append(changed, k)
		}
	}
	return changed, nil
}

// Values returns a visitor's fields that hold a value from any source, in the order of List,
// each with its effective value and every source's value.
func (s *Store) Values(ctx context.Context, wsID, visitorID string) ([]Value, error) {
	defs, err := s.definitions(ctx, s.db, wsID)
	if err != nil {
		return nil, fmt.Errorf("field.Values: %w", err)
	}
	cur, err := s.load(ctx, s.db, wsID, visitorID, false)
	if err != nil {
		return nil, fmt.Errorf("field.Values: %w", err)
	}
	out := []Value{}
	for _, d := range defs {
		vals := cur[d.Key]
		if len(vals) == 0 {
			continue
		}
		v := Value{Key: d.Key, Label: d.Label, Type: d.Type, Sources: []SourceValue{}}
		if e, ok := effective(d, vals); ok {
			v.Value, v.Source, v.UpdatedAt = e.Value, e.Source, e.UpdatedAt
		}
		for _, src := range d.Precedence {
			if sv, ok := vals[src]; ok {
				v.Sources = append(v.Sources, sv)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// MergeHook moves the field values of visitor from to visitor to, both of the workspace, inside
// the caller's transaction tx, when the two records turn out to be one person. Where both hold a
// value from the same source, the newer one stays (on a tie, to's). Afterwards from has no
// values. Merging a visitor into itself does nothing.
func (s *Store) MergeHook(ctx context.Context, tx db.Queryer, wsID, from, to string) error {
	if from == to {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO field_values (workspace_id, visitor_id, field_key, source, value, updated_at)
		SELECT workspace_id, $3, field_key, source, value, updated_at FROM field_values
		WHERE workspace_id = $1 AND visitor_id = $2
		ON CONFLICT (visitor_id, field_key, source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
		WHERE field_values.workspace_id = excluded.workspace_id AND field_values.updated_at < excluded.updated_at`,
		wsID, from, to)
	if err != nil {
		return fmt.Errorf("field.MergeHook: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM field_values WHERE workspace_id = $1 AND visitor_id = $2`, wsID, from); err != nil {
		return fmt.Errorf("field.MergeHook: %w", err)
	}
	return nil
}
