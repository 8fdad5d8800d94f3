package field

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// definitions returns the workspace's fields: the standard ones in their built-in order, with the
// rules an admin set where a row says so, then the custom ones, oldest first.
func (s *Store) definitions(ctx context.Context, q db.Queryer, wsID string) ([]Definition, error) {
	rows, err := q.QueryContext(ctx, `SELECT key, label, type, options, precedence, crm_blank_overrides, standard,
		created_at, updated_at FROM fields WHERE workspace_id = $1 ORDER BY created_at, key`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := Standard()
	var custom []Definition
	for rows.Next() {
		d, err := scanDefinition(rows)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(out, func(s Definition) bool { return s.Key == d.Key }); i >= 0 {
			// A standard field: only its rules come from the row.
			if d.Standard {
				out[i].Precedence, out[i].CRMBlankOverrides = d.Precedence, d.CRMBlankOverrides
				out[i].CreatedAt, out[i].UpdatedAt = d.CreatedAt, d.UpdatedAt
			}
			continue
		}
		if !d.Standard { // a row for a standard field no longer built in is ignored
			custom = append(custom, d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return append(out, custom...), nil
}

func scanDefinition(row db.Scanner) (Definition, error) {
	var d Definition
	var opts, prec string
	var created, updated int64
	if err := row.Scan(&d.Key, &d.Label, &d.Type, &opts, &prec, &d.CRMBlankOverrides, &d.Standard, &created, &updated); err != nil {
		return d, err
	}
	d.CreatedAt, d.UpdatedAt = db.Time(created), db.Time(updated)
	if err := json.Unmarshal([]byte(opts), &d.Options); err != nil || d.Options == nil {
		d.Options = []string{}
	}
	var p []Source
	_ = json.Unmarshal([]byte(prec), &p)
	if d.Precedence, _ = checkPrecedence(p); d.Precedence == nil {
		d.Precedence = slices.Clone(DefaultPrecedence)
	}
	return d, nil
}

func find(defs []Definition, key string) (Definition, bool) {
	for _, d := range defs {
		if d.Key == key {
			return d, true
		}
	}
	return Definition{}, false
}

// List returns the workspace's fields with their rules: the standard fields first, in their
// built-in order, then the custom fields, oldest first.
func (s *Store) List(ctx context.Context, wsID string) ([]Definition, error) {
	defs, err := s.definitions(ctx, s.db, wsID)
	if err != nil {
		return nil, fmt.Errorf("field.List: %w", err)
	}
	return defs, nil
}

// Get returns one field of the workspace, or errs.NotFound.
func (s *Store) Get(ctx context.Context, wsID, key string) (*Definition, error) {
	defs, err := s.definitions(ctx, s.db, wsID)
	if err != nil {
		return nil, fmt.Errorf("field.Get: %w", err)
	}
	d, ok := find(defs, key)
	if !ok {
		return nil, errs.NotFoundf("no such field")
	}
	return &d, nil
}

// NewField describes a custom field to create.
type NewField struct {
	Key               string   `json:"key"`
	Label             string   `json:"label"`
	Type              Type     `json:"type"`
	Options           []string `json:"options"`
	Precedence        []Source `json:"precedence"` // empty: the default; sources left out follow in default order
	CRMBlankOverrides bool     `json:"crm_blank_overrides"`
}

// Create adds a custom field to the workspace. It returns errs.Invalid naming the input field at
// fault ("key", "label", "type", "options[2]", "precedence[0]"), or errs.Conflict when the key is
// taken or the workspace has MaxCustomFields custom fields already.
func (s *Store) Create(ctx context.Context, wsID string, n NewField) (*Definition, error) {
	if err := checkKey(n.Key); err != nil {
		return nil, err
	}
	label, err := checkLabel(n.Label)
	if err != nil {
		return nil, err
	}
	t, err := ParseType(string(n.Type))
	if err != nil {
		return nil, err
	}
	opts, err := checkOptions(t, n.Options)
	if err != nil {
		return nil, err
	}
	prec, err := checkPrecedence(n.Precedence)
	if err != nil {
		return nil, err
	}
	now := s.clk.Now()
	d := Definition{Key: n.Key, Label: label, Type: t, Options: opts, Precedence: prec,
		CRMBlankOverrides: n.CRMBlankOverrides, CreatedAt: now, UpdatedAt: now}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var count int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM fields WHERE workspace_id = $1 AND standard = FALSE`, wsID).Scan(&count); err != nil {
			return err
		}
		if count >= MaxCustomFields {
			return errs.E(errs.Conflict, "a workspace has at most %d custom fields", MaxCustomFields)
		}
		ob, _ := json.Marshal(d.Options)
		pb, _ := json.Marshal(d.Precedence)
		_, err := tx.ExecContext(ctx, `INSERT INTO fields (workspace_id, key, label, type, options, precedence,
			crm_blank_overrides, standard, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $8)`,
			wsID, d.Key, d.Label, string(d.Type), string(ob), string(pb), d.CRMBlankOverrides, db.Micro(now))
		if db.IsUniqueViolation(err) {
			return errs.Field(errs.Conflict, "key", "a field %q exists already", d.Key)
		}
		if err != nil {
			return err
		}
		// Values a Set wrote for an earlier field of this key while it was being deleted must not
		// come back with the new field.
		_, err = tx.ExecContext(ctx, `DELETE FROM field_values WHERE workspace_id = $1 AND field_key = $2`, wsID, d.Key)
		return err
	})
	if err != nil {
		return nil, errs.Op("field.Create", err)
	}
	d.CreatedAt, d.UpdatedAt = db.Time(db.Micro(now)), db.Time(db.Micro(now))
	return &d, nil
}

// Patch holds the changes to a field; nil members stay as they are. A standard field's label,
// type and options are fixed: only its rules change.
type Patch struct {
	Label             *string   `json:"label"`
	Type              *Type     `json:"type"`
	Options           *[]string `json:"options"`
	Precedence        *[]Source `json:"precedence"` // an empty list restores the default order
	CRMBlankOverrides *bool     `json:"crm_blank_overrides"`
}

// Update changes a field of the workspace. Changing a custom field's type once it has values is
// errs.Conflict; changing a picklist's options keeps the values already stored (new values must
// be one of the new options). For a standard field only the rules may change (a label, type or
// options differing from the built-in ones is errs.Invalid), and rules equal to the defaults
// are not stored. It returns errs.NotFound, errs.Invalid naming the input field, or
// errs.Conflict; nothing is written on error.
func (s *Store) Update(ctx context.Context, wsID, key string, p Patch) (*Definition, error) {
	var out Definition
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if validKey(key) && !IsStandard(key) {
			// Hold the row until the end, so that a concurrent update waits for this one.
			var k string
			err := tx.QueryRowContext(ctx, `SELECT key FROM fields WHERE workspace_id = $1 AND key = $2`+s.db.ForUpdate(), wsID, key).Scan(&k)
			if err == sql.ErrNoRows {
				return errs.NotFoundf("no such field")
			}
			if err != nil {
				return err
			}
		}
		defs, err := s.definitions(ctx, tx, wsID)
		if err != nil {
			return err
		}
		d, ok := find(defs, key)
		if !ok {
			return errs.NotFoundf("no such field")
		}
		if d.Standard {
			if err := fixedOnStandard(d, p); err != nil {
				return err
			}
		} else if err := s.patchCustom(ctx, tx, wsID, &d, p); err != nil {
			return err
		}
		if p.Precedence != nil {
			if d.Precedence, err = checkPrecedence(*p.Precedence); err != nil {
				return err
			}
		}
		if p.CRMBlankOverrides != nil {
			d.CRMBlankOverrides = *p.CRMBlankOverrides
		}
		now := db.Time(db.Micro(s.clk.Now()))
		if d.CreatedAt.IsZero() {
			d.CreatedAt = now
		}
		d.UpdatedAt = now
		ob, _ := json.Marshal(d.Options)
		pb, _ := json.Marshal(d.Precedence)
		if d.Standard && !d.CRMBlankOverrides && slices.Equal(d.Precedence, DefaultPrecedence) {
			d.CreatedAt, d.UpdatedAt = time.Time{}, time.Time{}
			_, err = tx.ExecContext(ctx, `DELETE FROM fields WHERE workspace_id = $1 AND key = $2 AND standard = TRUE`, wsID, key)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO fields (workspace_id, key, label, type, options, precedence,
				crm_blank_overrides, standard, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (workspace_id, key) DO UPDATE SET label = excluded.label, type = excluded.type,
				options = excluded.options, precedence = excluded.precedence,
				crm_blank_overrides = excluded.crm_blank_overrides, updated_at = excluded.updated_at`,
				wsID, key, d.Label, string(d.Type), string(ob), string(pb), d.CRMBlankOverrides, d.Standard,
				db.Micro(d.CreatedAt), db.Micro(d.UpdatedAt))
		}
		out = d
		return err
	})
	if err != nil {
		return nil, errs.Op("field.Update", err)
	}
	return &out, nil
}

