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
	"os"
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
	// DefaultReadTimeout bounds reading a delivery's body. The provider
	// sends a few kilobytes at once; only a client trickling its body
	// (to hold the handler) needs longer.
	DefaultReadTimeout = 2 * time.Second
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
	// DefaultReplayTTL. It is also the default age limit: when the
	// Verifier has no Config.MaxAge, an event whose "iat" is longer ago
	// than ReplayTTL (plus the Verifier's leeway) is refused with
	// nextidentity.ErrTokenExpired (400), because a copy of an event the
	// replay cache has forgotten could no longer be told from a first
	// delivery. Whatever the limit (ReplayTTL or MaxAge), each event is
	// remembered for at least the limit plus twice the leeway, so every
	// event young enough to be accepted is still remembered.
	//
	// An event without "iat" cannot be dated (the provider does not
	// document "iat" on events): without MaxAge it is accepted and
	// remembered for ReplayTTL, so a copy delivered after that runs fn
	// again. Set Config.MaxAge on the Verifier to refuse events without
	// "iat".
	ReplayTTL time.Duration
	// ReadTimeout bounds reading the request body, counted from the
	// moment the handler starts, so a client trickling its body cannot
	// hold the handler; default DefaultReadTimeout. A body not read in
	// time is answered 408. The deadline is set on the connection through
	// http.ResponseController, so a middleware wrapping the
	// http.ResponseWriter must implement Unwrap; where it cannot be set, a
	// warning is logged once and only the server's own ReadTimeout bounds
	// the read.
	ReadTimeout time.Duration
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
	// maxAge is the age limit the handler checks itself: ReplayTTL when
	// the Verifier has no MaxAge, else 0 (the Verifier checks MaxAge).
	maxAge time.Duration
	// remember is how long the replay cache keeps an event.
	remember time.Duration
	// noDeadline is set once the writer refused a read deadline.
	noDeadline sync.Once

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
//   - 400 for an event that fails verification or is older than the replay
//     memory (see ReplayTTL), 413 for a body longer than v's MaxEventBytes,
//     408 for a body not read within ReadTimeout, 405 for another method;
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
	opts.ReadTimeout = positiveOr(opts.ReadTimeout, DefaultReadTimeout)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	idle := make(chan struct{})
	close(idle)
	h := &EventHandler{v: v, fn: fn, opts: opts, idle: idle}
	limit := v.cfg.MaxAge
	if limit <= 0 {
		limit, h.maxAge = opts.ReplayTTL, opts.ReplayTTL
	}
	// An event accepted at t1 may carry an "iat" up to leeway after t1, and
	// a copy is accepted until "iat" plus limit plus leeway: the entry
	// written at t1 must outlive that. The second covers the rounding of
	// "iat" to whole seconds.
	h.remember = max(opts.ReplayTTL, limit+2*v.leeway+time.Second)
	return h
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
	rc := http.NewResponseController(w)
	deadlineSet := rc.SetReadDeadline(time.Now().Add(h.opts.ReadTimeout)) == nil
	if !deadlineSet {
		h.noDeadline.Do(func() {
			h.opts.Logger.LogAttrs(r.Context(), slog.LevelWarn, "events: the ResponseWriter does not support read deadlines (does a middleware wrap it without Unwrap?); ReadTimeout is not enforced",
				slog.Duration("read_timeout", h.opts.ReadTimeout))
		})
	}
	body, err := httpx.ReadAll(r.Body, limit)
	if deadlineSet {
		// The body is read: no deadline for what follows, so that a slow
		// verification does not see the connection time out.
		_ = rc.SetReadDeadline(time.Time{})
	}
	switch {
	case errors.Is(err, httpx.ErrTooLarge):
		h.reject(w, r, http.StatusRequestEntityTooLarge, invalid(ErrEventTooLarge, "more than %d bytes", limit))
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		h.reject(w, r, http.StatusRequestTimeout, fmt.Errorf("events: reading the body took longer than ReadTimeout %s: %w", h.opts.ReadTimeout, err))
		return
	case err != nil:
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
	if h.maxAge > 0 && !e.IssuedAt.IsZero() && h.v.now().Sub(e.IssuedAt) > h.maxAge+h.v.leeway {
		h.reject(w, r, http.StatusBadRequest, invalid(nextidentity.ErrTokenExpired,
			"issued at %s, longer ago than ReplayTTL %s: a replay could not be recognised", e.IssuedAt.UTC().Format(time.RFC3339), h.maxAge))
		return
	}
	first, err := h.opts.Replay.FirstSeen(ctx, replayKey(e, body), h.remember)
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
