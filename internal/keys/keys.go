// Package keys is the client's JWKS cache.
//
// It parses keys with github.com/MicahParks/jwkset (keyfunc's key layer) but
// does its own fetching and caching, because the hot and hostile paths need
// what the keyfunc/jwkset HTTP storage does not give (v3.9.0 / v0.11.3):
//   - reads take no lock: the current set is an atomic pointer, replaced whole;
//   - a malformed or unsupported key is skipped, not fatal to the whole set;
//   - the JWKS body is read through a size limit;
//   - goroutines that meet the same unknown kid share one fetch and all see
//     its result, instead of queueing on a rate limiter one by one;
//   - a fetch runs on the store's own context, never the caller's request.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/oidc-kit/nextidentity/internal/httpx"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

var (
	// ErrNoKey means no key in the set fits the token's kid and alg.
	ErrNoKey = errors.New("keys: no key in the JWKS fits the token")
	// ErrFetch means the JWKS could not be fetched or had no usable key.
	ErrFetch = errors.New("keys: JWKS fetch failed")
	// ErrClosed means the Store was closed; it is wrapped with ErrFetch.
	ErrClosed = errors.New("keys: key store closed")
)

// MinRSABits is the smallest RSA modulus accepted (RFC 8725 section 3.5,
// NIST SP 800-131A).
const MinRSABits = 2048

// Key is one usable public signing key.
type Key struct {
	KID    string
	Alg    string // the JWK's "alg", may be empty
	Public crypto.PublicKey
}

// Fits reports whether k may verify a JWS signed with alg: the key type and
// curve must match the algorithm, and the JWK's own "alg", when set, must be
// alg. Symmetric keys are never in a Store, so an HS* alg never fits.
func (k *Key) Fits(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := k.Public.(*rsa.PublicKey)
		return ok
	case "ES256", "ES384", "ES512":
		pk, ok := k.Public.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		switch alg {
		case "ES256":
			return pk.Curve == elliptic.P256()
		case "ES384":
			return pk.Curve == elliptic.P384()
		default:
			return pk.Curve == elliptic.P521()
		}
	case "EdDSA":
		_, ok := k.Public.(ed25519.PublicKey)
		return ok
	}
	return false
}

// Set is an immutable snapshot of the JWKS.
type Set struct {
	byKID map[string][]*Key
	all   []*Key
}

// Len is the number of usable keys.
func (s *Set) Len() int { return len(s.all) }

// Keys returns the usable keys in document order. The slice is a copy; the
// keys are shared and must not be modified.
func (s *Set) Keys() []*Key { return slices.Clone(s.all) }

// Options configure a Store.
type Options struct {
	URL                string
	Client             *http.Client
	MaxBytes           int64
	RefreshInterval    time.Duration // background refresh period
	UnknownKIDInterval time.Duration // least time between unknown-kid refreshes
	FetchTimeout       time.Duration // default 30s
	// FailureBackoff is how long a failed first load is remembered: callers
	// in that window get its error without a new request, so a JWKS outage
	// with nothing cached does not turn every verification into a fetch.
	// Default 1s.
	FailureBackoff time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	// Telemetry records each fetch (span and metrics); nil records nothing.
	Telemetry *telemetry.Telemetry
}

// Store caches the keys of one JWKS URL.
type Store struct {
	opts   Options
	cur    atomic.Pointer[Set]
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool // set by Close: no fetch starts after it
	inflight    *call
	lastUnknown time.Time // start of the last unknown-kid refresh
	lastErr     error     // the last failed load, while nothing is cached
	lastErrAt   time.Time
	fetches     atomic.Int64
}

type call struct {
	done chan struct{}
	err  error
}

// New returns a Store and starts its background refresh. Keys are fetched on
// first use.
func New(opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 30 * time.Second
	}
	if opts.FailureBackoff <= 0 {
		opts.FailureBackoff = time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.FetchTimeout}
	}
	s := &Store{opts: opts}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if opts.RefreshInterval > 0 {
		s.wg.Add(1)
		go s.refreshLoop()
	}
	return s
}

