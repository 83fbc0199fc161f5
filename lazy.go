package nextidentity

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// This file holds the provider state of a Client: read at New, or with
// Config.LazyDiscovery on first use, once for all concurrent callers, with
// an exponential backoff between failed attempts; and the readiness check.

// Discovery backoff with Config.LazyDiscovery: after the n-th failed attempt
// in a row, the next one starts no sooner than MinDiscoveryBackoff << (n-1)
// later, at most MaxDiscoveryBackoff (each delay is shortened by up to a
// fifth at random, so that instances started together do not retry in step).
const (
	// MinDiscoveryBackoff is the wait after the first failed attempt.
	MinDiscoveryBackoff = time.Second
	// MaxDiscoveryBackoff is the longest wait between two attempts.
	MaxDiscoveryBackoff = 30 * time.Second
)

// ErrProviderUnavailable means the client does not know the provider yet:
// with Config.LazyDiscovery, the discovery document could not be read so
// far (the provider is down, unreachable or answers with an error), or, from
// Ready, the provider's signing keys could not be fetched. It is matched by
// every *ProviderUnavailableError. The call can succeed later without a
// restart; web handlers answer 503.
var ErrProviderUnavailable = errors.New("nextidentity: provider unavailable")

// ProviderUnavailableError is the error of a call that needs the provider
// while the client could not reach it (see ErrProviderUnavailable). It
// matches ErrProviderUnavailable and its cause with errors.Is and errors.As.
type ProviderUnavailableError struct {
	// Err is the cause: the last failed attempt's error (a network error,
	// an *Error for an error status, ErrInvalidConfig when the document
	// names another issuer), or the caller's context error when it gave up
	// waiting for an attempt in progress.
	Err error
	// RetryAt is when the next discovery attempt may start (on the
	// client's clock, Config.Now); calls before then fail at once with
	// this error. Zero when the client retries on the next call.
	RetryAt time.Time
}

func (e *ProviderUnavailableError) Error() string {
	msg := ErrProviderUnavailable.Error()
	if e.Err != nil {
		msg += ": " + trimPkg(e.Err.Error())
	}
	if !e.RetryAt.IsZero() {
		msg += " (next attempt after " + e.RetryAt.UTC().Format(time.RFC3339) + ")"
	}
	return msg
}

// Unwrap returns ErrProviderUnavailable and the cause.
func (e *ProviderUnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrProviderUnavailable}
	}
	return []error{ErrProviderUnavailable, e.Err}
}

// lazyState runs the discovery attempts of a LazyDiscovery client.
type lazyState struct {
	ctx    context.Context // cancelled by Close: ends an attempt in progress
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	inflight *lazyCall
	failures int       // failed attempts in a row
	lastErr  error     // the last failure, while there is no provider
	retryAt  time.Time // no attempt starts before this
	attempts int64     // attempts started, for tests
}

type lazyCall struct {
	done chan struct{}
	p    *provider
	err  error
}

func newLazyState() *lazyState {
	l := &lazyState{}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

func (l *lazyState) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
}

// errClientClosed is the cause when a lazy client is used after Close.
var errClientClosed = errors.New("nextidentity: client closed")

// loaded returns the provider state when it is known, else nil (only with
// LazyDiscovery, before the first successful discovery).
func (c *Client) loaded() *provider { return c.prov.Load() }

// provider returns the provider state, reading the discovery document first
// when LazyDiscovery left it unread. ctx bounds only the caller's wait: the
// attempt itself is shared by every caller and bounded by
// DefaultHTTPTimeout, so a caller that gives up does not fail the others.
func (c *Client) provider(ctx context.Context) (*provider, error) {
	if p := c.prov.Load(); p != nil {
		return p, nil
	}
	l := c.lazy
	l.mu.Lock()
	if p := c.prov.Load(); p != nil {
		l.mu.Unlock()
		return p, nil
	}
	call := l.inflight
	if call == nil {
		if l.closed {
			l.mu.Unlock()
			return nil, &ProviderUnavailableError{Err: errClientClosed}
		}
		if l.lastErr != nil && c.now().Before(l.retryAt) {
			err := &ProviderUnavailableError{Err: l.lastErr, RetryAt: l.retryAt}
			l.mu.Unlock()
			return nil, err
		}
		call = &lazyCall{done: make(chan struct{})}
		l.inflight = call
		l.attempts++
		l.wg.Add(1)
		go c.attempt(context.WithoutCancel(ctx), call)
	}
	l.mu.Unlock()
	select {
	case <-call.done:
		return call.p, call.err
	case <-ctx.Done():
		return nil, &ProviderUnavailableError{Err: fmt.Errorf("nextidentity: waiting for discovery: %w", ctx.Err())}
	}
}

