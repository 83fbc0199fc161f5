// Package events receives Next Identity workflow events and answers the
// provider's synchronous "enrich" steps.
//
// The provider POSTs each event to the target URL registered with the tenant
// as a compact JWS: the request body is the JWT itself. Its header names the
// signing key ("kid"), the algorithm ("alg", RS256) and the URL of the JWK Set
// holding the key ("jku"). The payload's "events" object is keyed by event
// name, for example "account/v1/register" or
// "account/v1/userAuthenticationAction".
//
// A Verifier checks such a JWT. Because the "jku" header is chosen by whoever
// sends the request, the Verifier trusts only the JWK Set URLs it was
// configured with, compared exactly, and refuses any other before making a
// request. Handler wraps a Verifier into an http.Handler that answers the
// provider within its 5-second budget and drops redelivered duplicates.
//
// For an enrich step the target answers with a JWT of its own; a Responder
// signs those answers and serves the public JWK Set the provider is given to
// verify them.
//
// The provider can also encrypt events (JWE). This package verifies signed
// events only: an encrypted one is refused as ErrMalformedEvent, so
// configure the target without encryption and serve it over https.
//
// The envelope claims "jti", "iat", "exp" and "iss" are not documented by the
// provider; they are read as RFC 7519 defines them when present.
//
// Replays: the Handler remembers each delivered event (by "jti", else by
// its exact body) for its ReplayTTL, and by default refuses an event whose
// "iat" is older than that, so a captured event cannot be replayed once it
// is forgotten. An event without "iat" cannot be dated and is accepted;
// set Config.MaxAge to refuse those.
package events
