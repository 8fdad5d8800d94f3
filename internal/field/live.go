package field

import (
	"context"
	"fmt"

	"github.com/beckonhq/beckon/internal/db"
)

// effectiveChunk is how many visitor ids one query of EffectiveValues names.
const effectiveChunk = 500

// EffectiveValues returns, for each of the given visitors of the workspace that has any, the
// effective value of every field that has a non-empty one (field key → value), for Live View
// (SPEC V5), which shows many visitors at once. Values of fields the workspace no longer has are
// left out; a blank that the CRM's blank overrides is no value. Like the rest of the package it
// trusts the caller to name visitors of the workspace; ids of another workspace find nothing.
func (s *Store) EffectiveValues(ctx context.Context, wsID string, visitorIDs []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	if len(visitorIDs) == 0 {
		return out, nil
	}
	defs, err := s.definitions(ctx, s.db, wsID)
	if err != nil {
		return nil, fmt.Errorf("field.EffectiveValues: %w", err)
	}
	byKey := make(map[string]Definition, len(defs))
	for _, d := range defs {
		byKey[d.Key] = d
	}
	all := map[string]stored{}
	err = db.InChunks(visitorIDs, effectiveChunk, 2, func(marks string, args []any) error {
		return s.loadMany(ctx, all, `SELECT visitor_id, field_key, source, value, updated_at FROM field_values
			WHERE workspace_id = $1 AND visitor_id IN (`+marks+`)`, append([]any{wsID}, args...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("field.EffectiveValues: %w", err)
	}
	for vid, st := range all {
		for key, vals := range st {
			d, ok := byKey[key]
			if !ok {
				continue
			}
			if e, ok := effective(d, vals); ok && e.Value != "" {
				if out[vid] == nil {
					out[vid] = map[string]string{}
				}
				out[vid][key] = e.Value
			}
		}
	}
	return out, nil
}

// loadMany adds the rows of query (visitor_id, field_key, source, value, updated_at) to all.
func (s *Store) loadMany(ctx context.Context, all map[string]stored, query string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var vid, key string
		var v SourceValue
		var at int64
		if err := rows.Scan(&vid, &key, &v.Source, &v.Value, &at); err != nil {
			return err
		}
		v.UpdatedAt = db.Time(at)
		if all[vid] == nil {
			all[vid] = stored{}
		}
		all[vid].put(key, v)
	}
	return rows.Err()
}
