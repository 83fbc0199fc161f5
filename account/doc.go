// Package account is Next Identity's API integration: sign-up, sign-in,
// passwords, profiles and invites for applications that draw their own
// screens and call the provider's JSON API under
// {issuer}/idp/v1/account/..., rather than sending the browser to the
// hosted screens (package nextidentity's AuthCodeURL).
//
// It is a small package over a *nextidentity.Client, as
// golang.org/x/oauth2/clientcredentials is over oauth2: the tenant (the
// issuer), the client ID and secret, the HTTP client, the redirect URL, the
// response-size bound and the clock all come from the parent client, which
// also verifies ID tokens and builds the *nextidentity.Token every sign-in
// ends with.
//
//	ac := account.New(client)
//	res, err := ac.Login(ctx, account.Credentials{AuthType: account.Email, UserID: email, Password: pw})
//	// res.LegalAcceptanceRequired: show the terms, then pass WithLegalAcceptance.
//	tok, err := ac.Exchange(ctx, res)
//
// Call it from the application's server: the calls carry passwords and
// codes, and Invite and RegisterClient the client secret. The provider
// documents no secret on /register, /login and /token (open question 13),
// so none is sent there.
//
// Passwords, PINs and codes are the caller's: a call sends them and keeps
// no copy once it returns, in its result, its errors or anywhere else
// (Go cannot promise that the memory they passed through is wiped).
//
// # Errors
//
// Every refusal by the provider is an *Error with the status and the
// provider's envelope ("error", "error_description" and "error_details",
// the last kept raw and decoded per field), matching
// nextidentity.ErrProvider and the sentinels of this package with
// errors.Is: ErrInvalidCredentials, ErrUnverifiedUser, ErrRateLimited,
// ErrUserExists, ErrForbidden, ErrInvalidInput, and the root package's
// ErrInvalidGrant for a spent or unknown code. No error text carries a
// password, PIN, code or token the call sent.
//
// # Where the provider's documentation is silent
//
// The provider's pages leave some formats open; this package settles them
// as follows, and each call's documentation says so again:
//
//   - Every call may carry an env_id query parameter (WithEnvID); with a
//     custom domain none is needed.
//   - The legal-acceptance note of a /login success is read from the
//     boolean member "legal_acceptance_required"; the body is kept raw.
//   - The PIN of the "pin" grant is sent as "code", with client_id,
//     auth_type, user_id and redirect_uri, as for a login code.
//   - Account API tokens are refreshed at the OIDC token endpoint
//     (nextidentity.Client.Refresh): no refresh grant is documented on the
//     account API's /token.
//   - A token response is read with the RFC 6749 names, all optional but
//     access_token.
//   - Register, ForgotPassword and ResendVerification answer the same for
//     an existing, an unverified and an unknown user: nothing here tells
//     them apart (no account enumeration).
//   - Invite treats 200 and 201 as success; a 422 on the identifier field
//     is ErrUserExists. Invites authenticate with HTTP Basic, or Bearer
//     with WithInviteTokenSource.
//   - Verify (a new account's PIN), the mobile-number profile field
//     "mobileNumber", the profile wrapper "profile" and "profile_fields",
//     and the OTP verify answer (an authorization code) are assumptions;
//     the provider's pages do not show them.
//   - The Adopt API (RegisterClient) is read with the RFC 7591 names and
//     its raw JSON is kept.
//   - A 429's Retry-After is honoured when present (Error.RetryAfter);
//     the provider documents none.
package account
