package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/httpx"
)

// Defaults used when the corresponding HandlerOptions field is zero.
const (
	// DefaultReplayTTL covers the provider's whole retry schedule (30, 60,
	// 120, 300 and 900 seconds after the first attempt: about 24 minutes)
	// with a margin.
	DefaultReplayTTL = time.Hour
	// DefaultVerifyTimeout bounds verification and the duplicate check, so
	// the answer leaves well inside the provider's 5-second budget even
	// when a JWK Set fetch hangs.
	DefaultVerifyTimeout = 3 * time.Second
	// DefaultFuncTimeout is the deadline of the context fn runs with.
	DefaultFuncTimeout = time.Minute
)

// HandlerOptions configure NewHandler. The zero value is usable.
type HandlerOptions struct {
	// Replay drops duplicate deliveries. Default: a
	// nextidentity.NewMemoryReplayCache of its default size, which only sees
	// the deliveries of this process; with several instances behind a load
	// balancer, give them one shared cache (for example Redis-backed) so that
	// fn runs once in all.
	Replay nextidentity.ReplayCache
	// ReplayTTL is how long a delivered event is remembered; default
	// DefaultReplayTTL.
	ReplayTTL time.Duration
	// VerifyTimeout bounds the work before the answer; default
	// DefaultVerifyTimeout.
	VerifyTimeout time.Duration
	// FuncTimeout is the deadline of fn's context; default DefaultFuncTimeout.
	FuncTimeout time.Duration
	// Logger receives rejected deliveries (warn), fn's errors (error) and
	// duplicates (debug). Default slog.Default().
	Logger *slog.Logger
}

// EventHandler is the http.Handler NewHandler returns.
type EventHandler struct {
	v    *Verifier
	fn   func(context.Context, *Event) error
	opts HandlerOptions

	mu      sync.Mutex
	running int
	idle    chan struct{} // closed while running == 0
}

// Handler returns NewHandler(v, fn, HandlerOptions{}).
func Handler(v *Verifier, fn func(ctx context.Context, e *Event) error) http.Handler {
	return NewHandler(v, fn, HandlerOptions{})
}

// NewHandler returns the handler to mount at the target URL registered with
// the tenant. For each POST it verifies the body with v and answers:
//
//   - 200 once the event is verified and is not a duplicate; fn then runs in
//     its own goroutine, after the answer;
//   - 200 without running fn for a duplicate: an event whose "jti" (or, when
//     it has none, whose exact body) was delivered within ReplayTTL;
//   - 400 for an event that fails verification, 413 for a body longer than
//     v's MaxEventBytes, 405 for another method;
//   - 503 when the JWK Set or the replay cache is unavailable, so that the
//     provider retries later.
//
// The trade-off: the provider counts a delivery as failed when no answer
// arrives within 5 seconds, and retries it. Answering before fn runs keeps
// every delivery inside that budget whatever fn does, and makes fn run at
// most once per event. The price is that the provider never learns of fn's
// failure: an error fn returns (or a panic) is logged, and the event is not
// redelivered. An fn that must not lose events should store them durably
// (a queue, a table) and do the slow work from there. fn's context is not
// the request's: it carries the request's values but ends after FuncTimeout.
// Call Wait on shutdown to let running fns finish.
func NewHandler(v *Verifier, fn func(ctx context.Context, e *Event) error, opts HandlerOptions) *EventHandler {
	if opts.Replay == nil {
		opts.Replay = nextidentity.NewMemoryReplayCache(0)
	}
	opts.ReplayTTL = positiveOr(opts.ReplayTTL, DefaultReplayTTL)
	opts.VerifyTimeout = positiveOr(opts.VerifyTimeout, DefaultVerifyTimeout)
	opts.FuncTimeout = positiveOr(opts.FuncTimeout, DefaultFuncTimeout)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	idle := make(chan struct{})
	close(idle)
	return &EventHandler{v: v, fn: fn, opts: opts, idle: idle}
}

