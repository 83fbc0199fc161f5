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
// Because a test has no browser, the Server carries one: Login drives the
// hosted sign-in page with an email and password and returns the query of the
// final redirect to the application (code, state and iss, or an OAuth error).
// The fake browser keeps its cookies between calls, so a later request with
// prompt=none succeeds (see Authorize) until ForgetSession is called or the
// browser visits the end-session endpoint (see Browse).
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
