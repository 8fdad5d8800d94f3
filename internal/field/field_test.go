package field_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

type fixture struct {
	st  *field.Store
	clk *clock.Fake
	d   *db.DB
	ws  string // a workspace
	ws2 string // another workspace
}

func setup(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC))
	wss := workspace.NewStore(d, clk)
	a, err := wss.Create(ctx, d, workspace.New{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wss.Create(ctx, d, workspace.New{Name: "Globex"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: field.NewStore(d, clk), clk: clk, d: d, ws: a.ID, ws2: b.ID}
}

// wantErr fails unless err has kind k and names field f.
func wantErr(t *testing.T, err error, k errs.Kind, f string) {
	t.Helper()
	e := errs.As(err)
	if e == nil || e.Kind != k || e.Field != f {
		t.Fatalf("error %v (%#v), want kind %v on field %q", err, e, k, f)
	}
}

func keys(defs []field.Definition) []string {
	var out []string
	for _, d := range defs {
		out = append(out, d.Key)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func TestListStandardThenCustom(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		defs, err := f.st.List(ctx, f.ws)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"email", "first_name", "last_name", "company", "title", "phone", "website", "industry",
			"company_size", "country", "state", "city"}
		if !slices.Equal(keys(defs), want) {
			t.Fatalf("standard keys %v", keys(defs))
		}
		for _, def := range defs {
			if !def.Standard || def.Label == "" || !slices.Equal(def.Precedence, field.DefaultPrecedence) || def.CRMBlankOverrides || !def.CreatedAt.IsZero() {
				t.Fatalf("standard field %+v", def)
			}
		}
		if defs[0].Type != field.TypeEmail || defs[1].Type != field.TypeText {
			t.Fatalf("types %v %v", defs[0].Type, defs[1].Type)
		}
		if _, err := f.st.Create(ctx, f.ws, field.NewField{Key: "plan_tier", Label: "Plan tier", Type: "picklist", Options: []string{"Free", "Pro"}}); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Second)
		if _, err := f.st.Create(ctx, f.ws, field.NewField{Key: "arr", Label: "ARR", Type: "number"}); err != nil {
			t.Fatal(err)
		}
		defs, err = f.st.List(ctx, f.ws)
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(defs); !slices.Equal(got, append(want, "plan_tier", "arr")) {
			t.Fatalf("keys %v", got)
		}
		// The other workspace sees none of them.
		other, err := f.st.List(ctx, f.ws2)
		if err != nil || len(other) != len(want) {
			t.Fatalf("other workspace %v %v", keys(other), err)
		}
		if _, err := f.st.Get(ctx, f.ws2, "arr"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("get across workspaces: %v", err)
		}
	})
}