// attempt reads the discovery document once and records the outcome. ctx
// carries the first caller's values (not its cancellation).
func (c *Client) attempt(ctx context.Context, call *lazyCall) {
	l := c.lazy
	defer l.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, DefaultHTTPTimeout)
	stop := context.AfterFunc(l.ctx, cancel)
	md, err := c.discover(ctx)
	var p *provider
	if err == nil {
		p, err = c.newProvider(md)
	}
	stop()
	cancel()

	l.mu.Lock()
	l.inflight = nil
	switch {
	case err == nil && l.closed:
		if p.keys != nil {
			p.keys.Close()
		}
		call.err = &ProviderUnavailableError{Err: errClientClosed}
	case err == nil:
		c.prov.Store(p)
		l.failures, l.lastErr = 0, nil
		call.p = p
	default:
		l.failures++
		l.lastErr = err
		l.retryAt = c.now().Add(discoveryBackoff(l.failures))
		call.err = &ProviderUnavailableError{Err: err, RetryAt: l.retryAt}
	}
	l.mu.Unlock()
	close(call.done)
	if err != nil {
		c.logError(ctx, "nextidentity: discovery failed; calls fail with ErrProviderUnavailable until it succeeds", err)
	}
}

// discoveryBackoff is the wait after the n-th failure in a row (n >= 1).
func discoveryBackoff(n int) time.Duration {
	d := MaxDiscoveryBackoff
	if n <= 5 { // 1s << 5 = 32s is past the cap already
		d = min(MinDiscoveryBackoff<<(n-1), MaxDiscoveryBackoff)
	}
	return d - rand.N(d/5+1)
}

// Discover reads the provider's discovery document if the client has not
// read it yet (Config.LazyDiscovery), and returns nil at once if it has
// (always without LazyDiscovery). Concurrent callers share one attempt; ctx
// bounds only the wait. While the provider cannot be reached, the error is
// a *ProviderUnavailableError, returned at once without a request until
// its RetryAt. Handlers that have a request's context call it before the
// methods without a context argument (AuthCodeURL, LogoutURL,
// RevocationMethod), which otherwise wait for the attempt for up to
// DefaultHTTPTimeout.
func (c *Client) Discover(ctx context.Context) error {
	_, err := c.provider(ctx)
	return err
}

// Ready reports whether the client can sign users in and verify their
// tokens: the discovery document has been read (with Config.LazyDiscovery
// it is read now when it has not been) and the provider's signing keys are
// loaded (fetched now when they have not been). Once both are in hand it
// makes no request, so it suits a readiness probe: an instance becomes
// ready when the provider first answers, and does not become unready when
// the provider later fails (cached keys keep verifying). Its error is a
// *ProviderUnavailableError.
func (c *Client) Ready(ctx context.Context) error {
	p, err := c.provider(ctx)
	if err != nil {
		return err
	}
	if p.keys == nil {
		return nil // HS* tokens only: the client secret is the key
	}
	if err := p.keys.Load(ctx); err != nil {
		return &ProviderUnavailableError{Err: fmt.Errorf("nextidentity: signing keys: %w", err)}
	}
	return nil
}

// logError writes a warning on Config.Logger, when set.
func (c *Client) logError(ctx context.Context, msg string, err error) {
	if c.log == nil {
		return
	}
	c.log.WarnContext(ctx, msg, "error", err.Error())
}

// providerFor is provider for a token check: when the provider is
// unavailable, the error also wraps the token's umbrella and
// ErrProviderUnreachable, as a failed JWKS fetch does, so the token is
// neither accepted nor called bad.
func (c *Client) providerFor(ctx context.Context, umbrella error) (*provider, error) {
	p, err := c.provider(ctx)
	if err != nil {
		return nil, &tokenCheckError{umbrella: umbrella, err: err}
	}
	return p, nil
}

// tokenCheckError is a token check that could not run for want of the
// provider.
type tokenCheckError struct {
	umbrella, err error
}

func (e *tokenCheckError) Error() string {
	return e.umbrella.Error() + ": " + trimPkg(e.err.Error())
}

func (e *tokenCheckError) Unwrap() []error {
	return []error{e.umbrella, ErrProviderUnreachable, e.err}
}
