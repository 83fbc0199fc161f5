package nihttp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// DefaultReadyTimeout bounds ReadyHandler's checks when the request's
// context has no earlier deadline.
const DefaultReadyTimeout = 5 * time.Second

// Ready reports whether the handlers can sign users in and serve their
// sessions: the client's provider is known and its signing keys loaded
// (nextidentity.Client.Ready; with Config.LazyDiscovery this is where a
// probe finds the provider back), and the session store answers. The store
// is checked with its Ping method when it has one (Pinger); else a
// ServerStore is asked for a session that does not exist, which must come
// back ErrNoSession; the cookie store needs no check. The error joins what
// failed: a *nextidentity.ProviderUnavailableError
// (nextidentity.ErrProviderUnavailable) and an error wrapping
// ErrStoreUnavailable.
func (h *Handlers) Ready(ctx context.Context) error {
	return errors.Join(h.cfg.Client.Ready(ctx), h.storeReady(ctx))
}

func (h *Handlers) storeReady(ctx context.Context) error {
	var err error
	switch st := baseStore(h.store).(type) {
	case Pinger:
		err = st.Ping(ctx)
	case ServerStore:
		// A fresh random id names no session: a store that answers says
		// ErrNoSession.
		if _, err = st.Load(ctx, rand.Text()); errors.Is(err, ErrNoSession) {
			err = nil
		} else if err == nil {
			err = errors.New("nihttp: the store returned a session for a random id")
		}
	default:
		return nil // the cookie store keeps nothing on the server
	}
	if err != nil && !errors.Is(err, ErrStoreUnavailable) {
		err = fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return err
}

// ReadyHandler returns a handler for a readiness probe (mount it for GET,
// e.g. mux.Handle("GET /readyz", h.ReadyHandler())): it runs Ready,
// bounded by DefaultReadyTimeout, and answers 200 "ready" or 503 with one
// line per failed check ("provider unavailable", "session store
// unavailable"). The errors themselves go to Config.Logger, not to the
// response.
func (h *Handlers) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), DefaultReadyTimeout)
		defer cancel()
		provErr := h.cfg.Client.Ready(ctx)
		storeErr := h.storeReady(ctx)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if provErr == nil && storeErr == nil {
			fmt.Fprintln(w, "ready")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		if provErr != nil {
			h.log.Warn("nihttp: not ready: provider", "err", provErr)
			fmt.Fprintln(w, "provider unavailable")
		}
		if storeErr != nil {
			h.log.Warn("nihttp: not ready: session store", "err", storeErr)
			fmt.Fprintln(w, "session store unavailable")
		}
	})
}

// retryAfter is the Retry-After value for an error wrapping a
// *nextidentity.ProviderUnavailableError: the whole seconds until its
// RetryAt (read on this machine's clock), from 1 to 30; "" for other
// errors.
func retryAfter(err error) string {
	var pe *nextidentity.ProviderUnavailableError
	if !errors.As(err, &pe) {
		return ""
	}
	secs := 1
	if d := time.Until(pe.RetryAt); !pe.RetryAt.IsZero() && d > 0 {
		secs = int((min(d, nextidentity.MaxDiscoveryBackoff) + time.Second - 1) / time.Second)
	}
	return strconv.Itoa(secs)
}