// fixedOnStandard refuses a patch that changes what is fixed on a standard field; a patch that
// repeats the built-in values (as a client sending the whole field back does) passes.
func fixedOnStandard(d Definition, p Patch) error {
	if p.Label != nil && *p.Label != d.Label {
		return errs.Field(errs.Invalid, "label", "the label of a standard field cannot change")
	}
	if p.Type != nil && *p.Type != d.Type {
		return errs.Field(errs.Invalid, "type", "the type of a standard field cannot change")
	}
	if p.Options != nil && len(*p.Options) > 0 {
		return errs.Field(errs.Invalid, "options", "a standard field has no options")
	}
	return nil
}

// patchCustom applies a patch's label, type and options to a custom field d.
func (s *Store) patchCustom(ctx context.Context, q db.Queryer, wsID string, d *Definition, p Patch) error {
	if p.Label != nil {
		label, err := checkLabel(*p.Label)
		if err != nil {
			return err
		}
		d.Label = label
	}
	if p.Type != nil && *p.Type != d.Type {
		t, err := ParseType(string(*p.Type))
		if err != nil {
			return err
		}
		var one int
		err = q.QueryRowContext(ctx, `SELECT 1 FROM field_values WHERE workspace_id = $1 AND field_key = $2 LIMIT 1`, wsID, d.Key).Scan(&one)
		if err == nil {
			return errs.Field(errs.Conflict, "type", "the field has values already; its type can no longer change")
		}
		if err != sql.ErrNoRows {
			return err
		}
		d.Type = t
		if t != TypePicklist && p.Options == nil {
			d.Options = nil // a field that is no longer a picklist loses its options
		}
	}
	opts := d.Options
	if p.Options != nil {
		opts = *p.Options
	}
	opts, err := checkOptions(d.Type, opts)
	if err != nil {
		return err
	}
	d.Options = opts
	return nil
}

// Delete removes a custom field and every value it holds. It returns errs.NotFound, or
// errs.Conflict for a standard field (whose rules an Update with empty precedence and
// crm_blank_overrides false restores instead).
func (s *Store) Delete(ctx context.Context, wsID, key string) error {
	if IsStandard(key) {
		return errs.Field(errs.Conflict, "key", "%q is a standard field and cannot be deleted", key)
	}
	if !validKey(key) {
		return errs.NotFoundf("no such field")
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM fields WHERE workspace_id = $1 AND key = $2 AND standard = FALSE`, wsID, key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("no such field")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM field_values WHERE workspace_id = $1 AND field_key = $2`, wsID, key)
		return err
	})
	return errs.Op("field.Delete", err)
}