// Close stops the background refresh and waits for running fetches to end.
// Lookups after Close that would need a fetch fail with ErrClosed.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true // under mu, so no wg.Add can race with the Wait below
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Load fetches the keys when none are cached, sharing a fetch in progress,
// and returns nil at once when some are. A failed fetch is remembered for
// FailureBackoff, as for Candidates. ctx bounds only the wait.
func (s *Store) Load(ctx context.Context) error {
	return s.refresh(ctx, loadCold, nil)
}

// Fetches reports how many JWKS fetches have started.
func (s *Store) Fetches() int64 { return s.fetches.Load() }

func (s *Store) refreshLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if s.cur.Load() == nil {
				continue // never used: nothing to keep fresh
			}
			if err := s.refresh(s.ctx, loadBackground, nil); err != nil {
				s.logError("background JWKS refresh failed; keeping cached keys", err)
			}
		}
	}
}

// Candidates returns the keys that may verify a token with this kid and alg.
// An empty kid selects every signing key that fits alg. An unknown kid causes
// at most one shared, rate-limited refetch. ctx bounds only the wait.
func (s *Store) Candidates(ctx context.Context, kid, alg string) ([]*Key, error) {
	set := s.cur.Load()
	if set == nil {
		if err := s.refresh(ctx, loadCold, nil); err != nil {
			return nil, err
		}
		set = s.cur.Load()
	}
	if ks := set.match(kid, alg); len(ks) > 0 {
		return ks, nil
	}
	if kid != "" {
		if _, known := set.byKID[kid]; known {
			return nil, fmt.Errorf("%w: key %q does not fit alg %s", ErrNoKey, kid, alg)
		}
	}
	// Unknown kid (or no key for this alg): the provider may have rotated.
	if err := s.refresh(ctx, loadUnknown, set); err != nil && !errors.Is(err, errRateLimited) {
		return nil, err
	}
	if ks := s.cur.Load().match(kid, alg); len(ks) > 0 {
		return ks, nil
	}
	if kid != "" {
		return nil, fmt.Errorf("%w: unknown kid %q", ErrNoKey, kid)
	}
	return nil, fmt.Errorf("%w: no signing key for alg %s", ErrNoKey, alg)
}

func (s *Set) match(kid, alg string) []*Key {
	if s == nil {
		return nil
	}
	pool := s.all
	if kid != "" {
		pool = s.byKID[kid]
	}
	// Common case, no allocation: every key in the pool fits.
	all := true
	for _, k := range pool {
		if !k.Fits(alg) {
			all = false
			break
		}
	}
	if all {
		return pool
	}
	var out []*Key
	for _, k := range pool {
		if k.Fits(alg) {
			out = append(out, k)
		}
	}
	return out
}

var errRateLimited = errors.New("keys: unknown-kid refresh rate limited")

// refreshKind says why a fetch is wanted.
type refreshKind int

const (
	// loadCold: a lookup found nothing cached. Another caller's load may
	// have finished since, in which case there is nothing to do.
	loadCold refreshKind = iota
	// loadBackground: the periodic refresh; always fetches.
	loadBackground
	// loadUnknown: a lookup did not find its kid in the set it saw. If the
	// set changed since, the caller looks again; otherwise the unknown-kid
	// rate limit applies.
	loadUnknown
)

// refresh fetches the JWKS once for all concurrent callers, and waits for
// that fetch or ctx. seen is the set a loadUnknown caller looked at.
func (s *Store) refresh(ctx context.Context, kind refreshKind, seen *Set) error {
	s.mu.Lock()
	c := s.inflight
	if c == nil {
		if s.closed {
			s.mu.Unlock()
			return fmt.Errorf("%w: %w", ErrFetch, ErrClosed)
		}
		cur := s.cur.Load()
		switch kind {
		case loadCold:
			if cur != nil {
				s.mu.Unlock()
				return nil
			}
			if s.lastErr != nil && s.opts.Now().Sub(s.lastErrAt) < s.opts.FailureBackoff {
				err := s.lastErr
				s.mu.Unlock()
				return err
			}
		case loadUnknown:
			if cur != seen {
				s.mu.Unlock()
				return nil
			}
			now := s.opts.Now()
			if !s.lastUnknown.IsZero() && now.Sub(s.lastUnknown) < s.opts.UnknownKIDInterval {
				s.mu.Unlock()
				return errRateLimited
			}
			s.lastUnknown = now
		}
		c = &call{done: make(chan struct{})}
		s.inflight = c
		s.fetches.Add(1)
		s.wg.Add(1)
		go s.run(c)
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for JWKS: %w", ErrFetch, ctx.Err())
	}
}

