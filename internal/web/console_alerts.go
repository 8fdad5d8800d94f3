package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/notify"
)

// The console's notification pages: /settings/alerts, where each rep chooses how alerts reach
// them (N1, N2), and /settings/channels, where admins connect Slack, Teams and outbound
// webhooks (N3).

// streamLabels name and explain the alert streams.
var streamLabels = map[string][2]string{
	notify.StreamWaiting: {"Waiting for Rep", "A visitor is waiting for someone to answer. Always on: choose its sound."},
	notify.StreamLive:    {"Live conversations", "A visitor writes in a conversation you take part in."},
	notify.StreamTarget:  {"Target account on site", "Someone from one of your target accounts is on the site."},
}

// soundLabels name the sounds.
var soundLabels = map[string]string{"chime": "Chime", "bell": "Bell", "pop": "Pop", "knock": "Knock", "none": "No sound"}

// alertRow is one stream of the alerts form.
type alertRow struct {
	Stream, Label, Hint  string
	Always               bool // cannot be turned off or muted
	Enabled, Notify      bool
	Sound                string
	Sounds               []soundOption
	EnabledErr, SoundErr string
}

type soundOption struct{ Value, Label string }

type alertsView struct {
	view
	Rows []alertRow
}

func alertRows(p notify.Prefs, fe fieldErrs) []alertRow {
	var rows []alertRow
	for _, st := range notify.Streams {
		sp := p[st]
		row := alertRow{Stream: st, Label: streamLabels[st][0], Hint: streamLabels[st][1], Always: st == notify.StreamWaiting,
			Enabled: sp.Enabled, Notify: sp.Notify, Sound: sp.Sound,
			EnabledErr: fe[st+"_enabled"], SoundErr: fe[st+"_sound"]}
		for _, so := range notify.Sounds {
			if so == notify.SoundNone && row.Always {
				continue
			}
			row.Sounds = append(row.Sounds, soundOption{Value: so, Label: soundLabels[so]})
		}
		rows = append(rows, row)
	}
	return rows
}

func (c *console) alertsPage(w http.ResponseWriter, r *http.Request, status int, p notify.Prefs, fe fieldErrs, pageErr string) error {
	n, err := c.s.notifier()
	if err != nil {
		return err
	}
	pr := principalOf(r)
	if p == nil {
		if p, err = n.Prefs(r.Context(), pr.WorkspaceID(), pr.User.ID); err != nil {
			return err
		}
	}
	v := &alertsView{view: view{Title: "Alerts", Nav: "alerts", Error: pageErr}, Rows: alertRows(p, fe)}
	if r.URL.Query().Get("done") == "saved" && r.Method == http.MethodGet {
		v.Flash = "Your alert settings are saved."
	}
	return c.render(w, r, status, "alerts", v)
}

func (c *console) alertsForm(w http.ResponseWriter, r *http.Request) error {
	return c.alertsPage(w, r, http.StatusOK, nil, nil, "")
}

// alerts saves the signed-in user's alert preferences.
func (c *console) alerts(w http.ResponseWriter, r *http.Request) error {
	n, err := c.s.notifier()
	if err != nil {
		return err
	}
	pr := principalOf(r)
	p := notify.Prefs{}
	for _, st := range notify.Streams {
		p[st] = notify.StreamPrefs{Enabled: st == notify.StreamWaiting || r.PostFormValue(st+"_enabled") == "on",
			Sound: r.PostFormValue(st + "_sound"), Notify: r.PostFormValue(st+"_notify") == "on"}
	}
	if _, err := n.SetPrefs(r.Context(), pr.WorkspaceID(), pr.User.ID, p); err != nil {
		rename := map[string]string{}
		fields := []string{}
		for _, st := range notify.Streams {
			rename[st+".enabled"], rename[st+".sound"] = st+"_enabled", st+"_sound"
			fields = append(fields, st+"_enabled", st+"_sound")
		}
		status, fe, msg, err := c.formError(r, err, rename, fields...)
		if err != nil {
			return err
		}
		// Keep what was typed, with an unknown sound shown as the stream's default.
		for st, sp := range p {
			if !slices.Contains(notify.Sounds, sp.Sound) {
				sp.Sound = notify.DefaultPrefs()[st].Sound
				p[st] = sp
			}
		}
		return c.alertsPage(w, r, status, p, fe, msg)
	}
	http.Redirect(w, r, "/settings/alerts?done=saved", http.StatusSeeOther)
	return nil
}

// eventOption is one checkbox of a channel's events.
type eventOption struct {
	Value, Label string
	Checked      bool
}

// eventGroup is a set of event checkboxes and the channels that take them.
type eventGroup struct {
	Legend, Hint string
	Options      []eventOption
}

