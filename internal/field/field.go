// Package field owns visitor fields (SPEC V3): the standard fields every workspace has (email,
// names, company, …), the custom fields its admins create, and every value a visitor's fields
// hold, kept per source (the visitor typing in the chat, a form, the CRM, a rep, the API) with
// its time. Each field has rules: the order in which sources win (its precedence) and whether a
// blank CRM value clears what lower sources say. The effective value of a field is the value of
// the first source in its precedence that has one.
//
// The package owns the tables fields and field_values. Every method is scoped by workspace.
// Visitor ids are the visitor package's; this package trusts the caller to pass a visitor of the
// workspace it names.
package field

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// Source says where a value came from.
type Source string

// The sources of field values.
const (
	SourceVisitor Source = "visitor" // typed into the chat by the visitor
	SourceForm    Source = "form"    // a form on the customer's page (saveFormData)
	SourceCRM     Source = "crm"     // synced from the CRM
	SourceRep     Source = "rep"     // entered by a rep in the console
	SourceAPI     Source = "api"     // identify in the snippet, or the REST API
)

// DefaultPrecedence is the order in which sources win unless an admin changed a field's rules:
// a rep's word over the CRM, the CRM over what the customer's site said (API, then form), and
// those over what the visitor typed.
var DefaultPrecedence = []Source{SourceRep, SourceCRM, SourceAPI, SourceForm, SourceVisitor}

// ParseSource returns the source named s, or errs.Invalid on field "source".
func ParseSource(s string) (Source, error) {
	if slices.Contains(DefaultPrecedence, Source(s)) {
		return Source(s), nil
	}
	return "", errs.Field(errs.Invalid, "source", "%q is not a source (rep, crm, api, form, visitor)", clip(s, 40))
}

// Type is the type of a field's values.
type Type string

// The types of fields.
const (
	TypeText     Type = "text"     // one line of at most MaxTextLen characters
	TypeEmail    Type = "email"    // one plain address, lower-cased
	TypeNumber   Type = "number"   // a decimal number such as -12 or 3.50
	TypeBoolean  Type = "boolean"  // true or false
	TypePicklist Type = "picklist" // one of the field's options
)

// ParseType returns the type named s, or errs.Invalid on field "type".
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case TypeText, TypeEmail, TypeNumber, TypeBoolean, TypePicklist:
		return t, nil
	}
	return "", errs.Field(errs.Invalid, "type", "%q is not a field type (text, email, number, boolean, picklist)", clip(s, 40))
}

// Limits of fields and values.
const (
	MaxKeyLen       = 40   // characters of a custom field's key
	MaxLabelLen     = 80   // characters of a label
	MaxOptions      = 200  // options of a picklist
	MaxOptionLen    = 100  // characters of an option
	MaxTextLen      = 1000 // characters of a value
	MaxEmailLen     = 254  // characters of an email value
	MaxNumberLen    = 40   // characters of a number value
	MaxCustomFields = 200  // custom fields per workspace
)

