package routing_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/beckonhq/beckon/internal/routing"
)

func TestFairness(t *testing.T) {
	tests := []struct {
		counts map[string]int
		spread int
		gini   float64
	}{
		{nil, 0, 0},
		{map[string]int{"a": 7}, 0, 0},
		{map[string]int{"a": 0, "b": 0}, 0, 0},
		{map[string]int{"a": 5, "b": 5, "c": 5}, 0, 0},
		{map[string]int{"a": 0, "b": 10}, 10, 0.5},                // (n−1)/n: one has everything
		{map[string]int{"a": 0, "b": 0, "c": 0, "d": 9}, 9, 0.75}, // likewise
		{map[string]int{"a": 1, "b": 2, "c": 3}, 2, 2.0 / 9},      // Σ|xi−xj| = 8, 2·9·2 = 36
		{map[string]int{"a": 10, "b": 11, "c": 10, "d": 11}, 1, 8.0 / (2 * 16 * 10.5)},
	}
	for _, tt := range tests {
		spread, gini := routing.Fairness(tt.counts)
		if spread != tt.spread || math.Abs(gini-tt.gini) > 1e-12 {
			t.Errorf("Fairness(%v) = %d, %v; want %d, %v", tt.counts, spread, gini, tt.spread, tt.gini)
		}
	}
	// The formula of the documentation, by brute force, on random counts.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		counts := map[string]int{}
		n := 2 + rng.IntN(20)
		for i := range n {
			counts[fmt.Sprint(i)] = rng.IntN(50)
		}
		var sum, diffs float64
		for _, a := range counts {
			sum += float64(a)
			for _, b := range counts {
				diffs += math.Abs(float64(a - b))
			}
		}
		want := 0.0
		if sum > 0 {
			want = diffs / (2 * float64(n*n) * (sum / float64(n)))
		}
		if _, got := routing.Fairness(counts); math.Abs(got-want) > 1e-9 {
			t.Fatalf("Fairness(%v) gini %v, want %v", counts, got, want)
		}
	}
}

func TestLedgerApplyAndClone(t *testing.T) {
	l := routing.Ledger{"p": {V: 50, Pass: map[string]int64{"a": 10}}}
	c := l.Clone()
	l.Apply([]routing.Turn{{PoolID: "p", UserID: "a", Pass: 70, V: 40}, {PoolID: "q", UserID: "b", Pass: 5, V: 3}})
	if want := (routing.Ledger{"p": {V: 50, Pass: map[string]int64{"a": 70}}, "q": {V: 3, Pass: map[string]int64{"b": 5}}}); !reflect.DeepEqual(l, want) {
		t.Errorf("Apply: %+v", l)
	}
	if c["p"].Pass["a"] != 10 || c["q"] != nil {
		t.Errorf("the clone changed: %+v", c)
	}
	if routing.Ledger(nil).Clone() != nil {
		t.Error("Clone of nil")
	}
	if routing.Stride(4) != 250_000 || routing.Stride(0) != 1_000_000 || routing.Stride(100) != 10_000 {
		t.Error("Stride")
	}
}

// rotation is a round-robin pool of n equal members (usr_a, usr_b, …) for deterministic tests.
func rotation(t *testing.T, n int) (*routing.Compiled, []string) {
	e := routing.Env{Users: map[string]routing.UserInfo{}}
	p := routing.Pool{ID: "p", Name: "P"}
	var ids []string
	for i := range n {
		id := "usr_" + string(rune('a'+i))
		ids = append(ids, id)
		e.Users[id] = routing.UserInfo{Name: id, Role: routing.RoleRep, Active: true}
		p.Members = append(p.Members, routing.Member{UserID: id})
	}
	p.MaxChats = 50
	return compileCfg(t, routing.Config{Pools: []routing.Pool{p}, Default: to(routing.KindPool, "p")}, e), ids
}

// run makes n decisions with the reps given available (the others away) and returns who got each.
func run(c *routing.Compiled, ledger routing.Ledger, n int, present []string) []string {
	reps := map[string]routing.RepState{}
	for _, id := range present {
		reps[id] = avail(0)
	}
	var got []string
	for range n {
		d := c.Decide(routing.Input{Reps: reps, Ledger: ledger})
		got = append(got, d.Offer[0])
		ledger.Apply(d.Turns)
	}
	return got
}