// ServeHTTP implements http.Handler.
func (h *EventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "events: POST only", http.StatusMethodNotAllowed)
		return
	}
	limit := h.v.MaxEventBytes()
	if r.ContentLength > limit {
		h.reject(w, r, http.StatusRequestEntityTooLarge, invalid(ErrEventTooLarge, "Content-Length %d", r.ContentLength))
		return
	}
	body, err := httpx.ReadAll(r.Body, limit)
	if errors.Is(err, httpx.ErrTooLarge) {
		h.reject(w, r, http.StatusRequestEntityTooLarge, invalid(ErrEventTooLarge, "more than %d bytes", limit))
		return
	}
	if err != nil {
		h.reject(w, r, http.StatusBadRequest, fmt.Errorf("events: reading the body: %w", err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.VerifyTimeout)
	defer cancel()
	e, err := h.v.Verify(ctx, body)
	switch {
	case errors.Is(err, ErrEventTooLarge):
		h.reject(w, r, http.StatusRequestEntityTooLarge, err)
		return
	case errors.Is(err, ErrInvalidEvent):
		h.reject(w, r, http.StatusBadRequest, err)
		return
	case err != nil:
		h.reject(w, r, http.StatusServiceUnavailable, err)
		return
	}
	first, err := h.opts.Replay.FirstSeen(ctx, replayKey(e, body), h.opts.ReplayTTL)
	if err != nil {
		h.reject(w, r, http.StatusServiceUnavailable, fmt.Errorf("events: replay cache: %w", err))
		return
	}
	if !first {
		h.opts.Logger.LogAttrs(r.Context(), slog.LevelDebug, "events: duplicate delivery dropped",
			slog.String("jti", e.ID), slog.Any("events", e.Names()))
		w.WriteHeader(http.StatusOK)
		return
	}
	h.start()
	go h.run(context.WithoutCancel(r.Context()), e)
	w.WriteHeader(http.StatusOK)
}

// Wait blocks until no fn started by the handler is running, or ctx ends.
// Call it after http.Server.Shutdown has returned, so no new fn starts.
func (h *EventHandler) Wait(ctx context.Context) error {
	h.mu.Lock()
	idle := h.idle
	h.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("events: waiting for running handlers: %w", ctx.Err())
	}
}

func (h *EventHandler) start() {
	h.mu.Lock()
	if h.running == 0 {
		h.idle = make(chan struct{})
	}
	h.running++
	h.mu.Unlock()
}

func (h *EventHandler) done() {
	h.mu.Lock()
	if h.running--; h.running == 0 {
		close(h.idle)
	}
	h.mu.Unlock()
}

func (h *EventHandler) run(parent context.Context, e *Event) {
	defer h.done()
	ctx, cancel := context.WithTimeout(parent, h.opts.FuncTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			h.opts.Logger.LogAttrs(ctx, slog.LevelError, "events: handler panicked",
				slog.String("jti", e.ID), slog.Any("events", e.Names()), slog.Any("panic", p))
		}
	}()
	if err := h.fn(ctx, e); err != nil {
		h.opts.Logger.LogAttrs(ctx, slog.LevelError, "events: handler failed; the provider will not redeliver",
			slog.String("jti", e.ID), slog.Any("events", e.Names()), slog.String("error", err.Error()))
	}
}

func (h *EventHandler) reject(w http.ResponseWriter, r *http.Request, status int, err error) {
	h.opts.Logger.LogAttrs(r.Context(), slog.LevelWarn, "events: delivery refused",
		slog.Int("status", status), slog.String("error", err.Error()))
	http.Error(w, "events: "+http.StatusText(status), status)
}

// replayKey names a delivery for the replay cache: by "jti", else by the
// hash of the exact JWT, which a redelivery repeats. The prefix keeps events
// apart from other ids (logout tokens) in a shared cache.
func replayKey(e *Event, body []byte) string {
	if e.ID != "" {
		return "event:jti:" + e.ID
	}
	sum := sha256.Sum256(bytes.TrimSpace(body))
	return "event:sha256:" + hex.EncodeToString(sum[:])
}
