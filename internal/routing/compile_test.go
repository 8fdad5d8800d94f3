package routing_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/cond"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/routing"
)

// env is the workspace the tests route in.
var env = routing.Env{
	Fields: []routing.FieldDef{
		{Key: "company", Label: "Company", Type: "text"},
		{Key: "email", Label: "Email", Type: "email"},
		{Key: "company_size", Label: "Company size", Type: "text"},
		{Key: "plan", Label: "Plan", Type: "picklist", Options: []string{"Free", "Pro", "Enterprise"}},
		{Key: "seats", Label: "Seats", Type: "number"},
		{Key: "customer", Label: "Customer", Type: "boolean"},
	},
	Users: map[string]routing.UserInfo{
		"usr_dana": {Name: "Dana Lee", Role: routing.RoleRep, Active: true},
		"usr_sam":  {Name: "Sam Roe", Role: routing.RoleRep, Active: true},
		"usr_kim":  {Name: "Kim Wu", Role: routing.RoleAdmin, Active: true},
		"usr_ann":  {Name: "Ann Ray", Role: routing.RoleRep, Active: true},
		"usr_meet": {Name: "Mia Meet", Role: routing.RoleMeetingsOnly, Active: true},
		"usr_gone": {Name: "Gus Gone", Role: routing.RoleRep, Active: false},
	},
}

// baseJSON is a valid configuration the error cases change one thing of.
const baseJSON = `{
  "territories": [{"name": "EMEA", "countries": ["DE", "FR", "GB"]}, {"name": "AMER", "countries": ["US", "CA"]}],
  "teams": [{"id": "support", "name": "Support", "members": ["usr_kim", "usr_sam"]}],
  "pools": [
    {"id": "emea", "name": "EMEA sales", "strategy": "round_robin",
     "members": [{"user_id": "usr_dana"}, {"user_id": "usr_sam", "weight": 2}],
     "fallback": {"kind": "pool", "pool": "amer"}},
    {"id": "amer", "name": "AMER sales", "strategy": "least_busy", "max_chats": 5,
     "members": [{"user_id": "usr_kim"}, {"user_id": "usr_ann"}],
     "fallback": {"kind": "booker"}}
  ],
  "rules": [
    {"id": "emea", "name": "EMEA enterprise",
     "when": {"all": [{"subject": "geo.territory", "op": "in", "value": ["emea"]}, {"subject": "company.size", "op": "gte", "value": 200}]},
     "then": {"kind": "pool", "pool": "emea"}},
    {"id": "owner", "name": "Owned accounts",
     "when": {"subject": "account.owner_present", "op": "is", "value": true},
     "then": {"kind": "owner", "pool": "emea", "fallback": {"kind": "pool", "pool": "emea"}}}
  ],
  "default": {"kind": "team", "team": "support"}
}`

