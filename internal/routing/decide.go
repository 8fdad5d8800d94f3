package routing

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/beckonhq/beckon/internal/cond"
)

// Input is what a decision knows: the visitor, the account owner, the reps' state and the pools'
// ledger at this moment.
type Input struct {
	// Facts describes the visitor to the rules' conditions, usually a *Visitor; nil knows nothing.
	Facts cond.Facts `json:"facts"`
	// Owner is the user id of the visitor's CRM account owner; "" when unknown.
	Owner string `json:"owner,omitempty"`
	// Reps holds, by user id, every user who could be offered the visitor; a user missing from it
	// is never offered ("unknown").
	Reps map[string]RepState `json:"reps"`
	// Ledger is the pools' round-robin state; Decide does not change it.
	Ledger Ledger `json:"ledger,omitempty"`
	// Exclude holds reps already rung for this conversation who did not accept (a reroute after
	// the ring timeout): they are skipped ("no_answer").
	Exclude map[string]bool `json:"exclude,omitempty"`
}

// UnmarshalJSON reads an Input written by encoding/json, its facts into a *Visitor, so that
// recorded inputs can be replayed.
func (in *Input) UnmarshalJSON(b []byte) error {
	type plain Input
	var aux struct {
		plain
		Facts *Visitor `json:"facts"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*in = Input(aux.plain)
	in.Facts = nil
	if aux.Facts != nil {
		in.Facts = aux.Facts
	}
	return nil
}

// RepState is a user's state at the moment of a decision. A rep is offered a visitor only when
// Active, not RoleMeetingsOnly, not in Input.Exclude, Status StatusAvailable ("away" skips as
// away; "offline", "" and anything else as offline) and Load below the cap.
type RepState struct {
	Name   string `json:"name"`   // for the trace; the Env's name, then the id, when empty
	Status string `json:"status"` // StatusAvailable, StatusAway or StatusOffline
	Load   int    `json:"load"`   // open conversations the rep takes part in
	Active bool   `json:"active"`
	Role   string `json:"role"`
}

// Decision is where routing sends a visitor, and why.
type Decision struct {
	RuleID   string `json:"rule_id"`            // the rule that matched; "" for the default target
	Outcome  string `json:"outcome"`            // OutcomeOffer, OutcomeBooker or OutcomeCapture
	Strategy string `json:"strategy,omitempty"` // for an offer: round_robin, broadcast, least_busy, owner, rep or team
	PoolID   string `json:"pool_id,omitempty"`  // the pool that placed it, or whose ledger an owner's turn used
	TeamID   string `json:"team_id,omitempty"`  // the team that placed it
	// Offer lists the users to ring now: one for round robin, least busy, owner and rep; every
	// eligible member for broadcast and team. Empty unless Outcome is OutcomeOffer.
	Offer []string `json:"offer,omitempty"`
	// Turns are the ledger changes to persist atomically with the assignment (Ledger.Apply): at
	// most one, for round robin, least busy and an owner's turn.
	Turns []Turn `json:"turns,omitempty"`
	Trace Trace  `json:"trace"`
}

// Outcomes of a decision.
const (
	OutcomeOffer   = "offer"   // ring the reps of Decision.Offer
	OutcomeBooker  = "booker"  // show the meeting booker
	OutcomeCapture = "capture" // offer email capture: nobody can chat now
)

// Trace explains a decision (R4): the rules evaluated, each target tried along the fallback
// chain with its candidates, and a summary for people. It is JSON, for the caller to store and
// the console to show.
type Trace struct {
	Rules   []RuleTrace   `json:"rules"`   // the rules in order, up to and including the one that matched
	Targets []TargetTrace `json:"targets"` // the targets tried, in order
	Chosen  []string      `json:"chosen"`  // the users offered the visitor
	Summary string        `json:"summary"` // a few sentences with names, e.g. "Rule “EMEA” matched. Pool EMEA sales (round robin): Dana Lee was next in turn; Sam Roe skipped (away)."
}

// RuleTrace is one rule as a decision evaluated it. Steps are, for the rule that matched, every
// comparison cond evaluated, in order; for a rule that did not match, only the comparison that
// failed it (the last one evaluated), which is what explains it and keeps a stored trace of 200
// rules small.
type RuleTrace struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Matched  bool        `json:"matched"`
	Disabled bool        `json:"disabled,omitempty"` // skipped: the rule is disabled
	Broken   string      `json:"broken,omitempty"`   // skipped: the condition no longer compiles (Load), and why
	Steps    []cond.Step `json:"steps,omitempty"`
}

// TargetTrace is one target tried: its candidates, and whether it placed the visitor
// (ResultPlaced), could not (ResultNobody: the chain goes on) or ended the chain
// (ResultTerminal: booker or capture).
type TargetTrace struct {
	Kind     string `json:"kind"`
	Pool     string `json:"pool,omitempty"`
	Team     string `json:"team,omitempty"`
	User     string `json:"user,omitempty"`
	Name     string `json:"name,omitempty"`     // the pool's, team's or user's name
	Strategy string `json:"strategy,omitempty"` // a pool's strategy
	// Candidates are the members considered, in the order that decided: by turn for round
	// robin, by load then turn for least busy, as listed for broadcast and teams. At most
	// MaxTraceCandidates are kept (always with whoever was chosen by turn); More counts the
	// rest.
	Candidates []Candidate `json:"candidates,omitempty"`
	More       int         `json:"more,omitempty"`
	Result     string      `json:"result"`
	Note       string      `json:"note,omitempty"` // e.g. "the fallback of pool EMEA sales"
}

// Results of a target.
const (
	ResultPlaced   = "placed"
	ResultNobody   = "nobody"
	ResultTerminal = "terminal"
)

// MaxTraceCandidates bounds the candidates a trace keeps per target, so that a stored trace
// stays small for a pool of hundreds.
const MaxTraceCandidates = 50

// Candidate is a user a target considered. Skip is "" when the user could take the visitor, or a
// stable code: SkipUnknown, SkipDeactivated, SkipMeetingsOnly, SkipNoAnswer, SkipOffline,
// SkipAway or SkipAtCap; Reason says it for people ("is away", "has 3 of 3 chats open").
type Candidate struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Skip   string `json:"skip,omitempty"`
	Reason string `json:"reason"`
	Load   int    `json:"load"`
	Cap    int    `json:"cap"`
	Pass   int64  `json:"pass,omitempty"` // the effective pass that ordered turns (round robin, least busy, owner's turn)
	Chosen bool   `json:"chosen,omitempty"`
}

// Skip codes: why a candidate was not offered the visitor, checked in this order.
const (
	SkipUnknown      = "unknown"       // not among Input.Reps: not a user of the workspace (any more)
	SkipDeactivated  = "deactivated"   // the user is deactivated
	SkipMeetingsOnly = "meetings_only" // the user is meetings-only and never receives chats
	SkipNoAnswer     = "no_answer"     // rung already for this conversation and did not accept
	SkipOffline      = "offline"       // status offline (or unknown)
	SkipAway         = "away"          // status away
	SkipAtCap        = "at_cap"        // as many open conversations as the cap allows
)

type skip uint8

const (
	eligible skip = iota
	skUnknown
	skDeactivated
	skMeetingsOnly
	skNoAnswer
	skOffline
	skAway
	skAtCap
	nSkips
)

var (
	skipCodes   = [nSkips]string{"", SkipUnknown, SkipDeactivated, SkipMeetingsOnly, SkipNoAnswer, SkipOffline, SkipAway, SkipAtCap}
	skipReasons = [nSkips]string{"", "is not a user of this workspace", "is deactivated", "is a meetings-only user, who never receives chats",
		"was rung for this conversation and did not accept", "is offline", "is away", ""}
	skipShort = [nSkips]string{"", "not a user", "deactivated", "meetings-only", "rung already, no answer", "offline", "away", ""}
	skipCount = [nSkips]string{"", "not a user", "deactivated", "meetings-only", "rung already", "offline", "away", "at their chat limit"}
)

var strategyNames = map[string]string{RoundRobin: "round robin", Broadcast: "broadcast", LeastBusy: "least busy"}

// maxChain bounds the targets one decision tries. Validation already makes every chain finite
// (nesting is bounded and pools' fallbacks have no cycle); this is a second guard.
const maxChain = (MaxFallbackDepth + 2) * (MaxPools + 2)

// Decide routes a visitor: it finds the first enabled rule whose condition matches in.Facts
// (the default target when none does), then follows the target's fallback chain until a target
// places the visitor, reaches booker or capture, or ends (capture: routing never loses a
// visitor). It is pure: it reads in and changes nothing; the ledger changes to persist are in
// Decision.Turns. It never fails.
//
// Pools choose by strategy: round robin the eligible member with the smallest effective pass
// (ties by user id, in byte order), least busy the one with the fewest open conversations (ties
// as round robin), both taking a turn (Turns); broadcast and teams offer every eligible member
// and take no turn. An owner or rep target offers that one user; with Config.OwnerTakesTurn and
// an owner target naming a pool the owner belongs to, the owner's turn in that pool is taken as
// if round robin had chosen them.
func (c *Compiled) Decide(in Input) Decision { return c.decide(&in, true) }

// walker follows a target chain for one decision.
type walker struct {
	c     *Compiled
	in    *Input
	d     *Decision
	full  bool     // build the trace; Replay does not
	sum   []string // the summary's sentences
	tried int      // targets tried so far
}

// noFacts knows nothing about the visitor.
type noFacts struct{}

func (noFacts) Text(string) (string, bool)    { return "", false }
func (noFacts) Number(string) (float64, bool) { return 0, false }
func (noFacts) Bool(string) (bool, bool)      { return false, false }

func (c *Compiled) decide(in *Input, full bool) Decision {
	var d Decision
	f := in.Facts
	if f == nil {
		f = noFacts{}
	}
	match := -1
	for i := range c.rules {
		r := &c.rules[i]
		if r.disabled || r.broken != "" {
			continue
		}
		if r.expr.Eval(f) {
			match = i
			break
		}
	}
	w := walker{c: c, in: in, d: &d, full: full}
	t := c.def
	if match >= 0 {
		d.RuleID, t = c.rules[match].id, c.rules[match].then
	}
	if full {
		w.traceRules(f, match)
	}
	var from *cpool
	for n := 0; ; n++ {
		if t == nil || n >= maxChain {
			w.chainEnd()
			break
		}
		if w.try(t, from) {
			break
		}
		from = nil
		if t.viaPool {
			from = t.pool
		}
		t = t.next
	}
	if full {
		d.Trace.Chosen = slices.Clone(d.Offer)
		if d.Trace.Chosen == nil {
			d.Trace.Chosen = []string{}
		}
		d.Trace.Summary = strings.Join(w.sum, " ")
	}
	return d
}

func (w *walker) traceRules(f cond.Facts, match int) {
	rules := w.c.rules
	n := len(rules)
	if match >= 0 {
		n = match + 1
	}
	rt := make([]RuleTrace, n)
	enabled := 0
	var buf []cond.Step // shared by the rules: a rule that did not match keeps one step
	for i := range n {
		r := &rules[i]
		rt[i] = RuleTrace{ID: r.id, Name: r.name, Disabled: r.disabled, Broken: r.broken}
		switch {
		case r.disabled:
		case r.broken != "":
			w.say("Rule “" + r.name + "” was skipped: its condition no longer fits the workspace.")
		default:
			enabled++
			_, buf = r.expr.AppendTrace(f, buf[:0])
			rt[i].Matched = i == match
			switch {
			case rt[i].Matched:
				rt[i].Steps = slices.Clone(buf)
			case len(buf) > 0:
				rt[i].Steps = []cond.Step{buf[len(buf)-1]} // the comparison that failed it
			}
		}
	}
	w.d.Trace.Rules = rt
	switch {
	case match >= 0:
		w.say("Rule “" + rules[match].name + "” matched.")
	case len(rules) == 0:
		w.say("There are no rules, so the default target applies.")
	case enabled == 0:
		w.say("No rule is enabled, so the default target applies.")
	default:
		w.say("No rule matched, so the default target applies.")
	}
}

func (w *walker) say(s string) { w.sum = append(w.sum, s) }

// try tries one target; it reports whether the chain ends here. from is the pool whose own
// fallback led to t, if any.
func (w *walker) try(t *ctarget, from *cpool) bool {
	tt := TargetTrace{Kind: t.kind}
	if from != nil && w.full {
		tt.Note = "the fallback of pool " + from.name
	}
	var done bool
	switch t.kind {
	case KindBooker:
		w.d.Outcome, tt.Result, done = OutcomeBooker, ResultTerminal, true
		if w.full {
			w.terminal("the meeting booker")
		}
	case KindCapture:
		w.d.Outcome, tt.Result, done = OutcomeCapture, ResultTerminal, true
		if w.full {
			w.terminal("email capture")
		}
	case KindPool:
		done = w.pool(t.pool, &tt)
	case KindTeam:
		done = w.team(t.team, &tt)
	case KindOwner:
		done = w.one(t, w.in.Owner, &tt)
	case KindRep:
		done = w.one(t, t.user, &tt)
	}
	w.tried++
	if w.full {
		w.d.Trace.Targets = append(w.d.Trace.Targets, tt)
	}
	return done
}

// lead begins a target's sentence in the summary: the target itself for the first, "Fallback
// to" it for the next ones.
func (w *walker) lead(noun string) string {
	if w.tried > 0 {
		return "Fallback to " + noun
	}
	return strings.ToUpper(noun[:1]) + noun[1:]
}

func (w *walker) terminal(noun string) {
	if w.tried > 0 {
		w.say("Fallback to " + noun + ".")
	} else {
		w.say(strings.ToUpper(noun[:1]) + noun[1:] + " is offered.")
	}
}

// chainEnd ends a chain in which nobody could take the visitor.
func (w *walker) chainEnd() {
	w.d.Outcome = OutcomeCapture
	if w.full {
		w.d.Trace.Targets = append(w.d.Trace.Targets, TargetTrace{Kind: KindCapture, Result: ResultTerminal,
			Note: "the end of the fallback chain"})
		w.say("Nobody could take the visitor, so email capture is offered.")
	}
}

// check says whether user id can be offered a visitor now, with cap open conversations at most.
func (w *walker) check(id string, cap int) (skip, RepState) {
	st, ok := w.in.Reps[id]
	switch {
	case !ok:
		return skUnknown, st
	case !st.Active:
		return skDeactivated, st
	case st.Role == RoleMeetingsOnly:
		return skMeetingsOnly, st
	case w.in.Exclude[id]:
		return skNoAnswer, st
	case st.Status == StatusAvailable:
		if st.Load >= cap {
			return skAtCap, st
		}
		return eligible, st
	case st.Status == StatusAway:
		return skAway, st
	}
	return skOffline, st
}

// name names a user for people: the RepState's name, the Env's, or the id.
func (w *walker) name(id string, st RepState) string {
	if st.Name != "" {
		return st.Name
	}
	if n, ok := w.c.names[id]; ok {
		return n
	}
	return id
}

func candidate(id, name string, sk skip, st RepState, cap int) Candidate {
	c := Candidate{UserID: id, Name: name, Skip: skipCodes[sk], Reason: skipReasons[sk], Load: st.Load, Cap: cap}
	if sk == skAtCap {
		c.Reason = "has " + strconv.Itoa(st.Load) + " of " + strconv.Itoa(cap) + " chats open"
	}
	return c
}

// pool tries a pool target.
func (w *walker) pool(p *cpool, tt *TargetTrace) bool {
	tt.Pool, tt.Name, tt.Strategy = p.id, p.name, p.strategy
	pl := w.in.Ledger[p.id]
	var v int64
	if pl != nil {
		v = pl.V
	}
	var cands []Candidate
	if w.full {
		cands = make([]Candidate, len(p.members))
	}
	var counts [nSkips]int
	var offer []string
	best, bestLoad := -1, 0
	var bestE int64
	for i := range p.members {
		m := &p.members[i]
		sk, st := w.check(m.id, p.cap)
		counts[sk]++
		var e int64
		if p.strategy != Broadcast {
			e = effective(pl, v, m)
		}
		if w.full {
			cands[i] = candidate(m.id, w.name(m.id, st), sk, st, p.cap)
			cands[i].Pass = e
		}
		if sk != eligible {
			continue
		}
		switch p.strategy {
		case Broadcast:
			offer = append(offer, m.id)
		case RoundRobin:
			if best < 0 || e < bestE || e == bestE && m.id < p.members[best].id {
				best, bestE = i, e
			}
		case LeastBusy:
			if best < 0 || st.Load < bestLoad || st.Load == bestLoad && (e < bestE || e == bestE && m.id < p.members[best].id) {
				best, bestE, bestLoad = i, e, st.Load
			}
		}
	}
	if best >= 0 {
		m := &p.members[best]
		offer = []string{m.id}
		w.d.Turns = append(w.d.Turns, turn(p, m, bestE, v))
	}
	placed := len(offer) > 0
	if placed {
		w.d.Outcome, w.d.Strategy, w.d.PoolID, w.d.Offer = OutcomeOffer, p.strategy, p.id, offer
		tt.Result = ResultPlaced
	} else {
		tt.Result = ResultNobody
	}
	if !w.full {
		return placed
	}
	head := w.lead("pool "+p.name+" ("+strategyNames[p.strategy]+")") + ": "
	switch {
	case !placed:
		w.say(head + "nobody could take the visitor (" + countPhrase(&counts, len(p.members)) + ").")
		w.keep(tt, cands, -1)
	case p.strategy == Broadcast:
		var names []string
		for i := range cands {
			if cands[i].Skip == "" {
				cands[i].Chosen, cands[i].Reason = true, "rung with every eligible member"
				names = append(names, cands[i].Name)
			}
		}
		s := head + "ringing " + nameList(names, 3)
		if skipped := len(p.members) - len(offer); skipped > 0 {
			s += "; " + strconv.Itoa(skipped) + " skipped (" + countPhrase(&counts, len(p.members)) + ")"
		}
		w.say(s + ".")
		w.keep(tt, cands, -1)
	default:
		chosenID := p.members[best].id
		if p.strategy == RoundRobin {
			slices.SortFunc(cands, byTurn)
		} else {
			slices.SortFunc(cands, byLoad)
		}
		k := slices.IndexFunc(cands, func(c Candidate) bool { return c.UserID == chosenID })
		for i := range cands {
			switch {
			case i == k:
				cands[i].Chosen = true
				if p.strategy == RoundRobin {
					cands[i].Reason = "was next in turn"
				} else {
					cands[i].Reason = "had the fewest open chats"
				}
			case cands[i].Skip == "" && p.strategy == LeastBusy && cands[i].Load > cands[k].Load:
				cands[i].Reason = "could take it, but had more open chats"
			case cands[i].Skip == "":
				cands[i].Reason = "could take it, but was not next in turn"
			}
		}
		s := head + cands[k].Name
		if p.strategy == RoundRobin {
			s += " was next in turn"
		} else {
			s += " had the fewest open chats (" + strconv.Itoa(cands[k].Load) + ")"
		}
		w.say(s + skippedAhead(cands[:k]) + ".")
		w.keep(tt, cands, k)
	}
	return placed
}

// byTurn orders candidates as round robin does: effective pass, then user id.
func byTurn(a, b Candidate) int {
	if a.Pass != b.Pass {
		if a.Pass < b.Pass {
			return -1
		}
		return 1
	}
	return strings.Compare(a.UserID, b.UserID)
}

// byLoad orders candidates as least busy does: load, then as round robin.
func byLoad(a, b Candidate) int {
	if a.Load != b.Load {
		return a.Load - b.Load
	}
	return byTurn(a, b)
}

// keep puts at most MaxTraceCandidates of cands into the trace, keeping cands[chosen] (when
// chosen >= 0) even when it comes later.
func (w *walker) keep(tt *TargetTrace, cands []Candidate, chosen int) {
	if len(cands) <= MaxTraceCandidates {
		tt.Candidates = cands
		return
	}
	kept := cands[:MaxTraceCandidates]
	if chosen >= MaxTraceCandidates {
		kept = append(cands[:MaxTraceCandidates-1:MaxTraceCandidates-1], cands[chosen])
	}
	tt.Candidates = slices.Clip(kept)
	tt.More = len(cands) - len(kept)
}

// skippedAhead lists, for the summary, the members skipped before the one chosen.
func skippedAhead(ahead []Candidate) string {
	var b strings.Builder
	n := 0
	for _, c := range ahead {
		if c.Skip == "" {
			continue
		}
		if n == 3 {
			b.WriteString("; ")
			b.WriteString(strconv.Itoa(countSkipped(ahead) - 3))
			b.WriteString(" more skipped before them")
			break
		}
		n++
		b.WriteString("; ")
		b.WriteString(c.Name)
		b.WriteString(" skipped (")
		b.WriteString(shortReason(c))
		b.WriteByte(')')
	}
	return b.String()
}

func countSkipped(cs []Candidate) int {
	n := 0
	for _, c := range cs {
		if c.Skip != "" {
			n++
		}
	}
	return n
}

// shortReason is a skip for the summary: "away", "3 of 3 chats".
func shortReason(c Candidate) string {
	if c.Skip == SkipAtCap {
		return strconv.Itoa(c.Load) + " of " + strconv.Itoa(c.Cap) + " chats"
	}
	for i, code := range skipCodes {
		if code == c.Skip {
			return skipShort[i]
		}
	}
	return c.Skip
}

// countPhrase counts skips for the summary: "3 away, 2 at their chat limit".
func countPhrase(counts *[nSkips]int, total int) string {
	if total == 0 {
		return "no members"
	}
	var parts []string
	for sk := skUnknown; sk < nSkips; sk++ {
		if counts[sk] > 0 {
			parts = append(parts, strconv.Itoa(counts[sk])+" "+skipCount[sk])
		}
	}
	if len(parts) == 0 {
		return "none skipped"
	}
	return strings.Join(parts, ", ")
}

// nameList joins up to n names: "Dana Lee, Kim Wu and 3 others".
func nameList(names []string, n int) string {
	switch {
	case len(names) == 1:
		return names[0]
	case len(names) <= n:
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	return strings.Join(names[:n], ", ") + " and " + strconv.Itoa(len(names)-n) + " others"
}

// team tries a team target: every eligible member is offered at once.
func (w *walker) team(t *cteam, tt *TargetTrace) bool {
	tt.Team, tt.Name = t.id, t.name
	cap := w.c.cfg.MaxChats
	var cands []Candidate
	if w.full {
		cands = make([]Candidate, len(t.members))
	}
	var counts [nSkips]int
	var offer []string
	for i, id := range t.members {
		sk, st := w.check(id, cap)
		counts[sk]++
		if w.full {
			cands[i] = candidate(id, w.name(id, st), sk, st, cap)
		}
		if sk == eligible {
			offer = append(offer, id)
			if w.full {
				cands[i].Chosen, cands[i].Reason = true, "rung with every eligible member"
			}
		}
	}
	placed := len(offer) > 0
	if placed {
		w.d.Outcome, w.d.Strategy, w.d.TeamID, w.d.Offer = OutcomeOffer, KindTeam, t.id, offer
		tt.Result = ResultPlaced
	} else {
		tt.Result = ResultNobody
	}
	if !w.full {
		return placed
	}
	head := w.lead("team "+t.name) + ": "
	if placed {
		var names []string
		for _, c := range cands {
			if c.Chosen {
				names = append(names, c.Name)
			}
		}
		s := head + "ringing " + nameList(names, 3)
		if skipped := len(t.members) - len(offer); skipped > 0 {
			s += "; " + strconv.Itoa(skipped) + " skipped (" + countPhrase(&counts, len(t.members)) + ")"
		}
		w.say(s + ".")
	} else {
		w.say(head + "nobody could take the visitor (" + countPhrase(&counts, len(t.members)) + ").")
	}
	w.keep(tt, cands, -1)
	return placed
}

// one tries an owner or rep target: the one user id.
func (w *walker) one(t *ctarget, id string, tt *TargetTrace) bool {
	tt.User = id
	who := "account owner"
	if t.kind == KindRep {
		who = "rep"
	}
	if id == "" {
		tt.Result = ResultNobody
		if w.full {
			tt.Note = addNote(tt.Note, "the visitor's account has no known owner")
			w.say(w.lead(who) + ": none known.")
		}
		return false
	}
	cap := w.c.cfg.MaxChats
	var m *cmember
	if t.kind == KindOwner && t.pool != nil {
		if k, ok := t.pool.index[id]; ok {
			m, cap = &t.pool.members[k], t.pool.cap
		}
	}
	sk, st := w.check(id, cap)
	name := w.name(id, st)
	tt.Name = name
	var cand Candidate
	if w.full {
		cand = candidate(id, name, sk, st, cap)
	}
	head := w.lead(who+" "+name) + ": "
	if sk != eligible {
		tt.Result = ResultNobody
		if w.full {
			tt.Candidates = []Candidate{cand}
			w.say(head + "skipped (" + shortReason(cand) + ").")
		}
		return false
	}
	w.d.Outcome, w.d.Strategy, w.d.Offer = OutcomeOffer, t.kind, []string{id}
	tt.Result = ResultPlaced
	note := ""
	if m != nil {
		p := t.pool
		if w.c.cfg.OwnerTakesTurn {
			pl := w.in.Ledger[p.id]
			var v int64
			if pl != nil {
				v = pl.V
			}
			e := effective(pl, v, m)
			// Only the owner's pass moves: the pool's virtual time stays, so the other members
			// keep the turns the owner's chats used (with V moved up to the owner's pass, the
			// one-turn credit floor would cancel them).
			w.d.Turns = append(w.d.Turns, Turn{PoolID: p.id, UserID: m.id, Pass: e + m.stride, V: v})
			w.d.PoolID, tt.Pool, cand.Pass = p.id, p.id, e
			note = "the owner's round-robin turn in pool " + p.name + " is used"
		} else {
			note = "the owner's round-robin turn in pool " + p.name + " is kept"
		}
	}
	if w.full {
		cand.Chosen = true
		if t.kind == KindOwner {
			cand.Reason = "is the account owner"
		} else {
			cand.Reason = "is the rep the target names"
		}
		tt.Candidates, tt.Note = []Candidate{cand}, addNote(tt.Note, note)
		s := head + "offered the visitor"
		if note != "" {
			s += "; " + note
		}
		w.say(s + ".")
	}
	return true
}

func addNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
