package routing_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/routing"
)

func TestParseConfig(t *testing.T) {
	cfg, err := routing.ParseConfig([]byte(` {
	  "ring_seconds": 45, "max_chats": 3e0, "owner_takes_turn": true,
	  "rules": [{"id": "r", "when":
	      {"subject": "geo.country", "op": "eq", "value": "DE"} , "then": {"kind": "rep", "user": "usr_dana", "fallback": null}}],
	  "pools": [{"id": "p", "members": [{"user_id": "usr_sam", "weight": null}], "fallback": {"kind": "booker"}}]
	} `))
	if err != nil {
		t.Fatal(err)
	}
	want := routing.Config{
		RingSeconds: 45, MaxChats: 3, OwnerTakesTurn: true,
		Rules: []routing.Rule{{ID: "r", When: json.RawMessage(`{"subject": "geo.country", "op": "eq", "value": "DE"}`), Then: routing.Target{Kind: "rep", User: "usr_dana"}}},
		Pools: []routing.Pool{{ID: "p", Members: []routing.Member{{UserID: "usr_sam"}}, Fallback: &routing.Target{Kind: "booker"}}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ParseConfig =\n%+v\nwant\n%+v", cfg, want)
	}
	// What encoding/json writes, ParseConfig reads back.
	b, _ := json.Marshal(want)
	again, err := routing.ParseConfig(b)
	if b2, _ := json.Marshal(again); err != nil || string(b2) != string(b) {
		t.Errorf("round trip:\n%s\n%s\n%v", b, b2, err)
	}
	// Text that is not UTF-8 inside a condition is refused at the condition.
	_, err = routing.ParseConfig([]byte("{\"rules\": [{\"id\": \"r\", \"when\": {\"subject\": \"field.company\", \"op\": \"eq\", \"value\": \"\xff\"}}]}"))
	if e := errs.As(err); e == nil || e.Kind != errs.Malformed || e.Field != "rules[0].when" {
		t.Errorf("bad UTF-8 in a condition: %v", err)
	}
}

// fuzzInputs are the decisions FuzzCompile asks of every configuration it accepts.
var fuzzInputs = []routing.Input{
	{},
	{Facts: &routing.Visitor{Country: "DE", Fields: map[string]string{"company_size": "500", "plan": "Pro", "company": "Acme"},
		Session: routing.Session{PageURL: "https://acme.com/pricing"}, OwnerPresent: true, PreviousRep: "usr_dana"},
		Owner: "usr_dana", Reps: allAvailable(), Ledger: routing.Ledger{"emea": {V: 3, Pass: map[string]int64{"usr_sam": 1}}}},
	{Facts: &routing.Visitor{Country: "US", Target: true}, Owner: "usr_meet", Reps: allAvailable(), Exclude: map[string]bool{"usr_kim": true, "usr_ann": true}},
}

// FuzzCompile feeds arbitrary bytes to Compile: it must never panic; it refuses only with an
// *errs.Error of kind Invalid (with the path at fault), Malformed or TooLarge; what it accepts,
// Load accepts without problems, compiles again to the same normalised configuration, and
// decides without panicking, offering only reps who can take the visitor.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		baseJSON, ``, `{}`, `null`, `[]`, `{"rules": [`, `{"a": 1, "a": 2}`, `{"max_chats": 1e400}`, "{\"teams\": [{\"id\": \"\xff\"}]}",
		`{"pools": [{"id": "a", "members": [{"user_id": "usr_dana"}], "fallback": {"kind": "pool", "pool": "b"}},
		            {"id": "b", "members": [{"user_id": "usr_sam"}], "fallback": {"kind": "pool", "pool": "a"}}]}`,
		`{"pools": [{"id": "b", "strategy": "broadcast", "max_chats": 1, "members": [{"user_id": "usr_ann"}, {"user_id": "usr_kim"}]},
		            {"id": "l", "strategy": "least_busy", "members": [{"user_id": "usr_ann", "weight": 100}], "fallback": {"kind": "pool", "pool": "b"}}],
		  "teams": [{"id": "t", "name": "T", "members": ["usr_dana"]}],
		  "rules": [{"id": "x", "disabled": true, "then": {"kind": "booker"}},
		            {"id": "y", "when": {"any": [{"subject": "geo.territory", "op": "in", "value": ["X"]}, {"subject": "field.plan", "op": "eq", "value": "pro"}]},
		             "then": {"kind": "owner", "pool": "l", "fallback": {"kind": "team", "team": "t", "fallback": {"kind": "pool", "pool": "l"}}}}],
		  "territories": [{"name": "X", "countries": ["de", "AT"]}], "owner_takes_turn": true, "default": {"kind": "rep", "user": "usr_kim"}}`,
		`{"rules": [{"id": "r", "then": {"kind": "pool", "pool": "p", "fallback": {"kind": "capture", "fallback": {"kind": "booker"}}}}]}`,
		`{"default": {"kind": "owner", "fallback": {"kind": "owner", "fallback": {"kind": "booker"}}}, "ring_seconds": 600}`,
		`{"territories": [{"name": "EMEA", "countries": ["DE"]}, {"name": "emea", "countries": ["FR"]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := routing.Compile(raw, env)
		if err != nil {
			e := errs.As(err)
			if e == nil || e.Message == "" {
				t.Fatalf("Compile(%q): unclassified error %v", raw, err)
			}
			switch e.Kind {
			case errs.Invalid:
				if e.Field == "" {
					t.Fatalf("Compile(%q): %v without a path", raw, err)
				}
			case errs.Malformed, errs.TooLarge:
			default:
				t.Fatalf("Compile(%q): error of kind %s: %v", raw, e.Kind, err)
			}
			return
		}
		cfg := c.Config()
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := routing.Compile(b, env)
		if err != nil {
			t.Fatalf("%q compiled, but its normalised form %s does not: %v", raw, b, err)
		}
		if !reflect.DeepEqual(again.Config(), cfg) {
			t.Fatalf("normalising %q twice differs:\n%+v\n%+v", raw, cfg, again.Config())
		}
		if l, err := routing.Load(raw, env); err != nil || len(l.Problems()) != 0 {
			t.Fatalf("Load(%q) = %v, %v", raw, err, l.Problems())
		}
		for _, in := range fuzzInputs {
			d := c.Decide(in)
			switch d.Outcome {
			case routing.OutcomeOffer:
				if len(d.Offer) == 0 {
					t.Fatalf("%q: an offer to nobody", raw)
				}
			case routing.OutcomeBooker, routing.OutcomeCapture:
				if len(d.Offer) != 0 || len(d.Turns) != 0 {
					t.Fatalf("%q: %s with offers %v, turns %v", raw, d.Outcome, d.Offer, d.Turns)
				}
			default:
				t.Fatalf("%q: outcome %q", raw, d.Outcome)
			}
			for _, u := range d.Offer {
				st, ok := in.Reps[u]
				if !ok || !st.Active || st.Role == routing.RoleMeetingsOnly || st.Status != routing.StatusAvailable || in.Exclude[u] {
					t.Fatalf("%q: offered to %s (%+v)", raw, u, st)
				}
			}
			if !slices.Equal(d.Trace.Chosen, d.Offer) && len(d.Offer) > 0 || d.Trace.Summary == "" || len(d.Trace.Targets) == 0 {
				t.Fatalf("%q: trace %+v", raw, d.Trace)
			}
			if last := d.Trace.Targets[len(d.Trace.Targets)-1]; (last.Result == routing.ResultPlaced) != (d.Outcome == routing.OutcomeOffer) {
				t.Fatalf("%q: last target %+v for outcome %s", raw, last, d.Outcome)
			}
			if _, err := json.Marshal(d); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(d.Trace.Summary, "%!") {
				t.Fatalf("summary %q", d.Trace.Summary)
			}
		}
		routing.Replay(c, fuzzInputs)
	})
}
