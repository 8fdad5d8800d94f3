package field_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/testkit"
)

// TestEffectiveValues: the bulk lookup gives each visitor's effective values by the fields'
// rules, as Values does one at a time, scoped by workspace, in chunks for many visitors.
func TestEffectiveValues(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		set := func(ws, vid string, src field.Source, vals map[string]string) {
			t.Helper()
			if _, err := f.st.Set(ctx, nil, ws, vid, src, vals); err != nil {
				t.Fatal(err)
			}
		}
		blank := true
		if _, err := f.st.Update(ctx, f.ws, "company", field.Patch{CRMBlankOverrides: &blank}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Create(ctx, f.ws, field.NewField{Key: "plan", Label: "Plan", Type: field.TypeText}); err != nil {
			t.Fatal(err)
		}
		a, b, c, foreign := id.New("vis"), id.New("vis"), id.New("vis"), id.New("vis")
		set(f.ws, a, field.SourceVisitor, map[string]string{"first_name": "ada", "company": "Typed Inc", "plan": "pro"})
		set(f.ws, a, field.SourceRep, map[string]string{"first_name": "Ada"}) // a rep's word wins
		set(f.ws, a, field.SourceCRM, map[string]string{"company": ""})       // a blank that overrides
		set(f.ws, b, field.SourceForm, map[string]string{"email": "b@x.example"})
		set(f.ws2, foreign, field.SourceForm, map[string]string{"email": "f@x.example"})
		got, err := f.st.EffectiveValues(ctx, f.ws, []string{a, b, c, foreign})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]map[string]string{a: {"first_name": "Ada", "plan": "pro"}, b: {"email": "b@x.example"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("EffectiveValues = %v, want %v", got, want)
		}
		// A deleted custom field's values are no longer shown.
		if err := f.st.Delete(ctx, f.ws, "plan"); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.st.EffectiveValues(ctx, f.ws, []string{a}); got[a]["plan"] != "" {
			t.Errorf("after deleting the field: %v", got)
		}
		// More visitors than one query names.
		many := make([]string, 1200)
		for i := range many {
			many[i] = id.New("vis")
		}
		for _, i := range []int{0, 499, 500, 1199} {
			set(f.ws, many[i], field.SourceAPI, map[string]string{"title": fmt.Sprint("n", i)})
		}
		got, err = f.st.EffectiveValues(ctx, f.ws, many)
		if err != nil || len(got) != 4 || got[many[1199]]["title"] != "n1199" || got[many[500]]["title"] != "n500" {
			t.Errorf("1,200 visitors: %v, %v", got, err)
		}
		if got, err := f.st.EffectiveValues(ctx, f.ws, nil); err != nil || len(got) != 0 {
			t.Errorf("no visitors: %v, %v", got, err)
		}
	})
}
