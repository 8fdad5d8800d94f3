package routing

import (
	"maps"
	"slices"
)

// Ledger is the round-robin state of a workspace's pools, by pool id: the durable part of
// fairness (R2). The caller keeps it in the database, passes it to Decide, and applies each
// decision's Turns to it in the same transaction as the assignment. A pool or member missing
// from it starts fresh (see PoolLedger).
type Ledger map[string]*PoolLedger

// PoolLedger is one pool's stride-scheduling state. V is the pool's virtual time: the pass at
// which the latest turn was given (it never goes back). Pass holds each member's pass, the
// virtual time of the member's next turn; a member missing from it has pass V, so a new member
// joins at the current virtual time rather than with a backlog of turns.
type PoolLedger struct {
	V    int64            `json:"v"`
	Pass map[string]int64 `json:"pass"`
}

// Turn is a change of a pool's ledger that a decision asks the caller to persist: the member's
// new pass and the pool's new virtual time.
type Turn struct {
	PoolID string `json:"pool_id"`
	UserID string `json:"user_id"`
	Pass   int64  `json:"pass"`
	V      int64  `json:"v"`
}

// Stride is the pass one turn costs a member of weight w: 1,000,000 / w (a weight below 1 counts
// as 1). A member of weight 4 advances a quarter as far per turn as one of weight 1, and so gets
// four times the turns.
func Stride(w int) int64 { return stride(w) }

func stride(w int) int64 {
	if w < 1 {
		w = 1
	}
	return 1_000_000 / int64(w)
}

// effective returns a member's effective pass, which orders turns: its pass (V when it has none
// yet), but never less than V − stride + 1. A member who was skipped for a while (away,
// offline, capped, deactivated) thereby keeps his place — he comes back ahead of everyone
// who kept taking turns — but with at most one turn of credit, so there is no catch-up flood;
// the +1 puts him, after that one turn, behind the members still due in the current round
// rather than level with them.
func effective(pl *PoolLedger, v int64, m *cmember) int64 {
	p := v
	if pl != nil {
		if q, ok := pl.Pass[m.id]; ok {
			p = q
		}
	}
	return max(p, v-m.stride+1)
}

// turn is the ledger change when member m of pool p takes a turn at effective pass e, the pool's
// virtual time being v.
func turn(p *cpool, m *cmember, e, v int64) Turn {
	return Turn{PoolID: p.id, UserID: m.id, Pass: e + m.stride, V: max(v, e)}
}

// Apply writes turns into l, creating the ledgers of pools it does not have yet: each member's
// pass is set, and each pool's V becomes the larger of its V and the turn's (virtual time never
// goes back). Replay and the caller's in-memory copies use it.
func (l Ledger) Apply(turns []Turn) {
	for _, t := range turns {
		pl := l[t.PoolID]
		if pl == nil {
			pl = &PoolLedger{}
			l[t.PoolID] = pl
		}
		if pl.Pass == nil {
			pl.Pass = make(map[string]int64)
		}
		pl.Pass[t.UserID] = t.Pass
		pl.V = max(pl.V, t.V)
	}
}

// Clone returns a deep copy of l.
func (l Ledger) Clone() Ledger {
	if l == nil {
		return nil
	}
	out := make(Ledger, len(l))
	for id, pl := range l {
		if pl == nil {
			out[id] = nil
			continue
		}
		out[id] = &PoolLedger{V: pl.V, Pass: maps.Clone(pl.Pass)}
	}
	return out
}

// Fairness returns two figures of how evenly counts (assignments per rep, say) are spread: the
// largest count minus the smallest, and the Gini coefficient
//
//	G = Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄)
//
// over the n counts with mean x̄: 0 when every count is the same, approaching 1 as one rep gets
// everything (at most (n−1)/n). Fewer than two counts, or counts all 0, give 0 and 0.
func Fairness(counts map[string]int) (maxMinusMin int, gini float64) {
	if len(counts) < 2 {
		return 0, 0
	}
	xs := slices.Sorted(maps.Values(counts))
	maxMinusMin = xs[len(xs)-1] - xs[0]
	return maxMinusMin, giniSorted(xs)
}

// giniSorted computes G for xs sorted ascending, as Σᵢ (2i − n − 1) xᵢ / (n Σ x) with i from 1,
// which equals the double sum above.
func giniSorted(xs []int) float64 {
	n := len(xs)
	var sum, weighted float64
	for i, x := range xs {
		sum += float64(x)
		weighted += float64(2*(i+1)-n-1) * float64(x)
	}
	if n < 2 || sum == 0 {
		return 0
	}
	return weighted / (float64(n) * sum)
}