// eventOptionLabels describe the events and streams a channel may take.
var eventOptionLabels = map[string]string{
	notify.StreamWaiting:                "Waiting for Rep alerts",
	notify.StreamLive:                   "Live conversation alerts",
	notify.StreamTarget:                 "Target account on site alerts",
	notify.EventConversationStarted:     "A conversation started",
	notify.EventConversationWaiting:     "A conversation is waiting for a rep",
	notify.EventConversationAccepted:    "A rep accepted a conversation",
	notify.EventConversationTransferred: "A conversation was transferred",
	notify.EventConversationJoined:      "A rep joined a conversation",
	notify.EventConversationLeft:        "A rep left a conversation",
	notify.EventConversationClosed:      "A conversation was closed",
	notify.EventConversationReopened:    "A conversation was reopened",
	notify.EventMessageCreated:          "Every new message",
	notify.EventVisitorIdentified:       "A visitor was identified",
	notify.EventTargetAccountOnSite:     "A target account is on the site",
	notify.EventAlert:                   "Every alert, of any stream",
}

// eventGroups are the event checkboxes of the channel form, checked as in chosen: for a channel
// of kind, only what it may take; for a new channel (kind ""), everything.
func eventGroups(kind string, chosen []string) []eventGroup {
	allowed := notify.AllowedEvents(kind)
	opts := func(keys ...string) []eventOption {
		var out []eventOption
		for _, k := range keys {
			if kind == "" || slices.Contains(allowed, k) {
				out = append(out, eventOption{Value: k, Label: eventOptionLabels[k], Checked: slices.Contains(chosen, k)})
			}
		}
		return out
	}
	var conv, other []string
	for _, k := range notify.EventKinds {
		if slices.Contains(notify.AllowedEvents(notify.KindSlack), k) {
			conv = append(conv, k)
		} else {
			other = append(other, k)
		}
	}
	groups := []eventGroup{
		{Legend: "Alert streams", Hint: "Slack and Teams channels.", Options: opts(notify.Streams...)},
		{Legend: "Conversation events", Hint: "Every kind of channel.", Options: opts(conv...)},
		{Legend: "Other events", Hint: "Webhooks only.", Options: opts(other...)},
	}
	return slices.DeleteFunc(groups, func(g eventGroup) bool { return len(g.Options) == 0 })
}

// channelForm is a channel form as typed.
type channelForm struct {
	Kind, Name, URL string
	Events          []string
	Enabled         bool
}

type channelsView struct {
	view
	Channels   []*notify.Channel // the list page
	Channel    *notify.Channel   // the page of one channel
	Deliveries []*notify.Delivery
	Form       channelForm
	Groups     []eventGroup
	Errs       fieldErrs
	NewSecret  string // shown once, right after it was made
}

// channelDone are the messages a channel page shows after a redirect, by ?done= code.
var channelDone = map[string]string{
	"created": "Channel added. Send a test to check that messages arrive.",
	"saved":   "Channel saved.",
	"test":    "A test message is on its way. Its delivery shows below in a few seconds.",
	"deleted": "Channel deleted.",
}

var channelFields = []string{"kind", "name", "url", "events"}

// channelsAdmin returns the notifications service for an admin's request.
func (c *console) channelsAdmin(r *http.Request) (*notify.Service, *identity.Principal, error) {
	p := principalOf(r)
	if !p.Can(identity.ScopeChannelsWrite) {
		return nil, nil, errs.E(errs.Forbidden, "only an admin can manage channels")
	}
	n, err := c.s.notifier()
	return n, p, err
}

func (c *console) channelsPage(w http.ResponseWriter, r *http.Request, status int, form *channelForm, fe fieldErrs, pageErr string) error {
	n, p, err := c.channelsAdmin(r)
	if err != nil {
		return err
	}
	chans, err := n.Channels(r.Context(), p.WorkspaceID())
	if err != nil {
		return err
	}
	if form == nil {
		form = &channelForm{Kind: notify.KindSlack, Enabled: true, Events: []string{notify.StreamWaiting}}
	}
	v := &channelsView{view: view{Title: "Channels", Nav: "channels", Error: pageErr}, Channels: chans, Form: *form,
		Groups: eventGroups("", form.Events), Errs: fe}
	if r.Method == http.MethodGet {
		v.Flash = channelDone[r.URL.Query().Get("done")]
	}
	return c.render(w, r, status, "channels", v)
}

