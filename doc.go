// Package nextidentity is an OpenID Connect relying-party client for Next
// Identity, a hosted OpenID Connect provider.
//
// A Client builds authorization URLs (with state, nonce and PKCE), handles the
// redirect back, exchanges the authorization code at the token endpoint,
// verifies the returned ID token, refreshes tokens and calls the userinfo
// endpoint. Provider error bodies become *Error values that match the
// package's sentinel errors with errors.Is. For back-end services it gets
// client-credentials tokens, verifies access tokens (RFC 9068, or RFC 7662
// introspection), revokes tokens and verifies back-channel logout tokens.
//
// The rest of the module builds on a Client:
//
//   - package github.com/oidc-kit/nextidentity/nihttp: login, callback and
//     logout handlers for net/http, sessions (sealed cookies, memory, or
//     Redis through nihttp/redisstore), RequireLogin and RequireBearer;
//   - package github.com/oidc-kit/nextidentity/account: the API
//     integration, for apps that draw their own sign-up, sign-in and
//     password screens, and invites;
//   - package github.com/oidc-kit/nextidentity/events: signed workflow
//     events (webhooks);
//   - package github.com/oidc-kit/nextidentity/nextidentitytest: a fake
//     Next Identity provider for tests, in the spirit of net/http/httptest;
//   - command github.com/oidc-kit/nextidentity/cmd/nextidentity: the fake
//     provider as a process, a settings doctor, a terminal sign-in and an ID
//     token verifier.
//
// The module's README and its docs directory have a page per topic: web
// sessions, back-end services, events, the API integration, testing, the
// command, security and performance.
package nextidentity