// Definition is a field of a workspace with its rules.
type Definition struct {
	Key      string   `json:"key"`
	Label    string   `json:"label"`
	Type     Type     `json:"type"`
	Options  []string `json:"options"` // a picklist's options; empty for other types
	Standard bool     `json:"standard"`
	// Precedence lists every source once; the first with a non-empty value wins.
	Precedence []Source `json:"precedence"`
	// CRMBlankOverrides makes a blank CRM value win (as a blank) over the sources after the CRM.
	CRMBlankOverrides bool `json:"crm_blank_overrides"`
	// CreatedAt and UpdatedAt are zero for a standard field whose rules were never changed.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// standard are the built-in fields, in the order they are listed.
var standard = []Definition{
	{Key: "email", Label: "Email", Type: TypeEmail},
	{Key: "first_name", Label: "First name", Type: TypeText},
	{Key: "last_name", Label: "Last name", Type: TypeText},
	{Key: "company", Label: "Company", Type: TypeText},
	{Key: "title", Label: "Job title", Type: TypeText},
	{Key: "phone", Label: "Phone", Type: TypeText},
	{Key: "website", Label: "Website", Type: TypeText},
	{Key: "industry", Label: "Industry", Type: TypeText},
	{Key: "company_size", Label: "Company size", Type: TypeText}, // ranges such as "51-200"
	{Key: "country", Label: "Country", Type: TypeText},
	{Key: "state", Label: "State or region", Type: TypeText},
	{Key: "city", Label: "City", Type: TypeText},
}

// Standard returns the built-in fields with their default rules.
func Standard() []Definition {
	out := make([]Definition, len(standard))
	for i, d := range standard {
		out[i] = withDefaults(d)
	}
	return out
}

// IsStandard reports whether key names a built-in field.
func IsStandard(key string) bool {
	_, ok := standardByKey(key)
	return ok
}

func standardByKey(key string) (Definition, bool) {
	for _, d := range standard {
		if d.Key == key {
			return withDefaults(d), true
		}
	}
	return Definition{}, false
}

func withDefaults(d Definition) Definition {
	d.Standard = true
	d.Options = []string{}
	d.Precedence = slices.Clone(DefaultPrecedence)
	return d
}

// Store reads and writes fields and their values.
type Store struct {
	db  *db.DB
	clk clock.Clock
}

// NewStore returns a Store on d.
func NewStore(d *db.DB, clk clock.Clock) *Store { return &Store{db: d, clk: clk} }

// checkPrecedence validates an admin's order of sources: known sources, each at most once. The
// sources it leaves out follow in their default order, so the result lists every source; an
// empty list is the default. Errors are errs.Invalid on "precedence[i]".
func checkPrecedence(in []Source) ([]Source, error) {
	out := make([]Source, 0, len(DefaultPrecedence))
	for i, s := range in {
		if !slices.Contains(DefaultPrecedence, s) {
			return nil, errs.Field(errs.Invalid, fmtIndex("precedence", i), "%q is not a source (rep, crm, api, form, visitor)", clip(string(s), 40))
		}
		if slices.Contains(out, s) {
			return nil, errs.Field(errs.Invalid, fmtIndex("precedence", i), "lists %q twice", s)
		}
		out = append(out, s)
	}
	for _, s := range DefaultPrecedence {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// checkKey validates a custom field's key: lower snake case (a-z, 0-9 and single underscores
// between them, starting with a letter), 1–MaxKeyLen characters, not a standard key.
func checkKey(key string) error {
	if key == "" {
		return errs.Field(errs.Invalid, "key", "is required")
	}
	if !validKey(key) {
		return errs.Field(errs.Invalid, "key", "must be 1–%d characters of lower snake case (a-z, 0-9 and _ between words, starting with a letter), such as \"plan_tier\"", MaxKeyLen)
	}
	if IsStandard(key) {
		return errs.Field(errs.Invalid, "key", "%q is a standard field", key)
	}
	return nil
}

func validKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen || key[0] < 'a' || key[0] > 'z' || key[len(key)-1] == '_' {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_' && key[i-1] != '_':
		default:
			return false
		}
	}
	return true
}

// checkLabel trims a label and checks it is 1–MaxLabelLen characters of one-line text.
func checkLabel(label string) (string, error) {
	label = strings.TrimSpace(label)
	if label == "" {
		return "", errs.Field(errs.Invalid, "label", "is required")
	}
	return checkLine("label", label, MaxLabelLen)
}

// checkOptions validates a field's options for its type: a picklist has 1–MaxOptions distinct
// (ignoring case) one-line options of at most MaxOptionLen characters; other types have none.
func checkOptions(t Type, opts []string) ([]string, error) {
	if t != TypePicklist {
		if len(opts) > 0 {
			return nil, errs.Field(errs.Invalid, "options", "only picklist fields have options")
		}
		return []string{}, nil
	}
	if len(opts) == 0 {
		return nil, errs.Field(errs.Invalid, "options", "a picklist needs at least one option")
	}
	if len(opts) > MaxOptions {
		return nil, errs.Field(errs.Invalid, "options", "a picklist has at most %d options", MaxOptions)
	}
	out := make([]string, 0, len(opts))
	for i, o := range opts {
		name := fmtIndex("options", i)
		o = strings.TrimSpace(o)
		if o == "" {
			return nil, errs.Field(errs.Invalid, name, "is empty")
		}
		o, err := checkLine(name, o, MaxOptionLen)
		if err != nil {
			return nil, err
		}
		for _, prev := range out {
			if strings.EqualFold(prev, o) {
				return nil, errs.Field(errs.Invalid, name, "%q is listed twice", o)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func fmtIndex(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }
