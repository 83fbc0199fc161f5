package nihttp

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/oidc-kit/nextidentity"
)

// StatusCode is the HTTP status DefaultOnError answers for err:
//   - 403 when the user or provider refused the sign-in, or a cross-site
//     request was refused;
//   - 400 for a callback this browser did not start or that does not match
//     it (login cookie missing, tampered, expired or used before; state,
//     code or iss), and for a logout return without its state
//     (ErrLogoutState);
//   - 429 when a sign-in loop was stopped;
//   - 502 when the provider failed or sent something the library rejected
//     (among them a step-up sign-in it did not make recent enough:
//     nextidentity.ErrAuthTooOld);
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
		errors.Is(err, ErrExpired), errors.Is(err, nextidentity.ErrInvalidCallback), errors.Is(err, ErrLogoutState):
		return http.StatusBadRequest
	case errors.Is(err, ErrLoginLoop):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrStoreUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, nextidentity.ErrProvider), errors.Is(err, nextidentity.ErrInvalidIDToken),
		errors.Is(err, nextidentity.ErrAuthTooOld),
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
		if errors.Is(err, ErrLogoutState) {
			return "This sign-out link is invalid or has expired."
		}
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

// DefaultOnError answers with StatusCode(err) and UserMessage(err): a small
// styled HTML page for a browser (a request whose Accept names text/html),
// plain text otherwise, with a Retry-After header when the provider is
// unavailable. Neither carries more than UserMessage.
func DefaultOnError(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusCode(err)
	h := w.Header()
	if s := retryAfter(err); s != "" {
		h.Set("Retry-After", s)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		var buf bytes.Buffer
		if errorPage.Execute(&buf, errorPageData{Title: errorTitle(status), Message: UserMessage(err)}) == nil {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
			w.WriteHeader(status)
			_, _ = w.Write(buf.Bytes())
			return
		}
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, UserMessage(err))
}

// errorPageData fills errorPage.
type errorPageData struct{ Title, Message string }

// errorPage is DefaultOnError's page for browsers: self-contained, so it
// shows the same whatever the application serves.
var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1f2328}
main{max-width:34rem;margin:12vh auto;padding:2rem 2.25rem;background:#fff;border:1px solid #d0d7de;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.06)}
h1{margin:0 0 .75rem;font-size:1.3rem}
p{margin:0}
</style></head>
<body><main><h1>{{.Title}}</h1><p>{{.Message}}</p></main></body></html>
`))

// errorTitle is the heading of the error page for status.
func errorTitle(status int) string {
	switch status {
	case http.StatusForbidden:
		return "Sign-in refused"
	case http.StatusTooManyRequests:
		return "Too many sign-ins"
	case http.StatusServiceUnavailable:
		return "Service unavailable"
	case http.StatusInternalServerError:
		return "This site cannot sign you in"
	}
	return "Sign-in failed"
}