func (c *console) channelPage(w http.ResponseWriter, r *http.Request, status int, chID string, form *channelForm, fe fieldErrs, pageErr, newSecret string) error {
	n, p, err := c.channelsAdmin(r)
	if err != nil {
		return err
	}
	ch, err := n.Channel(r.Context(), p.WorkspaceID(), chID)
	if err != nil {
		return err
	}
	ds, err := n.Deliveries(r.Context(), p.WorkspaceID(), chID, 20)
	if err != nil {
		return err
	}
	if form == nil {
		form = &channelForm{Kind: ch.Kind, Name: ch.Name, Events: ch.Events, Enabled: ch.Enabled}
	}
	v := &channelsView{view: view{Title: ch.Name + " · Channels", Nav: "channels", Error: pageErr}, Channel: ch, Deliveries: ds,
		Form: *form, Groups: eventGroups(ch.Kind, form.Events), Errs: fe, NewSecret: newSecret}
	if r.Method == http.MethodGet {
		v.Flash = channelDone[r.URL.Query().Get("done")]
	}
	if newSecret != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	return c.render(w, r, status, "channels", v)
}

func (c *console) channels(w http.ResponseWriter, r *http.Request) error {
	return c.channelsPage(w, r, http.StatusOK, nil, nil, "")
}

func (c *console) channel(w http.ResponseWriter, r *http.Request) error {
	return c.channelPage(w, r, http.StatusOK, pathID(r, "id"), nil, nil, "", "")
}

// readChannelForm reads a channel form; events come as repeated "events" fields.
func readChannelForm(r *http.Request) channelForm {
	r.ParseForm()
	return channelForm{Kind: r.PostFormValue("kind"), Name: r.PostFormValue("name"), URL: r.PostFormValue("url"),
		Events: r.PostForm["events"], Enabled: r.PostFormValue("enabled") == "on"}
}

// createChannel adds a channel; a webhook's new secret is shown once on its page.
func (c *console) createChannel(w http.ResponseWriter, r *http.Request) error {
	n, p, err := c.channelsAdmin(r)
	if err != nil {
		return err
	}
	f := readChannelForm(r)
	ch, sec, err := n.CreateChannel(r.Context(), p.WorkspaceID(), notify.ChannelInput{Kind: f.Kind, Name: f.Name, URL: f.URL,
		Events: f.Events, Enabled: &f.Enabled})
	if err != nil {
		status, fe, msg, err := c.formError(r, err, nil, channelFields...)
		if err != nil {
			return err
		}
		return c.channelsPage(w, r, status, &f, fe, msg)
	}
	if sec != "" {
		return c.channelPage(w, r, http.StatusOK, ch.ID, nil, nil, "", sec)
	}
	http.Redirect(w, r, "/settings/channels/"+url.PathEscape(ch.ID)+"?done=created", http.StatusSeeOther)
	return nil
}

// updateChannel saves a channel's name, events, state and (when typed) a new URL.
func (c *console) updateChannel(w http.ResponseWriter, r *http.Request) error {
	n, p, err := c.channelsAdmin(r)
	if err != nil {
		return err
	}
	chID := pathID(r, "id")
	f := readChannelForm(r)
	patch := notify.ChannelPatch{Name: &f.Name, Events: &f.Events, Enabled: &f.Enabled}
	if f.URL != "" {
		patch.URL = &f.URL
	}
	if _, err := n.UpdateChannel(r.Context(), p.WorkspaceID(), chID, patch); err != nil {
		status, fe, msg, err := c.formError(r, err, nil, channelFields...)
		if err != nil {
			return err
		}
		if status == http.StatusNotFound {
			return errs.NotFoundf("no such channel")
		}
		return c.channelPage(w, r, status, chID, &f, fe, msg, "")
	}
	http.Redirect(w, r, "/settings/channels/"+url.PathEscape(chID)+"?done=saved", http.StatusSeeOther)
	return nil
}

func (c *console) testChannel(w http.ResponseWriter, r *http.Request) error {
	n, p, err := c.channelsAdmin(r)
	if err != nil {
		return err
	}
	chID := pathID(r, "id")
	if _, err := n.TestChannel(r.Context(), p.WorkspaceID(), chID); err != nil {
		return err
	}
	http.Redirect(w, r, "/settings/channels/"+url.PathEscape(chID)+"?done=test", http.StatusSeeOther)
	return nil
}

func (c *console) rotateChannelSecret(w http.ResponseWriter, r *http.Request) error {
	n, p, err := c.channelsAdmin(r)
	if err != nil {
		return err
	}
	chID := pathID(r, "id")
	_, sec, err := n.RotateSecret(r.Context(), p.WorkspaceID(), chID)
	if err != nil {
		return err
	}
	return c.channelPage(w, r, http.StatusOK, chID, nil, nil, "", sec)
}

func (c *console) deleteChannel(w http.ResponseWriter, r *http.Request) error {
	n, p, err := c.channelsAdmin(r)
	if err != nil {
		return err
	}
	if err := n.DeleteChannel(r.Context(), p.WorkspaceID(), pathID(r, "id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/settings/channels?done=deleted", http.StatusSeeOther)
	return nil
}
