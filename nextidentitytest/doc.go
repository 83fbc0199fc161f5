// Package nextidentitytest provides an in-process fake Next Identity
// OpenID Connect provider for tests, in the spirit of net/http/httptest.
//
// NewServer starts a provider on a loopback address. It serves discovery, a
// JWKS, the hosted-journey endpoints (/authorize, /register,
// /personal-details) with a small hosted sign-in page, /token, /userinfo and
// /endsession, and mirrors the real provider's documented behaviour: 14
// character one-time authorization codes, 16 character access tokens, 20
// character refresh tokens, PKCE S256, a 14-day browser session, updated_at
// as a "2021-01-07 20:44:35.176625 +0000" string, and the provider's exact
// error bodies.
//
// Because a test has no browser, the package provides fake ones: a Browser
// (from Server.NewBrowser) drives the hosted pages with its own cookie jar.
// Its Login signs in on the hosted sign-in page with an email and password
// and returns the query of the final redirect to the application (code,
// state and iss, or an OAuth error). A Browser keeps its cookies between
// calls, so a later request with prompt=none succeeds (see
// Browser.Authorize) until its ForgetSession is called or it visits the
// end-session endpoint (see Browser.Browse). Several Browsers let one test
// have several users signed in at once. The Server's own Login, Authorize,
// Browse and ForgetSession are shorthands for one default Browser.
//
// The hosted screens work as the provider's do: /register shows a sign-up
// form (name, email, password) that creates the account and signs it in
// (Browser.SignUp), and /personal-details shows the signed-in user's profile
// form, which updates the user and updated_at and then redirects with a code
// (Browser.EditProfile). Scopes decide the claims of the ID token and of
// /userinfo (OpenID Connect Core section 5.4; see User).
//
// Re-authentication works as OpenID Connect Core 3.1.2.1 says: with
// prompt=login, or a max_age shorter than the time since the provider
// session's sign-in, /authorize shows the sign-in form again even to a
// signed-in browser (Browser.Authorize then returns ErrLoginRequired), and
// "auth_time" in the ID token, in JWT access tokens and in introspection
// answers is when the password was last typed: a code or refresh issued
// later on an older session carries the older time.
//
// A shown sign-in page is bound to the browser it was shown to (the
// BrowserCookieName cookie): the form posted from another browser is refused,
// as the real provider must refuse login CSRF.
//
// Back-channel logout (OpenID Connect Back-Channel Logout 1.0, which Next
// Identity does not document; the fake follows the specification): a Client
// with a BackChannelLogoutURI gets the provider session's "sid" in its ID
// tokens, and when that session ends, at /endsession or by EndSession, the
// server POSTs a logout token to that URI and records the result (see
// LogoutDeliveries). Discovery says backchannel_logout_supported.
//
// The API integration (account.go and the files beside it): the JSON
// endpoints under /idp/v1/account that apps with their own screens call
// (login, token, register, verify, resend-verification, forgot-password,
// change-password, pre-register, profile, logout), /idp/v1/otp and the
// Adopt API, with the provider's statuses and error envelope, the
// five-per-minute /token rule on the server's clock, per-client rate limits
// (Client.RateLimit), unverified users, a per-user legal-terms state and
// integration types (Client.Integration). What the provider would email or
// text goes to an outbox (Server.Outbox, LastMessage, Options.OnMessage);
// the invite's activation screen and the hosted forgot-password journey are
// served and driven by Browser.Activate, RequestPasswordReset and
// ResetPassword. docs/testing.md describes it all.
//
// Tests can also inject failures (FailNext), slow endpoints down
// (SetLatency), count requests (Requests), rotate keys (RotateKeys), switch
// the signing algorithm (SetSigningAlg) and sign hand-crafted ID tokens
// (SignIDToken).
//
// Typical use with the nextidentity client:
//
//	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
//	defer srv.Close()
//
//	client, err := nextidentity.New(ctx, srv.Config())
//	// ...
//	req, err := client.AuthCodeURL()
//	// ...
//	q, err := srv.Login(ctx, req.URL, "jane@example.com", "password")
//	// q.Get("code"), q.Get("state") and q.Get("iss") are what the
//	// application's callback handler would receive.
//
// The default Options give one confidential client ("test-client" /
// "test-secret", redirect URI "http://127.0.0.1/callback") and one user
// ("jane@example.com" / "password"); see DefaultClient and DefaultUser.
package nextidentitytest
