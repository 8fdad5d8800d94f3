package routing

// ReplayResult is what a configuration would have done with recorded traffic (R5): how many
// decisions ended how, which rules matched, and how offers spread over reps and pools.
//
// Counting: a decision counts once in Outcomes and Rules. An offer counts once for each user it
// offered the visitor to (Reps) — one user for round robin, least busy, owner and rep; every
// eligible member for broadcast and team, each of whom was rung. A decision with a PoolID (placed
// by a pool, or an owner's turn taken in a pool) counts once for that pool (Pools[id].Placed) and
// once for each member it offered the visitor to (Pools[id].Members).
type ReplayResult struct {
	Decisions int                   `json:"decisions"`
	Outcomes  map[string]int        `json:"outcomes"` // OutcomeOffer, OutcomeBooker, OutcomeCapture → decisions
	Rules     map[string]int        `json:"rules"`    // rule id → decisions it matched; "" for the default target
	Reps      map[string]int        `json:"reps"`     // user id → decisions that offered them the visitor
	Pools     map[string]PoolReport `json:"pools"`    // every pool of the configuration, by id
}

// PoolReport is one pool's share of a replay. MaxMinusMin and Gini are Fairness of the members'
// offers (every member counted, those never offered as 0); they compare raw counts, so in a
// weighted pool compare each member's Share with its WeightShare instead.
type PoolReport struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Strategy    string        `json:"strategy"`
	Placed      int           `json:"placed"`
	Members     []MemberShare `json:"members"` // in the pool's order
	MaxMinusMin int           `json:"max_minus_min"`
	Gini        float64       `json:"gini"`
}

// MemberShare is one member's part of a pool's offers.
type MemberShare struct {
	UserID      string  `json:"user_id"`
	Name        string  `json:"name"`
	Weight      int     `json:"weight"`
	Offers      int     `json:"offers"`
	Share       float64 `json:"share"`        // Offers over the pool's members' offers; 0 when there were none
	WeightShare float64 `json:"weight_share"` // Weight over the pool's total weight
}

// Replay runs c over recorded inputs in order, as if c had been routing then: with a ledger of its
// own that starts empty and takes each decision's Turns (the inputs' Ledger is ignored, since it
// belongs to the configuration that was live). Everything else — facts, owner, reps' state and
// loads, exclusions — is as recorded. It builds no traces, so it is fast enough for days of
// traffic; it has no side effects.
func Replay(c *Compiled, inputs []Input) ReplayResult {
	r := NewReplayer(c)
	for i := range inputs {
		r.Add(inputs[i])
	}
	return r.Result()
}

// Replayer is Replay one input at a time, so that a caller can stream recorded inputs from the
// database instead of holding them all.
type Replayer struct {
	c      *Compiled
	res    ReplayResult
	placed map[string]int
	offers map[string]map[string]int
	ledger Ledger
}

// NewReplayer returns a Replayer of c with an empty ledger of its own.
func NewReplayer(c *Compiled) *Replayer {
	r := &Replayer{c: c,
		res: ReplayResult{
			Outcomes: map[string]int{OutcomeOffer: 0, OutcomeBooker: 0, OutcomeCapture: 0},
			Rules:    map[string]int{},
			Reps:     map[string]int{},
			Pools:    make(map[string]PoolReport, len(c.pools)),
		},
		placed: make(map[string]int, len(c.pools)),
		offers: make(map[string]map[string]int, len(c.pools)),
		ledger: Ledger{},
	}
	for _, p := range c.pools {
		r.offers[p.id] = make(map[string]int, len(p.members))
	}
	return r
}

// Add decides one recorded input (its Ledger ignored) and counts the decision.
func (r *Replayer) Add(in Input) {
	in.Ledger = r.ledger
	d := r.c.decide(&in, false)
	r.ledger.Apply(d.Turns)
	r.res.Decisions++
	r.res.Outcomes[d.Outcome]++
	r.res.Rules[d.RuleID]++
	for _, u := range d.Offer {
		r.res.Reps[u]++
	}
	if d.PoolID != "" && d.Outcome == OutcomeOffer {
		r.placed[d.PoolID]++
		for _, u := range d.Offer {
			r.offers[d.PoolID][u]++
		}
	}
}

// Result returns the counts so far, with each pool's shares and fairness figures.
func (r *Replayer) Result() ReplayResult {
	c, res, placed, offers := r.c, r.res, r.placed, r.offers
	res.Pools = make(map[string]PoolReport, len(c.pools))
	for _, p := range c.pools {
		counts := make(map[string]int, len(p.members))
		total, weights := 0, 0
		for _, m := range p.members {
			n := offers[p.id][m.id]
			counts[m.id] = n
			total += n
			weights += m.weight
		}
		r := PoolReport{ID: p.id, Name: p.name, Strategy: p.strategy, Placed: placed[p.id], Members: make([]MemberShare, len(p.members))}
		r.MaxMinusMin, r.Gini = Fairness(counts)
		for k, m := range p.members {
			s := MemberShare{UserID: m.id, Name: cmp(c.names[m.id], m.id), Weight: m.weight, Offers: counts[m.id],
				WeightShare: float64(m.weight) / float64(weights)}
			if total > 0 {
				s.Share = float64(s.Offers) / float64(total)
			}
			r.Members[k] = s
		}
		res.Pools[p.id] = r
	}
	return res
}
