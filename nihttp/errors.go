package nihttp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/oidc-kit/nextidentity"
)

// StatusCode is the HTTP status DefaultOnError answers for err:
//   - 403 when the user or provider refused the sign-in, or a cross-site
//     request was refused;
//   - 400 for a callback this browser did not start or that does not match
//     it (login cookie missing, tampered, expired or used before; state,
//     code or iss);
//   - 429 when a sign-in loop was stopped;
//   - 502 when the provider failed or sent something the library rejected;
//   - 503 when the session store cannot answer, or the provider is not
//     known yet (nextidentity.ErrProviderUnavailable: with LazyDiscovery,
//     its discovery document could not be read so far);
//   - 500 otherwise (ErrSessionTooLarge among them: a deployment problem).
func StatusCode(err error) int {
	switch {
	case errors.Is(err, nextidentity.ErrProviderUnavailable):
		// First: its cause may be a provider error (ErrProvider).
		return http.StatusServiceUnavailable
	case errors.Is(err, nextidentity.ErrAccessDenied), errors.Is(err, nextidentity.ErrLoginRequired),
		errors.Is(err, ErrCrossSite):
		return http.StatusForbidden
	case errors.Is(err, ErrNoLoginState), errors.Is(err, ErrLoginStateUsed), errors.Is(err, ErrTampered),
		errors.Is(err, ErrExpired), errors.Is(err, nextidentity.ErrInvalidCallback):
		return http.StatusBadRequest
	case errors.Is(err, ErrLoginLoop):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrStoreUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, nextidentity.ErrProvider), errors.Is(err, nextidentity.ErrInvalidIDToken),
		errors.Is(err, nextidentity.ErrMalformedResponse), errors.Is(err, nextidentity.ErrResponseTooLarge):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// UserMessage is a short sentence for the user about err, matching
// StatusCode(err). It reveals nothing about tokens or keys.
func UserMessage(err error) string {
	switch StatusCode(err) {
	case http.StatusForbidden:
		if errors.Is(err, ErrCrossSite) {
			return "This request came from another site and was refused."
		}
		return "Sign-in was cancelled or refused."
	case http.StatusBadRequest:
		return "This sign-in link is invalid or has expired. Please sign in again."
	case http.StatusTooManyRequests:
		return "Signing in keeps starting over. Please wait a minute and try again."
	case http.StatusBadGateway:
		return "The identity provider could not complete the sign-in. Please try again."
	case http.StatusServiceUnavailable:
		if errors.Is(err, nextidentity.ErrProviderUnavailable) {
			return "The sign-in service is unavailable right now. Please try again in a moment."
		}
		return "Sessions are unavailable right now. Please try again in a moment."
	}
	if errors.Is(err, ErrSessionTooLarge) {
		return "Your account's data is too large for this site's session cookies. " +
			"The site needs a server-side session store (nihttp/redisstore)."
	}
	return "Sign-in failed. Please try again."
}

// DefaultOnError answers with StatusCode(err) and UserMessage(err) as plain
// text, with a Retry-After header when the provider is unavailable.
func DefaultOnError(w http.ResponseWriter, r *http.Request, err error) {
	if s := retryAfter(err); s != "" {
		w.Header().Set("Retry-After", s)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(StatusCode(err))
	fmt.Fprintln(w, UserMessage(err))
}