func baseConfig(t testing.TB) routing.Config {
	t.Helper()
	cfg, err := routing.ParseConfig([]byte(baseJSON))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// mutate returns the base configuration changed by f, as JSON.
func mutate(t testing.TB, f func(c *routing.Config)) string {
	t.Helper()
	cfg := baseConfig(t)
	f(&cfg)
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustCompile(t testing.TB, raw string) *routing.Compiled {
	t.Helper()
	c, err := routing.Compile([]byte(raw), env)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// nested returns a target nested n fallbacks deep, ending in booker.
func nested(n int) *routing.Target {
	t := &routing.Target{Kind: routing.KindBooker}
	for range n {
		t = &routing.Target{Kind: routing.KindPool, Pool: "amer", Fallback: t}
	}
	return t
}

func members(n int) []routing.Member {
	out := make([]routing.Member, n)
	for i := range out {
		out[i] = routing.Member{UserID: "usr_dana"}
	}
	return out
}

func TestCompileErrors(t *testing.T) {
	big := `{"rules": [` + strings.TrimSuffix(strings.Repeat(`{"id": "r", "then": {"kind": "capture"}},`, 201), ",") + `]}`
	tests := []struct {
		name, raw string
		kind      errs.Kind
		field     string
		msg       string // a part of the message
	}{
		// Reading.
		{"empty", ``, errs.Malformed, "", "is empty"},
		{"not JSON", `{"rules": [`, errs.Malformed, "rules", "ends too soon"},
		{"syntax", `{"rules": [}`, errs.Malformed, "rules", "not valid JSON"},
		{"not an object", `[]`, errs.Malformed, "", "must be a JSON object"},
		{"null", `null`, errs.Malformed, "", "must be a JSON object"},
		{"two values", `{} {}`, errs.Malformed, "", "holds more"},
		{"not UTF-8", "{\"teams\": [{\"id\": \"a\", \"name\": \"\xff\"}]}", errs.Malformed, "teams[0].name", "UTF-8"},
		{"bad condition JSON", `{"rules": [{"id": "r", "when": {"all": [}}]}`, errs.Malformed, "rules[0].when", "not valid JSON"},
		{"too large", `{"rules": [], "pad": "` + strings.Repeat("x", routing.MaxConfigSize) + `"}`, errs.TooLarge, "", "larger"},
		{"unknown key", `{"colour": 1}`, errs.Invalid, "colour", "is not a key of the configuration"},
		{"unknown key odd", `{"we ird": 1}`, errs.Invalid, `["we ird"]`, "is not a key"},
		{"unknown pool key", `{"pools": [{"id": "p", "colour": "red"}]}`, errs.Invalid, "pools[0].colour", "is not a key of a pool (id, name, strategy"},
		{"unknown member key", `{"pools": [{"id": "p", "members": [{"userid": "usr_dana"}]}]}`, errs.Invalid, "pools[0].members[0].userid", "is not a key of a member"},
		{"unknown target key", `{"rules": [{"id": "r", "then": {"kind": "pool", "fallback": {"pol": "x"}}}]}`, errs.Invalid, "rules[0].then.fallback.pol", "is not a key of a target"},
		{"unknown territory key", `{"territories": [{"nom": "x"}]}`, errs.Invalid, "territories[0].nom", "territory"},
		{"unknown team key", `{"teams": [{"users": []}]}`, errs.Invalid, "teams[0].users", "team"},
		{"unknown rule key", `{"rules": [{"conditions": {}}]}`, errs.Invalid, "rules[0].conditions", "is not a key of a rule (id, name, disabled, when, then)"},
		{"repeated key", `{"max_chats": 1, "max_chats": 2}`, errs.Invalid, "max_chats", "appears twice"},
		{"string for number", `{"ring_seconds": "30"}`, errs.Invalid, "ring_seconds", "must be a whole number"},
		{"fraction", `{"ring_seconds": 30.5}`, errs.Invalid, "ring_seconds", "must be a whole number"},
		{"huge number", `{"max_chats": 1e300}`, errs.Invalid, "max_chats", "whole number"},
		{"overflow", `{"max_chats": 99999999999999}`, errs.Invalid, "max_chats", "out of range"},
		{"object for list", `{"rules": {}}`, errs.Invalid, "rules", "must be a list of rules"},
		{"number for object", `{"pools": [1]}`, errs.Invalid, "pools[0]", "must be an object: a pool"},
		{"string for bool", `{"owner_takes_turn": "yes"}`, errs.Invalid, "owner_takes_turn", "true or false"},
		{"number for string", `{"teams": [{"id": 7}]}`, errs.Invalid, "teams[0].id", "must be a string"},
		{"too many rules", big, errs.Invalid, "rules", "has more than 200 rules"},
		{"too many members", mutate(t, func(c *routing.Config) { c.Pools[0].Members = members(501) }), errs.Invalid, "pools[0].members", "more than 500"},
		{"too many pools", `{"pools": [` + strings.TrimSuffix(strings.Repeat(`{},`, 101), ",") + `]}`, errs.Invalid, "pools", "more than 100 pools"},
		{"too deep", mutate(t, func(c *routing.Config) { c.Rules[0].Then.Fallback = nested(11) }), errs.Invalid,
			"rules[0].then" + strings.Repeat(".fallback", 11), "more than 10 fallbacks deep"},

		// Settings.
		{"ring too short", `{"ring_seconds": 5}`, errs.Invalid, "ring_seconds", "from 10 to 600"},
		{"ring too long", `{"ring_seconds": 601}`, errs.Invalid, "ring_seconds", "from 10 to 600"},
		{"max chats high", `{"max_chats": 51}`, errs.Invalid, "max_chats", "from 1 to 50"},
		{"max chats negative", `{"max_chats": -1}`, errs.Invalid, "max_chats", "from 1 to 50"},

		// Territories.
		{"territory without name", `{"territories": [{"name": " ", "countries": ["DE"]}]}`, errs.Invalid, "territories[0].name", "is required"},
		{"territory name control", `{"territories": [{"name": "a\tb", "countries": ["DE"]}]}`, errs.Invalid, "territories[0].name", "control characters"},
		{"territory repeated", mutate(t, func(c *routing.Config) { c.Territories[1].Name = "emea" }), errs.Invalid, "territories[1].name", `repeats the name of territories[0] ("EMEA")`},
		{"territory empty", `{"territories": [{"name": "X", "countries": []}]}`, errs.Invalid, "territories[0].countries", "at least one country"},
		{"unknown country", `{"territories": [{"name": "X", "countries": ["DE", "XX"]}]}`, errs.Invalid, "territories[0].countries[1]", `"XX" is not an ISO 3166 country code`},
		{"country repeated", `{"territories": [{"name": "X", "countries": ["DE", "de"]}]}`, errs.Invalid, "territories[0].countries[1]", `repeats "DE"`},

		// Teams.
		{"team without id", `{"teams": [{"members": ["usr_dana"]}]}`, errs.Invalid, "teams[0].id", "is required"},
		{"team bad id", `{"teams": [{"id": "Sales!", "members": ["usr_dana"]}]}`, errs.Invalid, "teams[0].id", "is not a valid id"},
		{"team long id", `{"teams": [{"id": "` + strings.Repeat("a", 65) + `", "members": ["usr_dana"]}]}`, errs.Invalid, "teams[0].id", "longer than 64"},
		{"team repeated id", mutate(t, func(c *routing.Config) { c.Teams = append(c.Teams, c.Teams[0]) }), errs.Invalid, "teams[1].id", "repeats the id of teams[0]"},
		{"team empty", `{"teams": [{"id": "t", "members": []}]}`, errs.Invalid, "teams[0].members", "at least one member"},
		{"team meetings-only", `{"teams": [{"id": "t", "members": ["usr_dana", "usr_meet"]}]}`, errs.Invalid, "teams[0].members[1]", "Mia Meet (usr_meet) is a meetings-only user, who never receives chats"},
		{"team deactivated", `{"teams": [{"id": "t", "members": ["usr_gone"]}]}`, errs.Invalid, "teams[0].members[0]", "deactivated"},
		{"team unknown user", `{"teams": [{"id": "t", "members": ["usr_who"]}]}`, errs.Invalid, "teams[0].members[0]", `"usr_who" is not a user of this workspace`},
		{"team repeated member", `{"teams": [{"id": "t", "members": ["usr_dana", "usr_dana"]}]}`, errs.Invalid, "teams[0].members[1]", "repeats Dana Lee"},
		{"team long name", `{"teams": [{"id": "t", "name": "` + strings.Repeat("n", 101) + `", "members": ["usr_dana"]}]}`, errs.Invalid, "teams[0].name", "longer than 100"},

		// Pools.
		{"pool repeated id", mutate(t, func(c *routing.Config) { c.Pools[1].ID = "emea" }), errs.Invalid, "pools[1].id", "repeats the id of pools[0]"},
		{"pool bad strategy", mutate(t, func(c *routing.Config) { c.Pools[0].Strategy = "random" }), errs.Invalid, "pools[0].strategy", `"random" is not a strategy`},
		{"pool empty", mutate(t, func(c *routing.Config) { c.Pools[1].Members = nil }), errs.Invalid, "pools[1].members", "at least one member"},
		{"pool unknown user", mutate(t, func(c *routing.Config) { c.Pools[1].Members[1].UserID = "usr_x" }), errs.Invalid, "pools[1].members[1].user_id", "not a user of this workspace"},
		{"pool deactivated", mutate(t, func(c *routing.Config) { c.Pools[0].Members[0].UserID = "usr_gone" }), errs.Invalid, "pools[0].members[0].user_id", "Gus Gone (usr_gone) is deactivated"},
		{"pool meetings-only", mutate(t, func(c *routing.Config) { c.Pools[0].Members[1].UserID = "usr_meet" }), errs.Invalid, "pools[0].members[1].user_id", "meetings-only"},
		{"pool member missing", mutate(t, func(c *routing.Config) { c.Pools[0].Members[1].UserID = "" }), errs.Invalid, "pools[0].members[1].user_id", "is required"},
		{"pool member repeated", mutate(t, func(c *routing.Config) { c.Pools[0].Members[1].UserID = "usr_dana" }), errs.Invalid, "pools[0].members[1].user_id", "repeats Dana Lee (usr_dana) (members[0])"},
		{"weight high", mutate(t, func(c *routing.Config) { c.Pools[0].Members[1].Weight = 101 }), errs.Invalid, "pools[0].members[1].weight", "from 1 to 100"},
		{"weight negative", mutate(t, func(c *routing.Config) { c.Pools[0].Members[0].Weight = -1 }), errs.Invalid, "pools[0].members[0].weight", "from 1 to 100"},
		{"weight in broadcast", mutate(t, func(c *routing.Config) { c.Pools[0].Strategy = routing.Broadcast }), errs.Invalid, "pools[0].members[1].weight", "means nothing in a broadcast pool"},
		{"pool max chats", mutate(t, func(c *routing.Config) { c.Pools[0].MaxChats = 51 }), errs.Invalid, "pools[0].max_chats", "from 1 to 50"},
		{"pool fallback unknown pool", mutate(t, func(c *routing.Config) { c.Pools[0].Fallback.Pool = "apac" }), errs.Invalid, "pools[0].fallback.pool", `"apac" is not a pool (amer, emea)`},
		{"pool fallback to itself", mutate(t, func(c *routing.Config) { c.Pools[0].Fallback.Pool = "emea" }), errs.Invalid, "pools[0].fallback", "falls back in a circle: emea → emea"},
		{"pools in a circle", mutate(t, func(c *routing.Config) {
			c.Pools[1].Fallback = &routing.Target{Kind: routing.KindPool, Pool: "emea"}
		}), errs.Invalid, "pools[0].fallback", "falls back in a circle: emea → amer → emea"},
		{"circle through explicit fallbacks", mutate(t, func(c *routing.Config) {
			c.Pools[0].Fallback = &routing.Target{Kind: routing.KindPool, Pool: "amer", Fallback: &routing.Target{Kind: routing.KindPool, Pool: "emea"}}
		}), errs.Invalid, "pools[0].fallback", "emea → amer → emea"},
		{"circle reached from another pool", mutate(t, func(c *routing.Config) {
			c.Pools = append(c.Pools, routing.Pool{ID: "zz", Members: []routing.Member{{UserID: "usr_ann"}}, Fallback: &routing.Target{Kind: routing.KindPool, Pool: "zz"}})
			c.Pools[1].Fallback = &routing.Target{Kind: routing.KindPool, Pool: "zz"}
		}), errs.Invalid, "pools[2].fallback", "zz → zz"},
		{"fallback after booker", mutate(t, func(c *routing.Config) { c.Pools[1].Fallback.Fallback = &routing.Target{Kind: routing.KindCapture} }), errs.Invalid, "pools[1].fallback.fallback", "must be left out: booker ends the chain"},

		// Rules and targets.
		{"rule without id", mutate(t, func(c *routing.Config) { c.Rules[1].ID = "" }), errs.Invalid, "rules[1].id", "is required"},
		{"rule repeated id", mutate(t, func(c *routing.Config) { c.Rules[1].ID = "emea" }), errs.Invalid, "rules[1].id", "repeats the id of rules[0]"},
		{"target without kind", mutate(t, func(c *routing.Config) { c.Rules[0].Then = routing.Target{} }), errs.Invalid, "rules[0].then.kind", "is required"},
		{"target bad kind", mutate(t, func(c *routing.Config) { c.Rules[0].Then.Kind = "queue" }), errs.Invalid, "rules[0].then.kind", `"queue" is not a kind of target`},
		{"pool target without pool", mutate(t, func(c *routing.Config) { c.Rules[0].Then.Pool = "" }), errs.Invalid, "rules[0].then.pool", "is required for a pool target"},
		{"pool target unknown pool", mutate(t, func(c *routing.Config) { c.Rules[0].Then.Pool = "nope" }), errs.Invalid, "rules[0].then.pool", `"nope" is not a pool`},
		{"owner target unknown pool", mutate(t, func(c *routing.Config) { c.Rules[1].Then.Pool = "nope" }), errs.Invalid, "rules[1].then.pool", "is not a pool"},
		{"team target unknown team", mutate(t, func(c *routing.Config) { c.Default.Team = "sales" }), errs.Invalid, "default.team", `"sales" is not a team (support)`},
		{"team target without team", mutate(t, func(c *routing.Config) { c.Default.Team = "" }), errs.Invalid, "default.team", "is required for a team target"},
		{"pool on a team target", mutate(t, func(c *routing.Config) { c.Default.Pool = "emea" }), errs.Invalid, "default.pool", "only pool and owner targets name a pool"},
		{"team on a pool target", mutate(t, func(c *routing.Config) { c.Rules[0].Then.Team = "support" }), errs.Invalid, "rules[0].then.team", "only team targets name a team"},
		{"user on a pool target", mutate(t, func(c *routing.Config) { c.Rules[0].Then.User = "usr_dana" }), errs.Invalid, "rules[0].then.user", "only rep targets name a user"},
		{"rep target meetings-only", mutate(t, func(c *routing.Config) { c.Rules[0].Then = routing.Target{Kind: routing.KindRep, User: "usr_meet"} }), errs.Invalid, "rules[0].then.user", "meetings-only"},
		{"rep target deactivated", mutate(t, func(c *routing.Config) { c.Rules[0].Then = routing.Target{Kind: routing.KindRep, User: "usr_gone"} }), errs.Invalid, "rules[0].then.user", "deactivated"},
		{"rep target without user", mutate(t, func(c *routing.Config) { c.Rules[0].Then = routing.Target{Kind: routing.KindRep} }), errs.Invalid, "rules[0].then.user", "is required"},
		{"capture with fallback", mutate(t, func(c *routing.Config) {
			c.Rules[0].Then = routing.Target{Kind: routing.KindCapture, Fallback: &routing.Target{Kind: routing.KindBooker}}
		}), errs.Invalid, "rules[0].then.fallback", "capture ends the chain"},
		{"deep fallback bad", mutate(t, func(c *routing.Config) {
			c.Rules[1].Then.Fallback.Fallback = &routing.Target{Kind: routing.KindTeam, Team: "x"}
		}), errs.Invalid, "rules[1].then.fallback.fallback.team", `"x" is not a team`},
		{"default bad", mutate(t, func(c *routing.Config) { c.Default = routing.Target{Kind: "nobody"} }), errs.Invalid, "default.kind", "is not a kind of target"},

		// Conditions.
		{"unknown subject", mutate(t, func(c *routing.Config) {
			c.Rules[1].When = json.RawMessage(`{"subject": "field.colour", "op": "eq", "value": "red"}`)
		}),
			errs.Invalid, "rules[1].when.subject", `"field.colour" is not a subject`},
		{"unknown territory", mutate(t, func(c *routing.Config) {
			c.Rules[0].When = json.RawMessage(`{"all": [{"subject": "geo.territory", "op": "in", "value": ["Mars"]}]}`)
		}), errs.Invalid, "rules[0].when.all[0].value[0]", `"Mars" is not a territory (AMER, EMEA)`},
		{"impossible condition", mutate(t, func(c *routing.Config) {
			c.Rules[0].When = json.RawMessage(`{"all": [{"subject": "company.size", "op": "gt", "value": 10}, {"subject": "company.size", "op": "lt", "value": 5}]}`)
		}), errs.Invalid, "rules[0].when", "can never match"},
		{"country against territory", mutate(t, func(c *routing.Config) {
			c.Rules[0].When = json.RawMessage(`{"all": [{"subject": "geo.country", "op": "eq", "value": "US"}, {"subject": "geo.territory", "op": "in", "value": ["EMEA"]}]}`)
		}), errs.Invalid, "rules[0].when", "can never match"},
		{"picklist option", mutate(t, func(c *routing.Config) {
			c.Rules[0].When = json.RawMessage(`{"subject": "field.plan", "op": "eq", "value": "Gold"}`)
		}),
			errs.Invalid, "rules[0].when.value", `"Gold" is not one of the options of field.plan (Free, Pro, Enterprise)`},
		{"previous rep unknown", mutate(t, func(c *routing.Config) {
			c.Rules[0].When = json.RawMessage(`{"subject": "visitor.previous_rep", "op": "in", "value": ["usr_dana", "usr_bob"]}`)
		}), errs.Invalid, "rules[0].when.value[1]", `"usr_bob" is not a user of this workspace`},
		{"region option", mutate(t, func(c *routing.Config) {
			c.Rules[0].When = json.RawMessage(`{"subject": "geo.region", "op": "eq", "value": "LATAM"}`)
		}),
			errs.Invalid, "rules[0].when.value", "AMER, EMEA, APAC"},
		{"condition in a disabled rule", mutate(t, func(c *routing.Config) {
			c.Rules[1].Disabled = true
			c.Rules[1].When = json.RawMessage(`{"subject": "session.page_url", "op": "like", "value": "x"}`)
		}), errs.Invalid, "rules[1].when.op", `"like" is not an operator for session.page_url`},
		{"rule name control", mutate(t, func(c *routing.Config) { c.Rules[0].Name = "a\u202eb" }), errs.Invalid, "rules[0].name", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := routing.Compile([]byte(tt.raw), env)
			e := errs.As(err)
			if e == nil {
				t.Fatalf("Compile: %v, want an *errs.Error", err)
			}
			if e.Kind != tt.kind || e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("Compile: %s %q: %s\nwant %s %q containing %q", e.Kind, e.Field, e.Message, tt.kind, tt.field, tt.msg)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	for name, raw := range map[string]string{
		"minimal":                 `{}`,
		"nulls":                   `{"territories": null, "teams": null, "pools": null, "rules": null, "default": null, "ring_seconds": null}`,
		"owner without fallback":  `{"rules": [{"id": "o", "then": {"kind": "owner"}}]}`,
		"rule always":             `{"rules": [{"id": "a", "when": {}, "then": {"kind": "booker"}}, {"id": "b", "when": null, "then": {"kind": "capture"}}]}`,
		"weight 1 in broadcast":   `{"pools": [{"id": "b", "strategy": "broadcast", "members": [{"user_id": "usr_dana", "weight": 1}]}]}`,
		"pool fallback to a team": `{"teams": [{"id": "t", "members": ["usr_kim"]}], "pools": [{"id": "p", "members": [{"user_id": "usr_dana"}], "fallback": {"kind": "team", "team": "t"}}]}`,
		"pool visited twice without a circle": `{"pools": [
			{"id": "a", "members": [{"user_id": "usr_dana"}], "fallback": {"kind": "pool", "pool": "b"}},
			{"id": "b", "members": [{"user_id": "usr_sam"}]},
			{"id": "c", "members": [{"user_id": "usr_kim"}], "fallback": {"kind": "pool", "pool": "a", "fallback": {"kind": "pool", "pool": "a"}}}]}`,
		"max ranges":        `{"ring_seconds": 600, "max_chats": 50, "pools": [{"id": "p", "max_chats": 1, "members": [{"user_id": "usr_dana", "weight": 100}]}]}`,
		"admins take chats": `{"rules": [{"id": "k", "then": {"kind": "rep", "user": "usr_kim"}}]}`,
		"base":              baseJSON,
	} {
		t.Run(name, func(t *testing.T) {
			mustCompile(t, raw)
		})
	}
}

func TestNormalise(t *testing.T) {
	c := mustCompile(t, `{
	  "territories": [{"name": "  Emea ", "countries": ["de", "Fr"]}],
	  "pools": [{"id": "p", "members": [{"user_id": "usr_dana"}, {"user_id": "usr_sam", "weight": 3}]}],
	  "rules": [{"id": "r1", "when": {"all": [ {"value": ["EMEA"], "op": "in", "subject": "geo.territory"}, {"subject": "field.plan", "op": "eq", "value": "pro"}]},
	             "then": {"kind": "pool", "pool": "p"}},
	            {"id": "r2", "name": " Everyone ", "then": {"kind": "booker"}}]
	}`)
	got := c.Config()
	want := routing.Config{
		Territories: []routing.Territory{{Name: "Emea", Countries: []string{"DE", "FR"}}},
		Pools: []routing.Pool{{ID: "p", Name: "p", Strategy: routing.RoundRobin,
			Members: []routing.Member{{UserID: "usr_dana", Weight: 1}, {UserID: "usr_sam", Weight: 3}}}},
		Rules: []routing.Rule{
			{ID: "r1", Name: "r1", When: json.RawMessage(`{"all":[{"subject":"geo.territory","op":"in","value":["Emea"]},{"subject":"field.plan","op":"eq","value":"Pro"}]}`),
				Then: routing.Target{Kind: routing.KindPool, Pool: "p"}},
			{ID: "r2", Name: "Everyone", When: json.RawMessage(`{}`), Then: routing.Target{Kind: routing.KindBooker}},
		},
		Default:     routing.Target{Kind: routing.KindCapture},
		RingSeconds: 30,
		MaxChats:    3,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Config() =\n%+v\nwant\n%+v", got, want)
	}

	// The normalised configuration compiles to itself.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	again := mustCompile(t, string(b))
	if !reflect.DeepEqual(again.Config(), got) {
		t.Errorf("normalised configuration changed when compiled again:\n%+v\n%+v", again.Config(), got)
	}

	// Config returns a copy.
	got.Pools[0].Members[0].UserID = "changed"
	got.Rules[0].When[2] = 'X'
	if c.Config().Pools[0].Members[0].UserID != "usr_dana" || c.Config().Rules[0].When[2] != 'a' {
		t.Error("changing Config's result changed the compiled configuration")
	}
}

func TestCompileConfigLeavesInputAlone(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Territories[0].Countries[0] = "de"
	before, _ := json.Marshal(cfg)
	if _, err := routing.CompileConfig(cfg, env); err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal(cfg)
	if string(before) != string(after) {
		t.Errorf("CompileConfig changed its input:\n%s\n%s", before, after)
	}
}

func TestCompileConfigCircularPointers(t *testing.T) {
	// A chain of targets built in a circle in Go (not possible in JSON) is refused, not followed
	// for ever.
	loop := &routing.Target{Kind: routing.KindPool, Pool: "amer"}
	loop.Fallback = loop
	cfg := baseConfig(t)
	cfg.Rules[0].Then = *loop
	_, err := routing.CompileConfig(cfg, env)
	if e := errs.As(err); e == nil || !strings.Contains(e.Message, "fallbacks deep") {
		t.Fatalf("CompileConfig = %v, want a refusal of the depth", err)
	}
}

func TestLoadToleratesWorkspaceChanges(t *testing.T) {
	raw := mutate(t, func(c *routing.Config) {
		c.Rules = append([]routing.Rule{
			{ID: "plan", Name: "Pro plan", When: json.RawMessage(`{"subject": "field.plan", "op": "in", "value": ["Pro"]}`), Then: routing.Target{Kind: routing.KindRep, User: "usr_dana"}},
			{ID: "seats", Name: "Many seats", When: json.RawMessage(`{"subject": "field.seats", "op": "gt", "value": 100}`), Then: routing.Target{Kind: routing.KindBooker}},
			{ID: "prev", Name: "Back to Sam", When: json.RawMessage(`{"subject": "visitor.previous_rep", "op": "eq", "value": "usr_sam"}`), Then: routing.Target{Kind: routing.KindRep, User: "usr_sam"}},
		}, c.Rules...)
	})
	mustCompile(t, raw)

	// Since publication: Dana was deactivated, Sam deleted, the Pro option and the seats field removed.
	now := routing.Env{Users: map[string]routing.UserInfo{}, Fields: []routing.FieldDef{
		{Key: "plan", Type: "picklist", Options: []string{"Free", "Enterprise"}},
		{Key: "company_size", Type: "text"},
	}}
	for id, u := range env.Users {
		now.Users[id] = u
	}
	delete(now.Users, "usr_sam")
	now.Users["usr_dana"] = routing.UserInfo{Name: "Dana Lee", Role: routing.RoleRep}

	if _, err := routing.Compile([]byte(raw), now); err == nil {
		t.Fatal("Compile accepted a configuration naming a deactivated user")
	}
	c, err := routing.Load([]byte(raw), now)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var fields []string
	for _, p := range c.Problems() {
		fields = append(fields, p.Field)
	}
	wantFields := []string{"teams[0].members[1]", "pools[0].members[0].user_id", "pools[0].members[1].user_id",
		"rules[0].when.value[0]", "rules[0].then.user", "rules[1].when.subject", "rules[2].when.value", "rules[2].then.user"}
	if !reflect.DeepEqual(fields, wantFields) {
		t.Errorf("Problems at %q, want %q", fields, wantFields)
	}

	reps := map[string]routing.RepState{
		"usr_dana": {Status: routing.StatusAvailable, Role: routing.RoleRep},
		"usr_kim":  {Status: routing.StatusAvailable, Active: true, Role: routing.RoleAdmin},
		"usr_ann":  {Status: routing.StatusAvailable, Active: true, Role: routing.RoleRep},
	}
	// The picklist rule still matches, read as text; Dana is skipped as deactivated, and the chain
	// ends in capture.
	d := c.Decide(routing.Input{Facts: &routing.Visitor{Fields: map[string]string{"plan": "pro", "seats": "500"}}, Reps: reps})
	if d.RuleID != "plan" || d.Outcome != routing.OutcomeCapture || d.Trace.Targets[0].Candidates[0].Skip != routing.SkipDeactivated {
		t.Errorf("Decide = %+v", d)
	}
	// The rule on the removed field never matches, and says why.
	d = c.Decide(routing.Input{Facts: &routing.Visitor{Fields: map[string]string{"seats": "500"}}, Reps: reps})
	if d.RuleID == "seats" || d.Trace.Rules[1].Broken == "" || d.Trace.Rules[1].Matched {
		t.Errorf("a rule whose condition no longer compiles: %+v", d.Trace.Rules)
	}
	if !strings.Contains(d.Trace.Rules[1].Broken, "rules[1].when.subject") {
		t.Errorf("Broken = %q", d.Trace.Rules[1].Broken)
	}
	if !strings.Contains(d.Trace.Summary, "Rule “Many seats” was skipped: its condition no longer fits the workspace.") {
		t.Errorf("summary %q", d.Trace.Summary)
	}
	// Sam, deleted, is skipped as unknown.
	d = c.Decide(routing.Input{Facts: &routing.Visitor{PreviousRep: "usr_sam"}, Reps: reps})
	if d.RuleID != "prev" || d.Trace.Targets[0].Candidates[0].Skip != routing.SkipUnknown {
		t.Errorf("Decide = %+v", d)
	}
	// What does not depend on the workspace is still refused.
	if _, err := routing.Load([]byte(`{"pools": [{"id": "p"}]}`), now); err == nil {
		t.Error("Load accepted an empty pool")
	}
}

func TestSubjects(t *testing.T) {
	cfg := baseConfig(t)
	subs := routing.Subjects(env, cfg)
	by := map[string]routing.SubjectInfo{}
	for _, s := range subs {
		if _, dup := by[s.Name]; dup {
			t.Errorf("subject %s twice", s.Name)
		}
		if len(s.Ops) == 0 || s.Label == "" || s.Group == "" {
			t.Errorf("subject %+v lacks operators, label or group", s)
		}
		by[s.Name] = s
	}
	if len(subs) != len(env.Fields)+18 {
		t.Errorf("%d subjects", len(subs))
	}
	for name, kind := range map[string]cond.Kind{
		"field.company": cond.Text, "field.email": cond.Text, "field.plan": cond.Picklist, "field.seats": cond.Number,
		"field.customer": cond.Bool, "session.page_url": cond.URL, "session.landing_url": cond.URL, "session.referrer": cond.URL,
		"session.utm_source": cond.Text, "session.utm_content": cond.Text, "session.device": cond.Text, "session.language": cond.Text,
		"geo.country": cond.Country, "geo.region": cond.Picklist, "geo.territory": cond.Territory, "company.size": cond.Number,
		"account.target": cond.Bool, "account.owner_present": cond.Bool, "visitor.previous_rep": cond.User, "visitor.returning": cond.Bool,
	} {
		if by[name].Kind != kind {
			t.Errorf("%s is %v, want %v", name, by[name].Kind, kind)
		}
	}
	if got := by["geo.territory"].Options; !reflect.DeepEqual(got, []string{"EMEA", "AMER"}) {
		t.Errorf("territory options %q", got)
	}
	if got := by["field.plan"].Options; !reflect.DeepEqual(got, []string{"Free", "Pro", "Enterprise"}) {
		t.Errorf("plan options %q", got)
	}
	if got := by["geo.region"].Options; !reflect.DeepEqual(got, []string{"AMER", "EMEA", "APAC"}) {
		t.Errorf("region options %q", got)
	}
	if b, err := json.Marshal(by["geo.territory"]); err != nil || !strings.Contains(string(b), `"kind":"territory"`) || !strings.Contains(string(b), `"ops":[{"name":"in"`) {
		t.Errorf("JSON %s, %v", b, err)
	}
	// The schema accepts every subject listed.
	s := routing.Schema(env, cfg)
	for _, sub := range subs {
		raw := fmt.Sprintf(`{"subject": %q, "op": "%s"}`, sub.Name, sub.Ops[len(sub.Ops)-1].Name)
		if sub.Kind == cond.Territory {
			raw = fmt.Sprintf(`{"subject": %q, "op": "in", "value": ["EMEA"]}`, sub.Name)
		}
		if _, err := cond.Compile([]byte(raw), "x", s); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
}