func TestCreateRefuses(t *testing.T) {
	long := strings.Repeat("x", 101)
	many := make([]string, 201)
	for i := range many {
		many[i] = "o" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	cases := []struct {
		name  string
		n     field.NewField
		kind  errs.Kind
		field string
	}{
		{"no key", field.NewField{Label: "X", Type: "text"}, errs.Invalid, "key"},
		{"upper case", field.NewField{Key: "Plan", Label: "X", Type: "text"}, errs.Invalid, "key"},
		{"leading digit", field.NewField{Key: "1plan", Label: "X", Type: "text"}, errs.Invalid, "key"},
		{"double underscore", field.NewField{Key: "plan__tier", Label: "X", Type: "text"}, errs.Invalid, "key"},
		{"trailing underscore", field.NewField{Key: "plan_", Label: "X", Type: "text"}, errs.Invalid, "key"},
		{"hyphen", field.NewField{Key: "plan-tier", Label: "X", Type: "text"}, errs.Invalid, "key"},
		{"41 characters", field.NewField{Key: strings.Repeat("a", 41), Label: "X", Type: "text"}, errs.Invalid, "key"},
		{"standard key", field.NewField{Key: "company", Label: "X", Type: "text"}, errs.Invalid, "key"},
		{"no label", field.NewField{Key: "plan", Label: "  ", Type: "text"}, errs.Invalid, "label"},
		{"long label", field.NewField{Key: "plan", Label: strings.Repeat("é", 81), Type: "text"}, errs.Invalid, "label"},
		{"label with newline", field.NewField{Key: "plan", Label: "a\nb", Type: "text"}, errs.Invalid, "label"},
		{"label with bidi override", field.NewField{Key: "plan", Label: "a\u202eb", Type: "text"}, errs.Invalid, "label"},
		{"unknown type", field.NewField{Key: "plan", Label: "Plan", Type: "date"}, errs.Invalid, "type"},
		{"no type", field.NewField{Key: "plan", Label: "Plan"}, errs.Invalid, "type"},
		{"picklist without options", field.NewField{Key: "plan", Label: "Plan", Type: "picklist"}, errs.Invalid, "options"},
		{"empty option", field.NewField{Key: "plan", Label: "Plan", Type: "picklist", Options: []string{"a", " "}}, errs.Invalid, "options[1]"},
		{"duplicate option", field.NewField{Key: "plan", Label: "Plan", Type: "picklist", Options: []string{"Free", "Pro", "pro"}}, errs.Invalid, "options[2]"},
		{"long option", field.NewField{Key: "plan", Label: "Plan", Type: "picklist", Options: []string{"a", long}}, errs.Invalid, "options[1]"},
		{"option with tab", field.NewField{Key: "plan", Label: "Plan", Type: "picklist", Options: []string{"a\tb"}}, errs.Invalid, "options[0]"},
		{"201 options", field.NewField{Key: "plan", Label: "Plan", Type: "picklist", Options: many}, errs.Invalid, "options"},
		{"options on text", field.NewField{Key: "plan", Label: "Plan", Type: "text", Options: []string{"a"}}, errs.Invalid, "options"},
		{"unknown source", field.NewField{Key: "plan", Label: "Plan", Type: "text", Precedence: []field.Source{"crm", "web"}}, errs.Invalid, "precedence[1]"},
		{"source twice", field.NewField{Key: "plan", Label: "Plan", Type: "text", Precedence: []field.Source{"crm", "rep", "crm"}}, errs.Invalid, "precedence[2]"},
	}
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := f.st.Create(ctx, f.ws, c.n)
				wantErr(t, err, c.kind, c.field)
			})
		}
		if defs, _ := f.st.List(ctx, f.ws); len(defs) != len(field.Standard()) {
			t.Fatalf("a refused field was stored: %v", keys(defs))
		}
		// 200 distinct options are fine; the key is taken once.
		n := field.NewField{Key: "plan", Label: " Plan ", Type: "picklist", Options: append([]string{" Free "}, many[1:200]...),
			Precedence: []field.Source{"visitor"}}
		def, err := f.st.Create(ctx, f.ws, n)
		if err != nil {
			t.Fatal(err)
		}
		if def.Label != "Plan" || def.Options[0] != "Free" || len(def.Options) != 200 || def.Standard ||
			!slices.Equal(def.Precedence, []field.Source{"visitor", "rep", "crm", "api", "form"}) {
			t.Fatalf("created %+v", def)
		}
		_, err = f.st.Create(ctx, f.ws, n)
		wantErr(t, err, errs.Conflict, "key")
		// The same key in another workspace is another field.
		if _, err := f.st.Create(ctx, f.ws2, n); err != nil {
			t.Fatal(err)
		}
		got, err := f.st.Get(ctx, f.ws, "plan")
		if err != nil || !got.CreatedAt.Equal(def.CreatedAt) || !slices.Equal(got.Options, def.Options) || !slices.Equal(got.Precedence, def.Precedence) {
			t.Fatalf("get %+v %v, created %+v", got, err, def)
		}
	})
}

func TestCustomFieldLimit(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		for i := range field.MaxCustomFields {
			if _, err := f.st.Create(ctx, f.ws, field.NewField{Key: "f" + strings.Repeat("x", i%30) + "_" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
				Label: "F", Type: "text"}); err != nil {
				t.Fatal(i, err)
			}
		}
		_, err := f.st.Create(ctx, f.ws, field.NewField{Key: "one_more", Label: "F", Type: "text"})
		wantErr(t, err, errs.Conflict, "")
	})
}

