// Package routing decides which rep a website visitor is offered to (SPEC R1–R6), and explains
// why. This part is pure: functions over values, no database, no clock, no side effects, so that
// the same code routes live traffic, simulates a sample visitor and replays past traffic against
// a draft.
//
// # The configuration
//
// An admin edits a Config (JSON) and publishes it as numbered versions:
//
//   - territories: named sets of countries (EMEA, DACH…) that conditions can name;
//   - teams: named groups of users;
//   - pools: members (with optional weights 1–100) that share visitors by a strategy, with an
//     optional cap on open conversations per member and a fallback;
//   - rules: an ordered list; each has a condition ("when", the language of package cond) and a
//     target ("then"); the first enabled rule whose condition matches wins;
//   - default: the target when no rule matches (capture when left out);
//   - ring_seconds (how long a rung rep has to accept, 30 by default), max_chats (the cap of open
//     conversations per rep, 3 by default) and owner_takes_turn.
//
// Compile (or CompileConfig) validates a configuration on save against the workspace (Env: its
// visitor fields and users) and refuses it with an *errs.Error whose Field is the JSON path of
// the part at fault — "pools[1].members[0].user_id", "rules[2].when.all[0].value",
// "pools[0].fallback" for pools whose fallbacks go round in a circle ("a → b → a"). Users in
// pools, teams and rep targets must be able to take chats: meetings-only users never do (SPEC
// B6) and deactivated users are refused. A weight above 1 in a broadcast pool is refused, since
// broadcast rings everyone at once and a weight would promise what it cannot keep. The result,
// Compiled, is immutable: build it once per published version. Load compiles a published
// version against the workspace as it is now, tolerating what has changed since (a member
// deactivated, a picklist option removed) so that routing never stops; Problems lists it.
// Subjects lists what conditions may compare, for the console's editor.
//
// # Targets and fallback
//
// A target is one of:
//
//	owner    the visitor's CRM account owner (Input.Owner)
//	pool     a pool, by its strategy
//	team     every eligible member of a team, rung at once
//	rep      one user
//	booker   the meeting booker (terminal)
//	capture  email capture (terminal)
//
// A target that cannot place the visitor — no owner known, the owner or rep unavailable, no
// eligible member — goes to its fallback; a pool target without a fallback of its own uses its
// pool's. A chain that ends without placing the visitor ends with capture: routing never loses a
// visitor, and the trace says why it got there.
//
// A rep is eligible when they are among Input.Reps, active, not meetings-only, not already rung
// for this conversation (Input.Exclude, after a ring timeout), available, and below the cap
// (the pool's max_chats, or the configuration's). Each skipped candidate is recorded with a
// stable code — unknown, deactivated, meetings_only, no_answer, offline, away, at_cap — and a
// sentence.
//
// # Strategies and fairness
//
// Round robin and least busy share a durable ledger per pool (Ledger), which the caller keeps in
// the database and updates with each decision's Turns in the same transaction as the assignment.
// The ledger is stride scheduling: a member of weight w has stride 1,000,000/w and a pass P; the
// pool has a virtual time V, the pass at which its latest turn was given. A member's effective
// pass is
//
//	e = max(P, V − stride + 1)    (P = V for a member not in the ledger yet)
//
// Round robin offers the eligible member with the smallest e, ties going to the smaller user id
// (byte order); that member's pass becomes e + stride and V becomes max(V, e). So each member's
// turns are in proportion to their weight, and with equal weights the rotation is exact: among
// members eligible the whole time, counts never differ by more than one. A member who is skipped
// (away, capped, deactivated) does not lose their place — their pass stays put while V moves on,
// so they come back at the front — but the floor V − stride + 1 lets them bank at most one
// turn: after it they rejoin the round behind the members still due, with no catch-up flood. V
// never goes back, so several members returning at once each get that one turn, no more. New
// members join at V.
//
// Least busy offers the eligible member with the fewest open conversations, ties by effective
// pass then user id, and takes a turn the same way. Broadcast and team targets offer every
// eligible member at once (the first to accept takes the visitor) and do not touch the ledger.
// An owner target offers the owner; with owner_takes_turn and a pool named on the owner target
// of which the owner is a member, the owner's turn in that pool is taken as if round robin had
// chosen them (and that pool's cap applies); otherwise owner-routed conversations leave the
// ledger alone (R2).
//
// A rep who is rung and does not accept has had their turn; the caller decides again with the
// rep in Input.Exclude, and the next in turn is rung.
//
// # Explaining
//
// Every Decision carries a Trace (R4): each rule evaluated in order with the comparisons cond
// evaluated (the last one of a rule that did not match is the one that failed), each target
// tried along the chain with its candidates in the order that decided and why each was
// skipped, who was chosen, and a summary for people such as
//
//	Rule “EMEA enterprise” matched. Pool EMEA sales (round robin): Dana Lee was next in turn;
//	Sam Roe skipped (away); Kim Wu skipped (3 of 3 chats).
//
// # Simulating, replaying, reporting
//
// Decide is itself the simulation: it has no side effects. Replay runs a configuration over
// recorded inputs with a ledger of its own and counts outcomes, rules and offers per rep and pool
// with the fairness figures of Fairness: max − min and the Gini coefficient (R5, R6).
//
// Visitor is the Facts the service fills for a decision, and ParseCompanySize reads company
// sizes such as "51-200".
package routing