func count(got []string, id string) int {
	n := 0
	for _, g := range got {
		if g == id {
			n++
		}
	}
	return n
}

func without(ids []string, out ...string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return slices.Contains(out, s) })
}

// TestReturningRep is property (d) on a fixed scenario: a rep away for five rounds comes back at
// the front, with one turn of credit and no more, and does not take two turns in a row.
func TestReturningRep(t *testing.T) {
	c, ids := rotation(t, 12)
	ledger := routing.Ledger{}
	run(c, ledger, 30, ids)
	x := "usr_a" // the first by id, whom ties favour
	away := run(c, ledger, 60, without(ids, x))
	if count(away, x) != 0 {
		t.Fatal("a rep away was offered visitors")
	}
	back := run(c, ledger, 120, ids)
	if back[0] != x {
		t.Errorf("the first visitor after the return went to %s, not %s", back[0], x)
	}
	if back[1] == x {
		t.Error("the returning rep took two turns in a row")
	}
	for r := 1; r <= 10; r++ {
		if n := count(back[:12*r], x); n < r || n > r+1 {
			t.Errorf("in the %d rounds after the return %s had %d turns, want %d or %d", r, x, n, r, r+1)
		}
	}
	for _, y := range ids[1:] {
		if n := count(back, y); n < 9 || n > 10 {
			t.Errorf("%s had %d turns in ten rounds", y, n)
		}
	}

	// Three reps back at once each get one turn of credit, not three (virtual time does not go
	// back when a returning rep takes his turn).
	out := []string{"usr_c", "usr_f", "usr_k"}
	ledger = routing.Ledger{}
	run(c, ledger, 12, ids)
	run(c, ledger, 100, without(ids, out...))
	back = run(c, ledger, 14, ids)
	// 100 arrivals among 9 reps leave 8 of them due in the round: the three returning reps come
	// first, then the 8 due, then the three again — never a second turn of credit.
	if got := back[:3]; !reflect.DeepEqual(got, out) {
		t.Errorf("the first three after the return went to %v, want %v", got, out)
	}
	for _, id := range back[3:11] {
		if slices.Contains(out, id) {
			t.Errorf("a returning rep had a second turn before the reps due: %v", back)
		}
	}
	if got := slices.Sorted(slices.Values(back[11:14])); !reflect.DeepEqual(got, out) {
		t.Errorf("after the reps due came %v, want %v", back[11:], out)
	}

	// A rep away for less than a round keeps his place and gets no credit.
	ledger = routing.Ledger{}
	run(c, ledger, 24, ids)
	first := run(c, ledger, 4, without(ids, "usr_e"))
	if slices.Contains(first, "usr_e") {
		t.Fatal("away rep offered")
	}
	back = run(c, ledger, 12, ids)
	if want := []string{"usr_e", "usr_f", "usr_g"}; !reflect.DeepEqual(back[:3], want) || count(back, "usr_e") != 1 {
		t.Errorf("after a short absence: %v", back)
	}
}

// sim is a pool under simulated traffic: reps going away, offline, deactivated and
// meetings-only and coming back, rung reps not answering, conversations ending.
type sim struct {
	strategy string
	weights  []int // one per rep
	steady   int   // reps 0..steady-1 are available the whole time and never excluded
	cap      int
	arrivals int
	pEnd     float64 // that an open conversation ends, per arrival
	pLeave   float64 // that a flaky rep leaves, per arrival
	maxAway  int
	pExclude float64 // that an available flaky rep was already rung for the arrival
}

type simRep struct {
	id              string
	weight          int
	steady          bool
	state           routing.RepState
	out             int // arrivals until back; 0 when present
	load            int
	lastPick        int // arrival of the latest offer; -1 before
	picksSinceMine  []int
	pendingFront    bool
	everUnavailable bool // at some decision, not eligible
}

