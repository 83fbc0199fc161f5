package keys

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/stretchr/testify/require"
)

// Shared fixtures of the keys tests: keys generated once, JWK builders, a fake
// clock, a scriptable JWKS server and goroutine probes.

// testKeys are generated once per test binary: RSA generation is slow under
// -race.
type keyMaterial struct {
	rsa, rsaWeak     *rsa.PublicKey
	p256, p384, p521 *ecdsa.PublicKey
	ed               ed25519.PublicKey
	x25519           *ecdh.PublicKey
}

var testKeys = sync.OnceValue(func() keyMaterial {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	ec := func(c elliptic.Curve) *ecdsa.PublicKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		must(err)
		return &k.PublicKey
	}
	ed, _, err := ed25519.GenerateKey(rand.Reader)
	must(err)
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	must(err)
	return keyMaterial{
		rsa: &r.PublicKey, rsaWeak: &weak.PublicKey,
		p256: ec(elliptic.P256()), p384: ec(elliptic.P384()), p521: ec(elliptic.P521()),
		ed: ed, x25519: x.PublicKey(),
	}
})

type jwkMap = map[string]any

// jwk marshals key as a JWK (via jwkset, so the encoding is the reference
// one) and returns it as a map the test can then bend.
func jwk(t testing.TB, key any, kid, alg, use string) jwkMap {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.ALG(alg), USE: jwkset.USE(use)},
	})
	require.NoError(t, err)
	b, err := json.Marshal(j.Marshal())
	require.NoError(t, err)
	var m jwkMap
	require.NoError(t, json.Unmarshal(b, &m))
	if alg == "" {
		delete(m, "alg") // jwkset defaults EdDSA for Ed25519 keys
	}
	return m
}

// octJWK is a symmetric key, written by hand (jwkset marshals oct keys only
// with private material enabled).
func octJWK(kid, alg, use string) jwkMap {
	m := jwkMap{"kty": "oct", "kid": kid, "k": base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}
	if alg != "" {
		m["alg"] = alg
	}
	if use != "" {
		m["use"] = use
	}
	return m
}

// with returns a copy of m with the given field set (or removed, for nil).
func with(m jwkMap, kv ...any) jwkMap {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func jwks(t testing.TB, ks ...jwkMap) []byte {
	t.Helper()
	if ks == nil {
		ks = []jwkMap{}
	}
	b, err := json.Marshal(map[string]any{"keys": ks})
	require.NoError(t, err)
	return b
}

func rsaKey(t testing.TB, kid string) jwkMap {
	return jwk(t, testKeys().rsa, kid, "RS256", "sig")
}

func kids(ks []*Key) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.KID)
	}
	return out
}

// fakeClock is the Store's Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gate makes the JWKS handler block: entered is closed when the first
// request arrives, the handler then waits for release (or for the client to
// go away).
type gate struct {
	entered     chan struct{}
	enteredOnce sync.Once
	release     chan struct{}
	releaseOnce sync.Once
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) Release() { g.releaseOnce.Do(func() { close(g.release) }) }

// jwksServer serves whatever body/status it currently holds and counts hits.
type jwksServer struct {
	*httptest.Server
	body   atomic.Pointer[[]byte]
	status atomic.Int32
	hits   atomic.Int64
	gate   atomic.Pointer[gate]
	// handler, when set, replaces the body/status response.
	handler atomic.Pointer[http.HandlerFunc]
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Set(body)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if g := s.gate.Load(); g != nil {
			g.enteredOnce.Do(func() { close(g.entered) })
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		if h := s.handler.Load(); h != nil {
			(*h)(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(func() {
		if g := s.gate.Load(); g != nil {
			g.Release()
		}
		s.Close()
	})
	return s
}

func (s *jwksServer) Set(body []byte) { s.body.Store(&body) }

func (s *jwksServer) Gate() *gate {
	g := newGate()
	s.gate.Store(g)
	return g
}

func (s *jwksServer) Handle(h http.HandlerFunc) { s.handler.Store(&h) }

// newStore makes a Store on srv, closed at the end of the test (before the
// server, as cleanups run last-in first-out).
func newStore(t *testing.T, srv *jwksServer, opts Options) *Store {
	t.Helper()
	opts.URL = srv.URL
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 1 << 20
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s
}

// waitersInRefresh counts goroutines parked in the select of Store.refresh,
// that is, waiting on a shared fetch (or about to give up on their context).
func waitersInRefresh() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	const frame = "\ngithub.com/oidc-kit/nextidentity/internal/keys.(*Store).refresh("
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[select") && strings.Contains(g, frame) {
			n++
		}
	}
	return n
}

// goroutinesIn counts goroutines with fn on their stack.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "\n"+fn+"(") {
			n++
		}
	}
	return n
}

// within runs f and fails the test if it has not returned after d. It is a
// guard against hangs, not a synchronisation device.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

const hangGuard = 10 * time.Second

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