func (s *Store) run(c *call) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.FetchTimeout)
	err := s.load(ctx)
	cancel()
	s.mu.Lock()
	s.inflight = nil
	c.err = err
	s.lastErr, s.lastErrAt = err, s.opts.Now()
	s.mu.Unlock()
	close(c.done)
}

func (s *Store) load(ctx context.Context) (err error) {
	ctx, op := s.opts.Telemetry.Start(ctx, telemetry.JWKSFetch)
	defer op.End(&err)
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.URL, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		telemetry.HTTP(req, "jwks", 0)
		s.logRequest(0, start)
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer resp.Body.Close()
	telemetry.HTTP(req, "jwks", resp.StatusCode)
	body, err := httpx.ReadAll(resp.Body, s.opts.MaxBytes)
	s.logRequest(resp.StatusCode, start)
	if err != nil {
		return fmt.Errorf("%w: reading body: %w", ErrFetch, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: HTTP %d", ErrFetch, resp.StatusCode)
	}
	set, skipped, err := Parse(body)
	if err != nil {
		return err
	}
	for _, e := range skipped {
		s.logError("JWKS key skipped", e)
	}
	s.cur.Store(set)
	return nil
}

// Parse reads a JWK Set document. Keys that are malformed, unsupported,
// symmetric, for encryption, or RSA below MinRSABits are skipped and reported
// in skipped. It fails only when the document is not a JWK Set or no key is
// usable.
func Parse(body []byte) (set *Set, skipped []error, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("%w: not a JWK Set: %w", ErrFetch, err)
	}
	set = &Set{byKID: map[string][]*Key{}}
	for i, raw := range doc.Keys {
		k, err := parseKey(raw)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("keys: key %d: %w", i, err))
			continue
		}
		set.all = append(set.all, k)
		set.byKID[k.KID] = append(set.byKID[k.KID], k)
	}
	if len(set.all) == 0 {
		return nil, skipped, fmt.Errorf("%w: no usable signing key among %d", ErrFetch, len(doc.Keys))
	}
	return set, skipped, nil
}

func parseKey(raw json.RawMessage) (*Key, error) {
	jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, err
	}
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fmt.Errorf("kid %q: use %q is not sig", m.KID, m.USE)
	}
	var pub crypto.PublicKey
	switch k := jwk.Key().(type) {
	case *rsa.PublicKey:
		pub = k
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PublicKey:
		pub = k
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	case ed25519.PublicKey:
		pub = k
	case ed25519.PrivateKey:
		pub = k.Public()
	default:
		return nil, fmt.Errorf("kid %q: key type %T is not a signature verification key", m.KID, k)
	}
	if rk, ok := pub.(*rsa.PublicKey); ok && rk.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("kid %q: RSA key of %d bits is below %d", m.KID, rk.N.BitLen(), MinRSABits)
	}
	return &Key{KID: m.KID, Alg: string(m.ALG), Public: pub}, nil
}

func (s *Store) logRequest(status int, start time.Time) {
	if s.opts.Logger == nil {
		return
	}
	s.opts.Logger.LogAttrs(s.ctx, slog.LevelDebug, "nextidentity: provider request",
		slog.String("endpoint", "jwks"), slog.String("method", http.MethodGet),
		slog.Int("status", status), slog.Duration("duration", time.Since(start)))
}

func (s *Store) logError(msg string, err error) {
	if s.opts.Logger == nil {
		return
	}
	s.opts.Logger.LogAttrs(s.ctx, slog.LevelDebug, "nextidentity: "+msg, slog.String("error", err.Error()))
}
