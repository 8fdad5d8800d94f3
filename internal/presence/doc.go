// Package presence tells whether each rep is available, away or offline (C3), and which reps
// routing may offer a conversation to now. It holds across several replicas (`beckon serve`
// processes sharing one database and one bus) and across a replica crashing.
//
// # The model
//
// A rep has three things, all stored:
//
//   - a chosen status, "available" or "away", which only the rep changes (SetStatus);
//   - the console sockets they have open, counted per replica ("node") in presence_connections.
//     Each replica writes its own counts when a socket opens or closes (Connect and the release
//     it returns) and renews a lease on its rows every Tick (Run). A row whose lease has passed
//     belongs to a replica that crashed or lost the database, and counts for nothing;
//   - the last time they used the console (Connect, Active, SetStatus), stored at most once per
//     ActiveThrottle per rep and replica.
//
// Their effective status follows from these and from the workspace's idle timeout
// (workspace.Settings.IdleMinutes, read through Options.IdleTimeout):
//
//	no live socket on any replica            → offline    (reason "disconnected")
//	chosen away                              → away       (reason "chosen")
//	no activity for the idle timeout         → away       (reason "idle")
//	otherwise                                → available  (reason "active", or "chosen" when
//	                                                       SetStatus made them available)
//
// Get, List and Available compute this at the moment they are asked, so routing never offers a
// conversation to a rep who has idled or disconnected, even before any event says so.
//
// # Events, exactly once
//
// Whenever a rep's effective status changes, the State is published as JSON on the bus subject
// "presence.<workspace id>"; a change of the chosen status is published too, even when the
// effective status stays the same. Each transition is published by exactly one replica: every
// change runs in a transaction that locks the rep's presence row, computes the effective status
// and compares it with the stored published_status, and only the transaction that moves
// published_status publishes (after it commits). Transitions caused by an action (a socket
// opening or closing, activity, a chosen status) are published by the replica that took the
// action; those caused by time passing (idling, a crashed replica's leases lapsing, an idle timeout
// lengthened past a rep's idleness) are found by the sweep that every replica's Run does every Tick, and two replicas sweeping at once publish
// each once.
//
// The bus does not order messages of different publishers, so a consumer keeps, per rep, the
// UpdatedAt of the last event it applied and drops an event whose UpdatedAt is not later: the
// stored updated_at increases strictly with every published change of a rep, whatever the
// replicas' clocks say.
//
// # Crashes and shutdown
//
// When a replica stops gracefully, Run deletes its connection rows before returning, publishing
// "offline" for reps connected only there. When it crashes, its rows lapse after Lease (30 s by
// default) and the next sweep of any replica finds them and publishes "offline". A replica that
// was cut off from the database for longer than Lease and comes back finds its rows gone at its
// next renewal, writes them again and publishes its reps' return.
//
// # Scope
//
// Every query is scoped by workspace. Callers pass the workspace and user of an authenticated
// principal (or a user they have checked belongs to the workspace); an id of another workspace
// finds nothing of this one.
package presence
