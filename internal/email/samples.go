package email

import (
	"fmt"
	"maps"
	"slices"
)

// TranscriptData fills the "transcript" template.
type TranscriptData struct {
	WorkspaceName string // may be empty
	StartedAt     string // formatted in TimeZone
	TimeZone      string // e.g. "Europe/Paris"
	Lines         []TranscriptLine
}

// TranscriptLine is one message of a transcript.
type TranscriptLine struct {
	At     string // formatted in the time zone
	Author string // "Visitor", the rep's or bot's name; "" for system messages
	Text   string
	System bool
}

// LeadData fills the "lead" template: a visitor left their email address in a conversation
// nobody from the team answered.
type LeadData struct {
	WorkspaceName   string
	Visitor         string // a name, else the address
	Email           string
	FirstMessage    string // the visitor's first message, may be empty
	Page            string // where they were, may be empty
	ConversationURL string // the console's inbox, opened on the conversation
}

// TemplateInfo describes one template for the console's list and previews.
type TemplateInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"` // when Beckon sends it
	HTML        bool   `json:"html"`        // it has an HTML part
}

// samples holds, per template, what it is for and the data its preview renders with. A test
// checks that every template has one.
var samples = map[string]struct {
	description string
	data        any
}{
	"invite": {"sent to a person an admin invites to the workspace, with the link that activates their account",
		InviteData{WorkspaceName: "Acme", InviterName: "Ada Admin", RecipientName: "Rae Rep",
			ActivationURL: "https://chat.example.com/activate/inv_example", ExpiresAt: "Mon, 9 Mar 2026 14:00 UTC"}},
	"lead": {"sent to the workspace's lead alert addresses when a visitor leaves their email address in a conversation nobody from the team has answered",
		LeadData{WorkspaceName: "Acme", Visitor: "Ann Lee", Email: "ann.lee@globex.example", FirstMessage: "Do you have a plan for 50 seats?",
			Page: "https://www.acme.example/pricing", ConversationURL: "https://chat.example.com/inbox?stream=waiting&c=conv_example"}},
	"transcript": {"sent to a visitor who asks for a copy of their conversation, or by a rep on their behalf",
		TranscriptData{WorkspaceName: "Acme", StartedAt: "Mon, 9 Mar 2026 14:00", TimeZone: "Europe/Paris", Lines: []TranscriptLine{
			{At: "9 Mar 14:00", Author: "Visitor", Text: "Hi! Do you integrate with Salesforce?"},
			{At: "9 Mar 14:00", Text: "Rae Rep joined the conversation", System: true},
			{At: "9 Mar 14:01", Author: "Rae Rep", Text: "We do: leads and contacts sync both ways. See https://acme.example/docs"},
		}}},
}

// TemplateList describes every template, sorted by name.
func TemplateList() []TemplateInfo {
	out := []TemplateInfo{}
	for _, name := range slices.Sorted(maps.Keys(templates)) {
		out = append(out, TemplateInfo{Name: name, Description: samples[name].description, HTML: templates[name].html != nil})
	}
	return out
}

// Preview renders template name with its sample data, as the console shows it. It returns
// errs.NotFound for an unknown name.
func Preview(name string) (subject, text, html string, err error) {
	s, ok := samples[name]
	if _, known := templates[name]; !ok || !known {
		return "", "", "", notFoundTemplate(name)
	}
	subject, text, html, err = Render(name, s.data)
	if err != nil {
		return "", "", "", fmt.Errorf("email.Preview: %w", err)
	}
	return subject, text, html, nil
}