func TestUpdateRules(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		// A standard field's rules change and are stored.
		def, err := f.st.Update(ctx, f.ws, "company", field.Patch{Precedence: ptr([]field.Source{"visitor", "crm"}), CRMBlankOverrides: ptr(true),
			Label: ptr("Company")}) // repeating the label is fine
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(def.Precedence, []field.Source{"visitor", "crm", "rep", "api", "form"}) || !def.CRMBlankOverrides || !def.Standard || def.CreatedAt.IsZero() {
			t.Fatalf("updated %+v", def)
		}
		got, err := f.st.Get(ctx, f.ws, "company")
		if err != nil || !slices.Equal(got.Precedence, def.Precedence) || !got.CRMBlankOverrides || got.Label != "Company" || got.Type != field.TypeText {
			t.Fatalf("stored %+v %v", got, err)
		}
		if other, _ := f.st.Get(ctx, f.ws2, "company"); other.CRMBlankOverrides || !slices.Equal(other.Precedence, field.DefaultPrecedence) {
			t.Fatalf("other workspace changed: %+v", other)
		}
		// Fixed parts of a standard field.
		_, err = f.st.Update(ctx, f.ws, "company", field.Patch{Label: ptr("Organisation")})
		wantErr(t, err, errs.Invalid, "label")
		_, err = f.st.Update(ctx, f.ws, "email", field.Patch{Type: ptr(field.TypeText)})
		wantErr(t, err, errs.Invalid, "type")
		_, err = f.st.Update(ctx, f.ws, "email", field.Patch{Options: ptr([]string{"a"})})
		wantErr(t, err, errs.Invalid, "options")
		_, err = f.st.Update(ctx, f.ws, "company", field.Patch{Precedence: ptr([]field.Source{"nobody"})})
		wantErr(t, err, errs.Invalid, "precedence[0]")
		// Back to the defaults: nothing is stored any more.
		def, err = f.st.Update(ctx, f.ws, "company", field.Patch{Precedence: ptr([]field.Source{}), CRMBlankOverrides: ptr(false)})
		if err != nil || !slices.Equal(def.Precedence, field.DefaultPrecedence) || !def.CreatedAt.IsZero() {
			t.Fatalf("reset %+v %v", def, err)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM fields WHERE workspace_id = $1`, f.ws).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows after reset: %d %v", n, err)
		}
		_, err = f.st.Update(ctx, f.ws, "nope", field.Patch{Label: ptr("x")})
		wantErr(t, err, errs.NotFound, "")
		_, err = f.st.Update(ctx, f.ws, "Bad Key!", field.Patch{Label: ptr("x")})
		wantErr(t, err, errs.NotFound, "")
	})
}

func TestUpdateCustom(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		if _, err := f.st.Create(ctx, f.ws, field.NewField{Key: "plan", Label: "Plan", Type: "text"}); err != nil {
			t.Fatal(err)
		}
		// No values yet: the type may change; a picklist needs options.
		_, err := f.st.Update(ctx, f.ws, "plan", field.Patch{Type: ptr(field.TypePicklist)})
		wantErr(t, err, errs.Invalid, "options")
		_, err = f.st.Update(ctx, f.ws, "plan", field.Patch{Type: ptr(field.Type("money"))})
		wantErr(t, err, errs.Invalid, "type")
		def, err := f.st.Update(ctx, f.ws, "plan", field.Patch{Type: ptr(field.TypePicklist), Options: ptr([]string{"Free", "Pro"}), Label: ptr("Plan tier")})
		if err != nil || def.Type != field.TypePicklist || def.Label != "Plan tier" || !slices.Equal(def.Options, []string{"Free", "Pro"}) {
			t.Fatalf("updated %+v %v", def, err)
		}
		if _, err := f.st.Set(ctx, d, f.ws, "vis_1", field.SourceForm, map[string]string{"plan": "pro"}); err != nil {
			t.Fatal(err)
		}
		// With values, the type is fixed; the options may change and stored values stay.
		_, err = f.st.Update(ctx, f.ws, "plan", field.Patch{Type: ptr(field.TypeText)})
		wantErr(t, err, errs.Conflict, "type")
		def, err = f.st.Update(ctx, f.ws, "plan", field.Patch{Options: ptr([]string{"Free", "Enterprise"}), Type: ptr(field.TypePicklist)})
		if err != nil || !slices.Equal(def.Options, []string{"Free", "Enterprise"}) {
			t.Fatalf("options %+v %v", def, err)
		}
		vals, err := f.st.Values(ctx, f.ws, "vis_1")
		if err != nil || len(vals) != 1 || vals[0].Value != "Pro" {
			t.Fatalf("values %+v %v", vals, err)
		}
		_, err = f.st.Set(ctx, d, f.ws, "vis_1", field.SourceForm, map[string]string{"plan": "Pro"})
		wantErr(t, err, errs.Invalid, "plan")
		_, err = f.st.Update(ctx, f.ws, "plan", field.Patch{Options: ptr([]string{})})
		wantErr(t, err, errs.Invalid, "options")
		// A field that stops being a picklist (before it has values) drops its options.
		if _, err := f.st.Create(ctx, f.ws, field.NewField{Key: "tier", Label: "Tier", Type: "picklist", Options: []string{"a"}}); err != nil {
			t.Fatal(err)
		}
		def, err = f.st.Update(ctx, f.ws, "tier", field.Patch{Type: ptr(field.TypeNumber)})
		if err != nil || def.Type != field.TypeNumber || len(def.Options) != 0 {
			t.Fatalf("to number %+v %v", def, err)
		}
		got, _ := f.st.Get(ctx, f.ws, "tier")
		if got.Type != field.TypeNumber || len(got.Options) != 0 || got.Options == nil {
			t.Fatalf("stored %+v", got)
		}
		// Another workspace cannot touch it.
		_, err = f.st.Update(ctx, f.ws2, "tier", field.Patch{Label: ptr("Mine")})
		wantErr(t, err, errs.NotFound, "")
	})
}

func TestDelete(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		if _, err := f.st.Create(ctx, f.ws, field.NewField{Key: "plan", Label: "Plan", Type: "text"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Set(ctx, d, f.ws, "vis_1", field.SourceAPI, map[string]string{"plan": "Pro", "company": "Acme"}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, f.st.Delete(ctx, f.ws2, "plan"), errs.NotFound, "")
		wantErr(t, f.st.Delete(ctx, f.ws, "company"), errs.Conflict, "key")
		wantErr(t, f.st.Delete(ctx, f.ws, "NOPE"), errs.NotFound, "")
		if err := f.st.Delete(ctx, f.ws, "plan"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, f.st.Delete(ctx, f.ws, "plan"), errs.NotFound, "")
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM field_values WHERE field_key = 'plan'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("values left: %d %v", n, err)
		}
		vals, _ := f.st.Values(ctx, f.ws, "vis_1")
		if len(vals) != 1 || vals[0].Key != "company" {
			t.Fatalf("values %+v", vals)
		}
		_, err := f.st.Set(ctx, d, f.ws, "vis_1", field.SourceAPI, map[string]string{"plan": "Pro"})
		wantErr(t, err, errs.Invalid, "plan")
		// A stray value of a deleted field (written by a Set racing the delete) does not come
		// back with a new field of the same key.
		if _, err := d.ExecContext(ctx, `INSERT INTO field_values (workspace_id, visitor_id, field_key, source, value, updated_at)
			VALUES ($1, 'vis_1', 'plan', 'api', 'Stale', 1)`, f.ws); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Create(ctx, f.ws, field.NewField{Key: "plan", Label: "Plan", Type: "text"}); err != nil {
			t.Fatal(err)
		}
		if vals, _ := f.st.Values(ctx, f.ws, "vis_1"); len(vals) != 1 {
			t.Fatalf("stale value came back: %+v", vals)
		}
	})
}

func TestSetValidates(t *testing.T) {
	cases := []struct {
		key, in, want string
		field         string // the error's field; empty when accepted
	}{
		{"email", " Ada@Acme.Example ", "ada@acme.example", ""},
		{"email", "ada", "", "email"},
		{"email", "Ada <ada@acme.example>", "", "email"},
		{"email", "ada@localhost", "", "email"},
		{"email", strings.Repeat("a", 250) + "@x.io", "", "email"},
		{"first_name", "  Ada ", "Ada", ""},
		{"first_name", "Ada 👩‍💻", "Ada 👩‍💻", ""},
		{"first_name", "Ada\nLovelace", "", "first_name"},
		{"first_name", "Ada\x00", "", "first_name"},
		{"first_name", "\u202eadA", "", "first_name"},
		{"first_name", "\xff\xfe", "", "first_name"},
		{"company", strings.Repeat("é", 1000), strings.Repeat("é", 1000), ""},
		{"company", strings.Repeat("é", 1001), "", "company"},
		{"company", strings.Repeat("x", 1<<20), "", "company"},
		{"company_size", "51-200", "51-200", ""},
		{"seats", "42", "42", ""},
		{"seats", "-3.50", "-3.50", ""},
		{"seats", "1e6", "", "seats"},
		{"seats", "1,000", "", "seats"},
		{"seats", ".5", "", "seats"},
		{"seats", "5.", "", "seats"},
		{"seats", "NaN", "", "seats"},
		{"seats", "+5", "", "seats"},
		{"seats", strings.Repeat("9", 41), "", "seats"},
		{"active", "TRUE", "true", ""},
		{"active", "False", "false", ""},
		{"active", "yes", "", "active"},
		{"plan", "enterprise", "Enterprise", ""},
		{"plan", " PRO ", "Pro", ""},
		{"plan", "Gold", "", "plan"},
		{"work_email", "Bob@Globex.Example", "bob@globex.example", ""},
		{"unknown", "x", "", "unknown"},
		{"Bad Key", "x", "", "fields"},
	}
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		for _, n := range []field.NewField{
			{Key: "seats", Label: "Seats", Type: "number"},
			{Key: "active", Label: "Active", Type: "boolean"},
			{Key: "plan", Label: "Plan", Type: "picklist", Options: []string{"Free", "Pro", "Enterprise"}},
			{Key: "work_email", Label: "Work email", Type: "email"},
		} {
			if _, err := f.st.Create(ctx, f.ws, n); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range cases {
			t.Run(c.key+"/"+clip(c.in), func(t *testing.T) {
				vis := "vis_" + string(rune('a'+i%26)) + string(rune('a'+i/26))
				changed, err := f.st.Set(ctx, d, f.ws, vis, field.SourceVisitor, map[string]string{c.key: c.in})
				if c.field != "" {
					wantErr(t, err, errs.Invalid, c.field)
					if vals, _ := f.st.Values(ctx, f.ws, vis); len(vals) != 0 {
						t.Fatalf("stored %+v", vals)
					}
					return
				}
				if err != nil || !slices.Equal(changed, []string{c.key}) {
					t.Fatalf("changed %v %v", changed, err)
				}
				vals, err := f.st.Values(ctx, f.ws, vis)
				if err != nil || len(vals) != 1 || vals[0].Value != c.want || vals[0].Source != field.SourceVisitor {
					t.Fatalf("values %+v %v", vals, err)
				}
			})
		}
		// One bad value and nothing is written, however many good ones come with it.
		_, err := f.st.Set(ctx, d, f.ws, "vis_all", field.SourceForm, map[string]string{"company": "Acme", "first_name": "Ada", "seats": "many"})
		wantErr(t, err, errs.Invalid, "seats")
		if vals, _ := f.st.Values(ctx, f.ws, "vis_all"); len(vals) != 0 {
			t.Fatalf("half-stored %+v", vals)
		}
		_, err = f.st.Set(ctx, d, f.ws, "vis_all", field.Source("web"), map[string]string{"company": "Acme"})
		wantErr(t, err, errs.Invalid, "source")
		// A custom field of another workspace is unknown here.
		_, err = f.st.Set(ctx, d, f.ws2, "vis_x", field.SourceForm, map[string]string{"seats": "3"})
		wantErr(t, err, errs.Invalid, "seats")
	})
}

func clip(s string) string {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

// The scenario of SPEC V3: sources, precedence, a rep's and the CRM's word, blank CRM values.
func TestPrecedence(t *testing.T) {
	type step struct {
		src     field.Source
		value   string
		changed bool
		want    string       // the effective value afterwards
		wantSrc field.Source // its source
	}
	cases := []struct {
		name  string
		patch field.Patch
		steps []step
	}{
		{"default order", field.Patch{}, []step{
			{"visitor", "Acme", true, "Acme", "visitor"},
			{"form", "Acme Inc", true, "Acme Inc", "form"},
			{"visitor", "ACME", false, "Acme Inc", "form"}, // lower source: its value is kept, the effective one does not move
			{"crm", "Acme Corporation", true, "Acme Corporation", "crm"},
			{"api", "Acme Ltd", false, "Acme Corporation", "crm"},
			{"rep", "Acme Holdings", true, "Acme Holdings", "rep"},
			{"rep", "", true, "Acme Corporation", "crm"}, // empty from a rep removes the rep's value
			{"crm", "", true, "Acme Ltd", "api"},         // a blank CRM value does not override by default
			{"api", "", true, "Acme Inc", "form"},
			{"form", " ", true, "ACME", "visitor"},
			{"visitor", "", true, "", ""}, // only the CRM's blank is left
		}},
		{"visitor over crm", field.Patch{Precedence: ptr([]field.Source{"visitor", "rep"})}, []step{
			{"crm", "Acme Corporation", true, "Acme Corporation", "crm"},
			{"visitor", "Acme", true, "Acme", "visitor"},
			{"rep", "Acme Holdings", false, "Acme", "visitor"},
			{"visitor", "", true, "Acme Holdings", "rep"},
		}},
		{"blank crm overrides", field.Patch{CRMBlankOverrides: ptr(true)}, []step{
			{"form", "Acme", true, "Acme", "form"},
			{"crm", "", true, "", "crm"}, // the CRM cleared it
			{"api", "Acme Ltd", false, "", "crm"},
			{"rep", "Acme Holdings", true, "Acme Holdings", "rep"}, // the rep still ranks above the CRM
			{"rep", "", true, "", "crm"},
			{"crm", "Acme Corporation", true, "Acme Corporation", "crm"},
		}},
		{"blank crm below the visitor", field.Patch{Precedence: ptr([]field.Source{"visitor", "crm"}), CRMBlankOverrides: ptr(true)}, []step{
			{"visitor", "Acme", true, "Acme", "visitor"},
			{"crm", "", false, "Acme", "visitor"},
			{"visitor", "", true, "", "crm"},
			{"form", "Acme Inc", false, "", "crm"},
		}},
	}
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if _, err := f.st.Update(ctx, f.ws, "company", field.Patch{Precedence: ptr([]field.Source{}), CRMBlankOverrides: ptr(false)}); err != nil {
					t.Fatal(err)
				}
				if _, err := f.st.Update(ctx, f.ws, "company", c.patch); err != nil {
					t.Fatal(err)
				}
				vis := id.New("vis")
				for i, s := range c.steps {
					f.clk.Advance(time.Minute)
					changed, err := f.st.Set(ctx, d, f.ws, vis, s.src, map[string]string{"company": s.value})
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if (len(changed) == 1) != s.changed {
						t.Fatalf("step %d: changed %v, want %v", i, changed, s.changed)
					}
					vals, err := f.st.Values(ctx, f.ws, vis)
					if err != nil {
						t.Fatal(err)
					}
					got, src := "", field.Source("")
					if len(vals) == 1 {
						got, src = vals[0].Value, vals[0].Source
					}
					if got != s.want || src != s.wantSrc {
						t.Fatalf("step %d (%s %q): effective %q from %q, want %q from %q; %+v", i, s.src, s.value, got, src, s.want, s.wantSrc, vals)
					}
				}
			})
		}
	})
}

func TestValuesKeepEverySource(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		t0 := f.clk.Now()
		if _, err := f.st.Set(ctx, d, f.ws, "vis_1", field.SourceVisitor, map[string]string{"company": "Acme", "first_name": "Ada"}); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Hour)
		changed, err := f.st.Set(ctx, d, f.ws, "vis_1", field.SourceCRM, map[string]string{"company": "Acme Corp", "email": "ADA@acme.example", "title": ""})
		if err != nil || !slices.Equal(changed, []string{"company", "email"}) {
			t.Fatalf("changed %v %v", changed, err)
		}
		vals, err := f.st.Values(ctx, f.ws, "vis_1")
		if err != nil {
			t.Fatal(err)
		}
		if got := keysOf(vals); !slices.Equal(got, []string{"email", "first_name", "company", "title"}) {
			t.Fatalf("keys %v", got)
		}
		company := vals[2]
		if company.Value != "Acme Corp" || company.Source != "crm" || !company.UpdatedAt.Equal(t0.Add(time.Hour)) || company.Label != "Company" ||
			len(company.Sources) != 2 || company.Sources[0] != (field.SourceValue{Source: "crm", Value: "Acme Corp", UpdatedAt: t0.Add(time.Hour)}) ||
			company.Sources[1] != (field.SourceValue{Source: "visitor", Value: "Acme", UpdatedAt: t0}) {
			t.Fatalf("company %+v", company)
		}
		if vals[0].Value != "ada@acme.example" || vals[3].Value != "" || vals[3].Source != "" || len(vals[3].Sources) != 1 {
			t.Fatalf("email %+v title %+v", vals[0], vals[3])
		}
		// Setting the same value again changes nothing but its time.
		f.clk.Advance(time.Minute)
		changed, err = f.st.Set(ctx, d, f.ws, "vis_1", field.SourceCRM, map[string]string{"company": "Acme Corp"})
		if err != nil || len(changed) != 0 {
			t.Fatalf("changed %v %v", changed, err)
		}
		vals, _ = f.st.Values(ctx, f.ws, "vis_1")
		if !vals[2].UpdatedAt.Equal(t0.Add(time.Hour + time.Minute)) {
			t.Fatalf("time %v", vals[2].UpdatedAt)
		}
		// Another workspace sees nothing and cannot overwrite the visitor's values.
		if vals, err := f.st.Values(ctx, f.ws2, "vis_1"); err != nil || len(vals) != 0 {
			t.Fatalf("across workspaces %+v %v", vals, err)
		}
		if _, err := f.st.Set(ctx, d, f.ws2, "vis_1", field.SourceCRM, map[string]string{"company": "Hijacked"}); err != nil {
			t.Fatal(err)
		}
		vals, _ = f.st.Values(ctx, f.ws, "vis_1")
		if vals[2].Value != "Acme Corp" {
			t.Fatalf("overwritten across workspaces: %+v", vals[2])
		}
		if _, err := f.st.Set(ctx, d, f.ws, "vis_1", field.SourceCRM, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func keysOf(vals []field.Value) []string {
	var out []string
	for _, v := range vals {
		out = append(out, v.Key)
	}
	return out
}

func TestSetInCallersTransaction(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		boom := errors.New("boom")
		var changed []string
		err := d.InTx(ctx, func(tx *sql.Tx) error { // no t.Fatal inside: it would leave the transaction open
			var err error
			if changed, err = f.st.Set(ctx, tx, f.ws, "vis_1", field.SourceAPI, map[string]string{"email": "ada@acme.example"}); err != nil {
				return err
			}
			return boom
		})
		if err != boom || len(changed) != 1 {
			t.Fatalf("changed %v %v", changed, err)
		}
		if vals, _ := f.st.Values(ctx, f.ws, "vis_1"); len(vals) != 0 {
			t.Fatalf("rolled-back values kept: %+v", vals)
		}
		// nil runs in a transaction of the store's own.
		if _, err := f.st.Set(ctx, nil, f.ws, "vis_1", field.SourceAPI, map[string]string{"email": "ada@acme.example"}); err != nil {
			t.Fatal(err)
		}
		if vals, _ := f.st.Values(ctx, f.ws, "vis_1"); len(vals) != 1 {
			t.Fatalf("values %+v", vals)
		}
	})
}

func TestMergeHook(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		t0 := f.clk.Now()
		set := func(vis string, src field.Source, v map[string]string) {
			t.Helper()
			if _, err := f.st.Set(ctx, d, f.ws, vis, src, v); err != nil {
				t.Fatal(err)
			}
		}
		set("vis_to", field.SourceVisitor, map[string]string{"company": "Old Co", "city": "Berlin"}) // t0
		set("vis_from", field.SourceCRM, map[string]string{"title": "CTO"})                          // t0: a tie-free source
		set("vis_from", field.SourceAPI, map[string]string{"city": "Paris"})                         // t0
		set("vis_to", field.SourceAPI, map[string]string{"city": "London"})                          // t0: tie with from's → to's stays
		f.clk.Advance(time.Minute)
		set("vis_from", field.SourceVisitor, map[string]string{"company": "New Co"}) // newer than to's
		set("vis_to", field.SourceForm, map[string]string{"first_name": "Ada"})
		f.clk.Advance(time.Minute)
		set("vis_to", field.SourceForm, map[string]string{"last_name": "Lovelace"})
		set("vis_from", field.SourceForm, map[string]string{"last_name": "Byron"}) // same time: to's stays
		set("vis_other", field.SourceForm, map[string]string{"company": "Other"})
		// The same visitor id in another workspace is not touched.
		if _, err := f.st.Set(ctx, d, f.ws2, "vis_from", field.SourceForm, map[string]string{"company": "Globex"}); err != nil {
			t.Fatal(err)
		}

		err := d.InTx(ctx, func(tx *sql.Tx) error { return f.st.MergeHook(ctx, tx, f.ws, "vis_from", "vis_to") })
		if err != nil {
			t.Fatal(err)
		}
		if vals, _ := f.st.Values(ctx, f.ws, "vis_from"); len(vals) != 0 {
			t.Fatalf("from keeps %+v", vals)
		}
		vals, err := f.st.Values(ctx, f.ws, "vis_to")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, v := range vals {
			for _, s := range v.Sources {
				got[v.Key+"/"+string(s.Source)] = s.Value + "@" + s.UpdatedAt.Sub(t0).String()
			}
		}
		want := map[string]string{
			"company/visitor": "New Co@1m0s",
			"city/visitor":    "Berlin@0s",
			"city/api":        "London@0s",
			"title/crm":       "CTO@0s",
			"first_name/form": "Ada@1m0s",
			"last_name/form":  "Lovelace@2m0s",
		}
		if len(got) != len(want) {
			t.Fatalf("merged %v", got)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s = %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		if vals, _ := f.st.Values(ctx, f.ws, "vis_other"); len(vals) != 1 {
			t.Fatalf("other visitor %+v", vals)
		}
		if vals, _ := f.st.Values(ctx, f.ws2, "vis_from"); len(vals) != 1 || vals[0].Value != "Globex" {
			t.Fatalf("other workspace %+v", vals)
		}
		// Into itself: nothing happens.
		if err := f.st.MergeHook(ctx, d, f.ws, "vis_to", "vis_to"); err != nil {
			t.Fatal(err)
		}
		if again, _ := f.st.Values(ctx, f.ws, "vis_to"); len(again) != len(vals) {
			t.Fatalf("self-merge lost values: %+v", again)
		}
	})
}
