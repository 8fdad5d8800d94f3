package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// StreamPrefs are a rep's choices for one alert stream.
type StreamPrefs struct {
	// Enabled: the rep gets this stream's alerts. Always true for "waiting".
	Enabled bool `json:"enabled"`
	// Sound is one of Sounds; never SoundNone for "waiting".
	Sound string `json:"sound"`
	// Notify: also show a browser notification (when the browser allows it).
	Notify bool `json:"notify"`
}

// Prefs are a rep's alert preferences, by stream (every one of Streams is present in the values
// this package returns).
type Prefs map[string]StreamPrefs

// DefaultPrefs are a new rep's preferences: every stream on, each with its own sound, browser
// notifications on.
func DefaultPrefs() Prefs {
	return Prefs{
		StreamWaiting: {Enabled: true, Sound: "chime", Notify: true},
		StreamLive:    {Enabled: true, Sound: "pop", Notify: true},
		StreamTarget:  {Enabled: true, Sound: "bell", Notify: true},
	}
}

// Deliver tells how an alert of stream reaches a rep with these preferences: the sound to play
// ("none" plays nothing), whether to show a browser notification, and ok = false when the rep
// turned the stream off (or stream is not a stream). "waiting" is always delivered, with a sound.
func (p Prefs) Deliver(stream string) (sound string, notify bool, ok bool) {
	def, known := DefaultPrefs()[stream]
	if !known {
		return "", false, false
	}
	sp, set := p[stream]
	if !set {
		sp = def
	}
	if !slices.Contains(Sounds, sp.Sound) {
		sp.Sound = def.Sound
	}
	if stream == StreamWaiting {
		if sp.Sound == SoundNone {
			sp.Sound = def.Sound
		}
		return sp.Sound, sp.Notify, true
	}
	return sp.Sound, sp.Notify, sp.Enabled
}

// validate checks complete preferences, returning errs.Invalid naming the field ("waiting.sound").
func (p Prefs) validate() error {
	for stream := range p {
		if !slices.Contains(Streams, stream) {
			return notStream(stream)
		}
	}
	for _, stream := range Streams {
		sp, ok := p[stream]
		if !ok {
			return errs.Field(errs.Invalid, stream, "is missing")
		}
		if !slices.Contains(Sounds, sp.Sound) {
			return errs.Field(errs.Invalid, stream+".sound", "must be one of chime, bell, pop, knock or none")
		}
		if stream == StreamWaiting {
			if !sp.Enabled {
				return errs.Field(errs.Invalid, stream+".enabled", "Waiting for Rep alerts cannot be turned off")
			}
			if sp.Sound == SoundNone {
				return errs.Field(errs.Invalid, stream+".sound", "Waiting for Rep alerts cannot be muted; choose a sound")
			}
		}
	}
	return nil
}

// notStream is the error about a key that is not a stream, naming it as the field.
func notStream(name string) error {
	field := oneLine(name, 40)
	if field == "" {
		field = "stream"
	}
	return errs.Field(errs.Invalid, field, "is not an alert stream: use waiting, live or target")
}

// StreamPatch changes some of a stream's preferences; nil fields stay.
type StreamPatch struct {
	Enabled *bool   `json:"enabled"`
	Sound   *string `json:"sound"`
	Notify  *bool   `json:"notify"`
}

// PrefsPatch changes some streams' preferences (the body of PUT /api/v1/me/alerts); streams and
// fields left out keep their current values.
type PrefsPatch map[string]StreamPatch

// Apply returns p changed by patch, checked: errs.Invalid naming the field ("live.sound") for an
// unknown stream or sound, or for turning off or muting "waiting".
func (p Prefs) Apply(patch PrefsPatch) (Prefs, error) {
	out := DefaultPrefs()
	for k, v := range p {
		if _, ok := out[k]; ok {
			out[k] = v
		}
	}
	// In a fixed order, so that the same bad patch always names the same field.
	keys := make([]string, 0, len(patch))
	for k := range patch {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, stream := range keys {
		ch := patch[stream]
		sp, ok := out[stream]
		if !ok {
			return nil, notStream(stream)
		}
		if ch.Enabled != nil {
			sp.Enabled = *ch.Enabled
		}
		if ch.Sound != nil {
			sp.Sound = *ch.Sound
		}
		if ch.Notify != nil {
			sp.Notify = *ch.Notify
		}
		out[stream] = sp
	}
	if err := out.validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// Prefs returns the alert preferences of user userID of workspace wsID: the stored ones over the
// defaults (DefaultPrefs), so a rep who never chose gets the defaults. It does not check that the
// user exists. Errors are Internal.
func (s *Service) Prefs(ctx context.Context, wsID, userID string) (Prefs, error) {
	return s.prefs(ctx, s.db, wsID, userID)
}

func (s *Service) prefs(ctx context.Context, q db.Queryer, wsID, userID string) (Prefs, error) {
	type row struct {
		stream string
		sp     StreamPrefs
	}
	rows, err := db.All(ctx, q, func(r db.Scanner) (row, error) {
		var x row
		err := r.Scan(&x.stream, &x.sp.Enabled, &x.sp.Sound, &x.sp.Notify)
		return x, err
	}, `SELECT stream, enabled, sound, notify FROM alert_prefs WHERE workspace_id = $1 AND user_id = $2`, wsID, userID)
	if err != nil {
		return nil, errs.Op("notify.Prefs", err)
	}
	p := DefaultPrefs()
	for _, r := range rows {
		if _, ok := p[r.stream]; ok {
			p[r.stream] = r.sp
		}
	}
	return p, nil
}

// PrefsSubject is the bus subject on which SetPrefs announces a rep's new preferences, as JSON
// PrefsChange, so that the rep's open sockets can apply them at once.
func PrefsSubject(wsID string) string { return "alertprefs." + wsID }

// PrefsChange is what SetPrefs publishes on PrefsSubject.
type PrefsChange struct {
	UserID string `json:"user_id"`
	Prefs  Prefs  `json:"prefs"`
}

// SetPrefs stores the complete preferences p of user userID of workspace wsID and returns them.
// It returns errs.Invalid naming the field ("waiting.sound") for a missing or unknown stream, an
// unknown sound, or "waiting" turned off or muted; errs.NotFound when the user is not in the
// workspace. Other errors are Internal. The change is announced on PrefsSubject (best effort).
func (s *Service) SetPrefs(ctx context.Context, wsID, userID string, p Prefs) (Prefs, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	now := db.Micro(s.clk.Now())
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1 AND workspace_id = $2`, userID, wsID).Scan(&one)
		if err == sql.ErrNoRows {
			return errs.NotFoundf("no such user")
		}
		if err != nil {
			return err
		}
		for _, stream := range Streams {
			sp := p[stream]
			_, err := tx.ExecContext(ctx, `INSERT INTO alert_prefs (workspace_id, user_id, stream, enabled, sound, notify, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (workspace_id, user_id, stream) DO UPDATE SET enabled = $4, sound = $5, notify = $6, updated_at = $7`,
				wsID, userID, stream, sp.Enabled, sp.Sound, sp.Notify, now)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, errs.Op("notify.SetPrefs", err)
	}
	out := Prefs{}
	for _, stream := range Streams {
		out[stream] = p[stream]
	}
	if s.bus != nil {
		if b, err := json.Marshal(PrefsChange{UserID: userID, Prefs: out}); err == nil {
			if err := s.bus.Publish(ctx, PrefsSubject(wsID), b); err != nil {
				s.log.Warn("notify: announcing changed alert preferences failed", "err", err)
			}
		}
	}
	return out, nil
}