type simResult struct {
	reps   []*simRep
	chosen []int // per arrival, the rep offered (the one who accepted for broadcast), or -1
	skips  map[string]int
	caps   int
}

// run simulates s.arrivals arrivals with a seeded random source and checks, at every decision,
// property (c): nobody unavailable, capped, deactivated, meetings-only, unknown or excluded is
// offered, and the pool places the visitor whenever somebody can take it; and, for round robin
// with equal weights, the front half of (d): a rep back from an absence during which every steady
// rep had two turns is offered the next visitor he is eligible for before any steady rep.
func (s sim) run(t *testing.T, seed uint64) simResult {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := len(s.weights)
	e := routing.Env{Users: map[string]routing.UserInfo{}}
	p := routing.Pool{ID: "p", Name: "Sim", Strategy: s.strategy, MaxChats: s.cap}
	reps := make([]*simRep, n)
	// Ids in a random order, so that ties by id do not follow which reps are steady.
	perm := rng.Perm(n)
	for i := range n {
		r := &simRep{id: fmt.Sprintf("usr_%02d", perm[i]), weight: s.weights[i], steady: i < s.steady, lastPick: -1,
			state: routing.RepState{Name: fmt.Sprintf("Rep %d", i), Status: routing.StatusAvailable, Active: true, Role: routing.RoleRep}}
		r.picksSinceMine = make([]int, n)
		reps[i] = r
		e.Users[r.id] = routing.UserInfo{Name: r.state.Name, Role: routing.RoleRep, Active: true}
		w := s.weights[i]
		if s.strategy == routing.Broadcast {
			w = 0
		}
		p.Members = append(p.Members, routing.Member{UserID: r.id, Weight: w})
	}
	c := compileCfg(t, routing.Config{Pools: []routing.Pool{p}, Default: to(routing.KindPool, "p")}, e)
	equal := s.strategy == routing.RoundRobin && !slices.ContainsFunc(s.weights, func(w int) bool { return w != s.weights[0] })

	res := simResult{reps: reps, chosen: make([]int, s.arrivals), skips: map[string]int{}}
	ledger := routing.Ledger{}
	for a := range s.arrivals {
		// Conversations end; flaky reps come and go.
		for _, r := range reps {
			for k := r.load; k > 0; k-- {
				if rng.Float64() < s.pEnd {
					r.load--
				}
			}
			if r.steady {
				continue
			}
			switch {
			case r.out > 0:
				r.out--
				if r.out == 0 {
					r.state.Status, r.state.Active, r.state.Role = routing.StatusAvailable, true, routing.RoleRep
					// Back after an absence during which every steady rep had two turns: at the front.
					r.pendingFront = equal && r.lastPick >= 0 && s.steady > 0
					for j, y := range reps {
						if y.steady && !y.everUnavailable && r.picksSinceMine[j] < 2 {
							r.pendingFront = false
						}
					}
				}
			case rng.Float64() < s.pLeave:
				r.out = 1 + rng.IntN(s.maxAway)
				r.pendingFront = false
				switch rng.IntN(6) {
				case 0, 1:
					r.state.Status = routing.StatusAway
				case 2, 3:
					r.state.Status = routing.StatusOffline
				case 4:
					r.state.Active = false
				case 5:
					r.state.Role = routing.RoleMeetingsOnly
				}
			}
		}
		in := routing.Input{Reps: map[string]routing.RepState{}, Exclude: map[string]bool{}, Ledger: ledger}
		for _, r := range reps {
			st := r.state
			st.Load = r.load
			in.Reps[r.id] = st
			if !r.steady && r.out == 0 && rng.Float64() < s.pExclude {
				in.Exclude[r.id] = true
			}
		}
		// One flaky rep is sometimes missing altogether (a user removed since publication).
		if ghost := reps[n-1]; !ghost.steady && a%97 < 5 {
			delete(in.Reps, ghost.id)
		}
		eligible := map[string]bool{}
		for _, r := range reps {
			st, ok := in.Reps[r.id]
			if ok && st.Active && st.Role != routing.RoleMeetingsOnly && !in.Exclude[r.id] && st.Status == routing.StatusAvailable && st.Load < s.cap {
				eligible[r.id] = true
			}
			if !eligible[r.id] {
				r.everUnavailable = true
			}
			if st.Load >= s.cap {
				res.caps++
			}
		}

		d := c.Decide(in)

		// (c) Only eligible reps are offered, and the pool places the visitor whenever it can.
		for _, u := range d.Offer {
			if !eligible[u] {
				t.Fatalf("arrival %d: %s offered while %+v (excluded %v)", a, u, in.Reps[u], in.Exclude[u])
			}
		}
		if len(eligible) > 0 != (d.Outcome == routing.OutcomeOffer) {
			t.Fatalf("arrival %d: %d eligible, outcome %s", a, len(eligible), d.Outcome)
		}
		if s.strategy == routing.Broadcast && len(d.Offer) != len(eligible) {
			t.Fatalf("arrival %d: broadcast to %d of %d eligible", a, len(d.Offer), len(eligible))
		}
		if s.strategy == routing.LeastBusy && len(d.Offer) == 1 {
			for u := range eligible {
				if in.Reps[u].Load < in.Reps[d.Offer[0]].Load {
					t.Fatalf("arrival %d: least busy offered %s with %d chats while %s had %d", a, d.Offer[0], in.Reps[d.Offer[0]].Load, u, in.Reps[u].Load)
				}
			}
		}
		for _, tt := range d.Trace.Targets {
			for _, cand := range tt.Candidates {
				res.skips[cand.Skip]++
			}
		}
		ledger.Apply(d.Turns)

		res.chosen[a] = -1
		if len(d.Offer) == 0 {
			continue
		}
		pick := d.Offer[rng.IntN(len(d.Offer))] // for broadcast, whoever accepts first
		k := slices.IndexFunc(reps, func(r *simRep) bool { return r.id == pick })
		res.chosen[a] = k

		// (d) The front: a rep back from a long absence is offered before any steady rep.
		for _, x := range reps {
			if x.pendingFront && eligible[x.id] {
				if x == reps[k] {
					x.pendingFront = false
				} else if reps[k].steady && !reps[k].everUnavailable {
					t.Fatalf("arrival %d: %s, back from a long absence, was passed over for steady %s", a, x.id, reps[k].id)
				}
			}
		}
		reps[k].load++
		reps[k].lastPick = a
		for _, r := range reps {
			r.picksSinceMine[k]++
		}
		clear(reps[k].picksSinceMine)
	}
	return res
}

