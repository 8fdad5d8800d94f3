package web

import (
	"github.com/beckonhq/beckon/internal/identity"
)

// routes is the whole HTTP surface of Beckon, one line a route.
//
// auth: authPublic (anyone), api (API token or session + CSRF; JSON errors), console (session; HTML),
// authGuest (pages for people not logged in). scope: what an api route requires; "" when the handler
// decides (self-service routes).
func (s *Server) routes() []route {
	c := s.console
	return []route{
		// Operations.
		{method: "GET", pattern: "/healthz", auth: authPublic, h: s.healthz},
		{method: "GET", pattern: "/readyz", auth: authPublic, h: s.readyz},
		{method: "GET", pattern: "/metrics", auth: authPublic, h: s.metricsHandler},

		// REST API (API1). Keep internal/web/openapi.json in step: a test compares them.
		{method: "GET", pattern: "/api/v1/openapi.json", auth: authPublic, h: s.openapi},
		{method: "GET", pattern: "/api/v1/me", auth: authAPI, h: s.apiMe},
		{method: "PATCH", pattern: "/api/v1/me", auth: authAPI, scope: identity.ScopeProfileWrite, h: s.apiUpdateMe},
		{method: "GET", pattern: "/api/v1/users", auth: authAPI, scope: identity.ScopeUsersRead, h: s.apiListUsers},
		{method: "POST", pattern: "/api/v1/users", auth: authAPI, scope: identity.ScopeUsersWrite, h: s.apiInviteUser},
		{method: "GET", pattern: "/api/v1/users/{id}", auth: authAPI, scope: identity.ScopeUsersRead, h: s.apiGetUser},
		{method: "PATCH", pattern: "/api/v1/users/{id}", auth: authAPI, h: s.apiUpdateUser},
		{method: "POST", pattern: "/api/v1/users/{id}/deactivate", auth: authAPI, scope: identity.ScopeUsersWrite, h: s.apiDeactivateUser},
		{method: "POST", pattern: "/api/v1/users/{id}/reactivate", auth: authAPI, scope: identity.ScopeUsersWrite, h: s.apiReactivateUser},
		{method: "POST", pattern: "/api/v1/users/{id}/resend-invite", auth: authAPI, scope: identity.ScopeUsersWrite, h: s.apiResendInvite},
		{method: "GET", pattern: "/api/v1/users/{id}/photo", auth: authAPI, scope: identity.ScopeUsersRead, h: s.apiGetPhoto},
		{method: "PUT", pattern: "/api/v1/users/{id}/photo", auth: authAPI, h: s.apiPutPhoto, bodyLimit: identity.MaxPhotoBytes + 1},
		{method: "GET", pattern: "/api/v1/tokens", auth: authAPI, scope: identity.ScopeTokensRead, h: s.apiListTokens},
		{method: "POST", pattern: "/api/v1/tokens", auth: authAPI, scope: identity.ScopeTokensWrite, h: s.apiCreateToken},
		{method: "DELETE", pattern: "/api/v1/tokens/{id}", auth: authAPI, scope: identity.ScopeTokensWrite, h: s.apiRevokeToken},
		{method: "GET", pattern: "/api/v1/workspace", auth: authAPI, scope: identity.ScopeWorkspaceRead, h: s.apiGetWorkspace},
		{method: "PATCH", pattern: "/api/v1/workspace", auth: authAPI, scope: identity.ScopeWorkspaceWrite, h: s.apiUpdateWorkspace},
		{method: "POST", pattern: "/api/v1/workspace/identity-secret", auth: authAPI, scope: identity.ScopeWorkspaceWrite, h: s.apiRotateIdentitySecret},
		{method: "GET", pattern: "/api/v1/fields", auth: authAPI, scope: identity.ScopeFieldsRead, h: s.apiListFields},
		{method: "POST", pattern: "/api/v1/fields", auth: authAPI, scope: identity.ScopeFieldsWrite, h: s.apiCreateField},
		{method: "PATCH", pattern: "/api/v1/fields/{key}", auth: authAPI, scope: identity.ScopeFieldsWrite, h: s.apiUpdateField},
		{method: "DELETE", pattern: "/api/v1/fields/{key}", auth: authAPI, scope: identity.ScopeFieldsWrite, h: s.apiDeleteField},
		{method: "GET", pattern: "/api/v1/jobs", auth: authAPI, scope: identity.ScopeJobsRead, h: s.apiListJobs},
		{method: "GET", pattern: "/api/v1/jobs/{id}", auth: authAPI, scope: identity.ScopeJobsRead, h: s.apiGetJob},
		{method: "POST", pattern: "/api/v1/jobs/{id}/retry", auth: authAPI, scope: identity.ScopeJobsWrite, h: s.apiRetryJob},

		// The messenger on customers' sites (API2, docs/MESSENGER-PROTOCOL.md): the scripts, and the
		// endpoints they call, which check the origin and the visitor token themselves.
		{method: "GET", pattern: "/js/beckon.js", auth: authPublic, h: s.jsLoader},
		{method: "GET", pattern: "/js/{file}", auth: authPublic, h: s.jsMessenger},
		{method: "OPTIONS", pattern: "/m/v1/{path...}", auth: authPublic, h: s.messengerPreflight},
		{method: "POST", pattern: "/m/v1/hello", auth: authVisitor, h: s.mHello, bodyLimit: MessengerBodyLimit},
		{method: "POST", pattern: "/m/v1/page", auth: authVisitor, h: s.mPage, bodyLimit: MessengerBodyLimit},
		{method: "POST", pattern: "/m/v1/heartbeat", auth: authVisitor, h: s.mHeartbeat, bodyLimit: MessengerBodyLimit},
		{method: "POST", pattern: "/m/v1/leave", auth: authVisitor, h: s.mLeave, bodyLimit: MessengerBodyLimit},
		{method: "POST", pattern: "/m/v1/identify", auth: authVisitor, h: s.mIdentify, bodyLimit: MessengerBodyLimit},
		{method: "POST", pattern: "/m/v1/form", auth: authVisitor, h: s.mForm, bodyLimit: MessengerBodyLimit},
		{method: "POST", pattern: "/m/v1/consent", auth: authVisitor, h: s.mConsent, bodyLimit: MessengerBodyLimit},
		{method: "POST", pattern: "/m/v1/messages", auth: authVisitor, h: s.mSendMessage, bodyLimit: MessengerBodyLimit},
		{method: "GET", pattern: "/m/v1/messages", auth: authVisitor, h: s.mListMessages},

		// Real time (issue 4), one block a part.
		// -- realtime: sockets and the conversations API
		{method: "GET", pattern: "/m/v1/socket", auth: authVisitor, h: s.mSocket},
		{method: "POST", pattern: "/m/v1/transcript", auth: authVisitor, h: s.mTranscript, bodyLimit: MessengerBodyLimit},
		{method: "GET", pattern: "/console/socket", auth: authConsole, h: s.repSocket},
		{method: "GET", pattern: "/api/v1/conversations", auth: authAPI, scope: identity.ScopeConversationsRead, h: s.apiListConversations},
		{method: "GET", pattern: "/api/v1/conversations/{id}", auth: authAPI, scope: identity.ScopeConversationsRead, h: s.apiGetConversation},
		{method: "GET", pattern: "/api/v1/conversations/{id}/messages", auth: authAPI, scope: identity.ScopeConversationsRead, h: s.apiListMessages},
		{method: "POST", pattern: "/api/v1/conversations/{id}/messages", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiSendMessage},
		{method: "POST", pattern: "/api/v1/conversations/{id}/accept", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiAccept},
		{method: "POST", pattern: "/api/v1/conversations/{id}/transfer", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiTransfer},
		{method: "POST", pattern: "/api/v1/conversations/{id}/invite", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiInvite},
		{method: "POST", pattern: "/api/v1/conversations/{id}/leave", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiLeave},
		{method: "POST", pattern: "/api/v1/conversations/{id}/close", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiClose},
		{method: "POST", pattern: "/api/v1/conversations/{id}/reopen", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiReopen},
		{method: "POST", pattern: "/api/v1/conversations/{id}/transcript", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiTranscript},
		{method: "POST", pattern: "/api/v1/visitors/{id}/conversations", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiStartConversation},
		// -- presence
		{method: "GET", pattern: "/api/v1/me/presence", auth: authAPI, h: s.apiGetPresence},
		{method: "PUT", pattern: "/api/v1/me/presence", auth: authAPI, scope: identity.ScopeConversationsWrite, h: s.apiSetPresence},
		{method: "GET", pattern: "/api/v1/presence", auth: authAPI, scope: identity.ScopeConversationsRead, h: s.apiListPresence},
		// -- notify: alert preferences, channels and webhooks
		{method: "GET", pattern: "/api/v1/me/alerts", auth: authAPI, h: s.apiGetAlerts},
		{method: "PUT", pattern: "/api/v1/me/alerts", auth: authAPI, scope: identity.ScopeProfileWrite, h: s.apiPutAlerts},
		{method: "GET", pattern: "/api/v1/channels", auth: authAPI, scope: identity.ScopeChannelsRead, h: s.apiListChannels},
		{method: "POST", pattern: "/api/v1/channels", auth: authAPI, scope: identity.ScopeChannelsWrite, h: s.apiCreateChannel},
		{method: "GET", pattern: "/api/v1/channels/{id}", auth: authAPI, scope: identity.ScopeChannelsRead, h: s.apiGetChannel},
		{method: "PATCH", pattern: "/api/v1/channels/{id}", auth: authAPI, scope: identity.ScopeChannelsWrite, h: s.apiUpdateChannel},
		{method: "DELETE", pattern: "/api/v1/channels/{id}", auth: authAPI, scope: identity.ScopeChannelsWrite, h: s.apiDeleteChannel},
		{method: "POST", pattern: "/api/v1/channels/{id}/test", auth: authAPI, scope: identity.ScopeChannelsWrite, h: s.apiTestChannel},
		{method: "POST", pattern: "/api/v1/channels/{id}/rotate-secret", auth: authAPI, scope: identity.ScopeChannelsWrite, h: s.apiRotateChannelSecret},
		{method: "GET", pattern: "/api/v1/channels/{id}/deliveries", auth: authAPI, scope: identity.ScopeChannelsRead, h: s.apiListDeliveries},
		{method: "GET", pattern: "/settings/alerts", auth: authConsole, h: c.alertsForm},
		{method: "POST", pattern: "/settings/alerts", auth: authConsole, h: c.alerts},
		{method: "GET", pattern: "/settings/channels", auth: authConsole, h: c.channels},
		{method: "POST", pattern: "/settings/channels", auth: authConsole, h: c.createChannel},
		{method: "GET", pattern: "/settings/channels/{id}", auth: authConsole, h: c.channel},
		{method: "POST", pattern: "/settings/channels/{id}", auth: authConsole, h: c.updateChannel},
		{method: "POST", pattern: "/settings/channels/{id}/test", auth: authConsole, h: c.testChannel},
		{method: "POST", pattern: "/settings/channels/{id}/rotate-secret", auth: authConsole, h: c.rotateChannelSecret},
		{method: "POST", pattern: "/settings/channels/{id}/delete", auth: authConsole, h: c.deleteChannel},
		// -- liveview
		{method: "GET", pattern: "/api/v1/live", auth: authAPI, scope: identity.ScopeVisitorsRead, h: s.apiLive},
		// -- console UI: inbox, Live View, Visitor 360
		{method: "GET", pattern: "/inbox", auth: authConsole, h: c.inbox},
		{method: "GET", pattern: "/live", auth: authConsole, h: c.live},
		{method: "GET", pattern: "/visitors/cards", auth: authConsole, h: c.visitorCards},
		{method: "GET", pattern: "/visitors/{id}", auth: authConsole, h: c.visitorPage},

		// Console (server-rendered pages).
		{method: "GET", pattern: "/static/{file...}", auth: authPublic, h: c.static},
		{method: "GET", pattern: "/login", auth: authGuest, h: c.loginForm},
		{method: "POST", pattern: "/login", auth: authGuest, h: c.login},
		{method: "POST", pattern: "/logout", auth: authConsole, h: c.logout},
		{method: "GET", pattern: "/activate/{token}", auth: authGuest, h: c.activateForm},
		{method: "POST", pattern: "/activate/{token}", auth: authGuest, h: c.activate},
		{method: "GET", pattern: "/{$}", auth: authConsole, h: c.home},
		{method: "GET", pattern: "/settings/profile", auth: authConsole, h: c.profileForm},
		{method: "POST", pattern: "/settings/profile", auth: authConsole, h: c.profile},
		{method: "POST", pattern: "/settings/photo", auth: authConsole, h: c.photo, bodyLimit: identity.MaxPhotoBytes + 64<<10},
		{method: "POST", pattern: "/settings/password", auth: authConsole, h: c.password},
		{method: "GET", pattern: "/settings/messenger", auth: authConsole, h: c.messengerForm},
		{method: "POST", pattern: "/settings/messenger", auth: authConsole, h: c.messenger},
		{method: "POST", pattern: "/settings/messenger/identity-secret", auth: authConsole, h: c.identitySecret},
		{method: "GET", pattern: "/settings/chat", auth: authConsole, h: c.chatSettingsForm},
		{method: "POST", pattern: "/settings/chat", auth: authConsole, h: c.chatSettings},
		{method: "GET", pattern: "/users", auth: authConsole, h: c.users},
		{method: "POST", pattern: "/users/invite", auth: authConsole, h: c.invite},
		{method: "POST", pattern: "/users/{id}/role", auth: authConsole, h: c.setRole},
		{method: "POST", pattern: "/users/{id}/deactivate", auth: authConsole, h: c.deactivate},
		{method: "POST", pattern: "/users/{id}/reactivate", auth: authConsole, h: c.reactivate},
		{method: "POST", pattern: "/users/{id}/resend-invite", auth: authConsole, h: c.resendInvite},
		{method: "GET", pattern: "/users/{id}/photo", auth: authConsole, h: c.userPhoto},
	}
}
