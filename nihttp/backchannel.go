package nihttp

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/oidc-kit/nextidentity"
)

// maxLogoutRequest bounds a back-channel logout request's body.
const maxLogoutRequest = 64 << 10

// BackChannelLogout receives the provider's back-channel logout requests
// (OpenID Connect Back-Channel Logout 1.0): a POST whose form carries one
// logout_token. It verifies the token (Client.VerifyLogoutToken) and ends
// the sessions it names in the store, on every instance that shares it:
// those with its "sid", or when it has none every session of its "sub". It
// answers 200 with Cache-Control: no-store, or 400 with an error JSON
// object (503 when the token cannot be checked at all, for example the
// replay cache is down, so that the provider tries again); never a
// redirect.
//
// It needs a ServerStore (set Config.BackChannelLogout so that New checks
// it). Next Identity does not document back-channel logout; register this
// URL with the tenant when its discovery document lists
// backchannel_logout_supported.
//
// A logout token whose "jti" was seen before is refused as a replay; with
// several instances, give every Client the same
// nextidentity.Config.ReplayCache (a *redisstore.Store is one) so that a
// replay to another instance is refused too. The jti is recorded when the
// token verifies, so a request that fails after that (the store down) is
// not retried successfully with the same token: such a failure answers 400
// with "temporarily_unavailable" and is logged.
func (h *Handlers) BackChannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		logoutError(w, http.StatusMethodNotAllowed, "invalid_request", "back-channel logout takes POST")
		return
	}
	ss, ok := h.store.(ServerStore)
	if !ok {
		logoutError(w, http.StatusNotImplemented, "unsupported", "sessions are kept in cookies; back-channel logout needs a server-side store")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutRequest)
	if err := r.ParseForm(); err != nil {
		logoutError(w, http.StatusBadRequest, "invalid_request", "the request body is not a form")
		return
	}
	raw := r.PostForm["logout_token"]
	if len(raw) != 1 || raw[0] == "" {
		logoutError(w, http.StatusBadRequest, "invalid_request", "exactly one logout_token is required")
		return
	}
	lt, err := h.cfg.Client.VerifyLogoutToken(r.Context(), raw[0])
	switch {
	case errors.Is(err, nextidentity.ErrProviderUnreachable), errors.Is(err, nextidentity.ErrProviderUnavailable):
		// First: such an error also wraps ErrInvalidLogoutToken, yet the
		// token was not found bad, only not checked (keys unreachable, or
		// with LazyDiscovery the provider not known yet). A 5xx, so that
		// the provider tries again.
		h.log.Error("nihttp: back-channel logout token could not be checked", "err", err)
		logoutError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the logout token could not be checked")
		return
	case errors.Is(err, nextidentity.ErrInvalidLogoutToken):
		h.log.Info("nihttp: back-channel logout token refused", "err", err)
		logoutError(w, http.StatusBadRequest, "invalid_request", "the logout token is invalid")
		return
	case err != nil:
		// The token could not be checked (keys or the replay cache
		// unreachable): a 5xx, so that the provider tries again.
		h.log.Error("nihttp: back-channel logout token could not be checked", "err", err)
		logoutError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the logout token could not be checked")
		return
	}
	n, err := ss.EndSessions(r.Context(), lt.Subject, lt.SessionID)
	if err != nil {
		h.log.Error("nihttp: back-channel logout could not end sessions", "sub", lt.Subject, "sid", lt.SessionID, "err", err)
		logoutError(w, http.StatusBadRequest, "temporarily_unavailable", "sessions could not be ended")
		return
	}
	h.log.Info("nihttp: back-channel logout", "sub", lt.Subject, "sid", lt.SessionID, "sessions", n)
	w.WriteHeader(http.StatusOK)
}

// logoutError writes a back-channel logout error as JSON.
func logoutError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// errBackChannelNeedsServerStore is New's error for a configuration that
// mounts BackChannelLogout on the cookie store.
var errBackChannelNeedsServerStore = errors.New("nihttp: Config.BackChannelLogout needs a ServerStore (NewMemoryStore or nihttp/redisstore): the cookie store keeps no sessions on the server to end")