// counts returns how many offers each rep had in the first n arrivals.
func (r simResult) counts(n int) []int {
	out := make([]int, len(r.reps))
	for _, k := range r.chosen[:n] {
		if k >= 0 {
			out[k]++
		}
	}
	return out
}

// steadyNeverCapped returns the steady reps that were eligible at every decision.
func (r simResult) steadyNeverCapped() []int {
	var out []int
	for k, rep := range r.reps {
		if rep.steady && !rep.everUnavailable {
			out = append(out, k)
		}
	}
	return out
}

// TestPropertyEqualWeights is properties (a), (c) and (d) over 10,000 arrivals to 12 reps of
// equal weight, 6 available the whole time and 6 who come and go.
func TestPropertyEqualWeights(t *testing.T) {
	s := sim{strategy: routing.RoundRobin, weights: slices.Repeat([]int{1}, 12), steady: 6, cap: 50, arrivals: 10_000,
		pEnd: 0.1, pLeave: 0.02, maxAway: 200, pExclude: 0.05}
	for seed := range uint64(5) {
		res := s.run(t, seed+1)
		steady := res.steadyNeverCapped()
		if len(steady) != 6 {
			t.Fatalf("seed %d: %d steady reps never capped, want 6", seed, len(steady))
		}
		// (a) At every moment, the steady reps' counts differ by at most one.
		counts := make([]int, len(res.reps))
		for a, k := range res.chosen {
			if k < 0 {
				continue
			}
			counts[k]++
			lo, hi := math.MaxInt, 0
			for _, j := range steady {
				lo, hi = min(lo, counts[j]), max(hi, counts[j])
			}
			if hi-lo > 1 {
				t.Fatalf("seed %d, arrival %d: steady reps' counts differ by %d: %v", seed, a, hi-lo, counts)
			}
		}
		// (d) Since any moment, a flaky rep has had at most two more offers than any steady rep:
		// one turn of credit and the rotation's own difference of one.
		for x, rep := range res.reps {
			if rep.steady {
				continue
			}
			for _, y := range steady {
				diff, low := 0, 0
				for a, k := range res.chosen {
					switch k {
					case x:
						diff++
					case y:
						diff--
					}
					if diff-low > 2 {
						t.Fatalf("seed %d, arrival %d: %s has %d more offers than steady %s since arrival-window start", seed, a, rep.id, diff-low, res.reps[y].id)
					}
					low = min(low, diff)
				}
			}
		}
		final := res.counts(len(res.chosen))
		steadyCounts := map[string]int{}
		for _, k := range steady {
			steadyCounts[res.reps[k].id] = final[k]
		}
		spread, gini := routing.Fairness(steadyCounts)
		if spread > 1 {
			t.Errorf("seed %d: steady reps' final counts differ by %d", seed, spread)
		}
		t.Logf("seed %d: counts %v (steady %v: max-min %d, gini %.5f), skips %v", seed, final, steady, spread, gini, res.skips)
		for _, code := range []string{"", routing.SkipAway, routing.SkipOffline, routing.SkipDeactivated, routing.SkipMeetingsOnly, routing.SkipNoAnswer, routing.SkipUnknown} {
			if res.skips[code] == 0 {
				t.Errorf("seed %d: the simulation never produced skip %q", seed, code)
			}
		}
	}
}

// TestPropertyWeights is property (b): with weights 1 to 4, each rep available the whole time
// gets a share of the offers among them within 2% of its share of their weights.
func TestPropertyWeights(t *testing.T) {
	s := sim{strategy: routing.RoundRobin, weights: []int{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, steady: 7, cap: 50, arrivals: 10_000,
		pEnd: 0.1, pLeave: 0.02, maxAway: 200, pExclude: 0.05}
	for seed := range uint64(5) {
		res := s.run(t, seed+100)
		steady := res.steadyNeverCapped()
		if len(steady) != 7 {
			t.Fatalf("seed %d: %d steady reps never capped", seed, len(steady))
		}
		counts := res.counts(len(res.chosen))
		total, weights := 0, 0
		for _, k := range steady {
			total += counts[k]
			weights += res.reps[k].weight
		}
		for _, k := range steady {
			share := float64(counts[k]) / float64(total)
			want := float64(res.reps[k].weight) / float64(weights)
			if math.Abs(share-want) > 0.02*want {
				t.Errorf("seed %d: %s (weight %d) has %.4f of the steady reps' offers, want %.4f ± 2%%", seed, res.reps[k].id, res.reps[k].weight, share, want)
			}
		}
		t.Logf("seed %d: %d offers among steady reps, counts %v", seed, total, counts)
	}
}

// TestPropertyNeverIneligible is property (c) with caps that bind, for every strategy: the
// simulation itself fails on any offer to a rep who is unavailable, capped, deactivated,
// meetings-only, unknown or excluded.
func TestPropertyNeverIneligible(t *testing.T) {
	for _, strategy := range []string{routing.RoundRobin, routing.LeastBusy, routing.Broadcast} {
		t.Run(strategy, func(t *testing.T) {
			s := sim{strategy: strategy, weights: []int{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, steady: 4, cap: 2, arrivals: 10_000,
				pEnd: 0.08, pLeave: 0.03, maxAway: 100, pExclude: 0.1}
			if strategy == routing.Broadcast {
				s.weights = slices.Repeat([]int{1}, 12)
			}
			res := s.run(t, 7)
			if res.skips[routing.SkipAtCap] == 0 || res.caps == 0 {
				t.Error("the caps never bound")
			}
			placed := 0
			for _, k := range res.chosen {
				if k >= 0 {
					placed++
				}
			}
			t.Logf("%d of %d placed; skips %v", placed, len(res.chosen), res.skips)
		})
	}
}
