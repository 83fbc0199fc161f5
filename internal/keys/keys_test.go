package keys

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/httpx"
)

// ---------------------------------------------------------------------------
// Fixtures.

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

// ---------------------------------------------------------------------------
// Parse.

func TestParse(t *testing.T) {
	k := testKeys()
	rsa1 := jwk(t, k.rsa, "rsa1", "RS256", "sig")
	ec1 := jwk(t, k.p256, "ec1", "ES256", "")
	ec384 := jwk(t, k.p384, "ec384", "", "")
	ed1 := jwk(t, k.ed, "ed1", "EdDSA", "sig")

	for _, tc := range []struct {
		name        string
		body        []byte
		wantKIDs    []string // in document order
		wantSkipped []string // one substring per skipped key, in order
		wantErr     bool
	}{
		{
			name:     "rsa ec ed25519 load",
			body:     jwks(t, rsa1, ec1, ec384, ed1),
			wantKIDs: []string{"rsa1", "ec1", "ec384", "ed1"},
		},
		{
			name:        "malformed n skipped",
			body:        jwks(t, with(rsa1, "kid", "bad", "n", "!!not base64!!"), ec1),
			wantKIDs:    []string{"ec1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "rsa missing e skipped",
			body:        jwks(t, ec1, with(rsa1, "kid", "noe", "e", nil)),
			wantKIDs:    []string{"ec1"},
			wantSkipped: []string{"key 1"},
		},
		{
			name:        "ec point not on curve skipped",
			body:        jwks(t, with(ec1, "kid", "offcurve", "y", ec1["x"]), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "key that is not an object skipped",
			body:        []byte(`{"keys":["nope",` + string(mustJSON(t, rsa1)) + `]}`),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "use enc skipped",
			body:        jwks(t, jwk(t, k.rsa, "enc1", "", "enc"), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{`kid "enc1": use "enc" is not sig`},
		},
		{
			name:        "unregistered use skipped",
			body:        jwks(t, with(rsa1, "kid", "odd", "use", "both"), ec1),
			wantKIDs:    []string{"ec1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "oct key skipped",
			body:        jwks(t, octJWK("hmac", "HS256", "sig"), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{"key 0: "}, // jwkset itself refuses oct without private options
		},
		{
			name:        "1024-bit rsa skipped",
			body:        jwks(t, jwk(t, k.rsaWeak, "weak", "RS256", "sig"), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{`kid "weak": RSA key of 1024 bits is below 2048`},
		},
		{
			name:        "unknown kty skipped",
			body:        jwks(t, jwkMap{"kty": "XYZ", "kid": "xyz", "k": "AAAA"}, ed1),
			wantKIDs:    []string{"ed1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "x25519 (key agreement) skipped",
			body:        jwks(t, jwk(t, k.x25519, "x1", "", ""), ed1),
			wantKIDs:    []string{"ed1"},
			wantSkipped: []string{`kid "x1": key type *ecdh.PublicKey`},
		},
		{
			name:        "unsupported curve skipped",
			body:        jwks(t, with(ec1, "kid", "k1", "crv", "secp256k1"), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name: "every kind of bad key skipped together, good ones load",
			body: jwks(t,
				with(rsa1, "kid", "bad", "n", "!!"),
				rsa1,
				jwk(t, k.rsa, "enc1", "", "enc"),
				ec1,
				octJWK("hmac", "", ""),
				jwk(t, k.rsaWeak, "weak", "", ""),
				jwkMap{"kty": "XYZ", "kid": "xyz"},
				ed1,
			),
			wantKIDs:    []string{"rsa1", "ec1", "ed1"},
			wantSkipped: []string{"key 0", "key 2", "key 4", "key 5", "key 6"},
		},
		{
			// Duplicate kids are not an error: both keys are kept under the
			// kid, and a lookup returns every one that fits the alg, so the
			// verifier tries them all.
			name:     "duplicate kids both kept",
			body:     jwks(t, rsa1, jwk(t, k.rsa, "rsa1", "", ""), with(ec1, "kid", "rsa1")),
			wantKIDs: []string{"rsa1", "rsa1", "rsa1"},
		},
		{name: "empty body", body: []byte(""), wantErr: true},
		{name: "not json", body: []byte("<html>nope</html>"), wantErr: true},
		{name: "json but keys not an array", body: []byte(`{"keys":{"kty":"RSA"}}`), wantErr: true},
		{name: "json array, not a set", body: []byte(`[{"kty":"RSA"}]`), wantErr: true},
		{name: "no keys member", body: []byte(`{}`), wantErr: true},
		{name: "null", body: []byte(`null`), wantErr: true},
		{name: "empty key list", body: jwks(t), wantErr: true},
		{
			name:        "only unusable keys",
			body:        jwks(t, jwk(t, k.rsa, "enc1", "", "enc"), jwk(t, k.rsaWeak, "weak", "", "")),
			wantErr:     true,
			wantSkipped: []string{"key 0", "key 1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, skipped, err := Parse(tc.body)
			require.Len(t, skipped, len(tc.wantSkipped), "skipped: %v", skipped)
			for i, want := range tc.wantSkipped {
				require.ErrorContains(t, skipped[i], want)
			}
			if tc.wantErr {
				require.Error(t, err)
				require.ErrorIs(t, err, ErrFetch)
				require.Nil(t, set)
				return
			}
			require.NoError(t, err)
			require.Equal(t, len(tc.wantKIDs), set.Len())
			require.Equal(t, tc.wantKIDs, kids(set.all))
			for _, kid := range tc.wantKIDs {
				n := 0
				for _, w := range tc.wantKIDs {
					if w == kid {
						n++
					}
				}
				require.Len(t, set.byKID[kid], n, "kid %q", kid)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestParseLookup looks keys up by kid and by alg in a parsed set, the way
// Store.Candidates does.
func TestParseLookup(t *testing.T) {
	k := testKeys()
	set, skipped, err := Parse(jwks(t,
		jwk(t, k.rsa, "rsa1", "RS256", "sig"),
		jwk(t, k.rsa, "rsa-any", "", ""), // no alg: fits every RSA alg
		jwk(t, k.p256, "ec256", "ES256", ""),
		jwk(t, k.p384, "ec384", "", ""),
		jwk(t, k.p521, "ec521", "ES512", ""),
		jwk(t, k.ed, "ed1", "EdDSA", ""),
		jwk(t, k.rsa, "enc1", "", "enc"), // skipped: never a candidate
		jwk(t, k.rsa, "dup", "RS256", ""),
		jwk(t, k.p256, "dup", "ES256", ""),
	))
	require.NoError(t, err)
	require.Len(t, skipped, 1)

	for _, tc := range []struct {
		kid, alg string
		want     []string
	}{
		// By kid.
		{"rsa1", "RS256", []string{"rsa1"}},
		{"rsa1", "PS256", nil}, // JWK alg pins RS256
		{"rsa1", "ES256", nil},
		{"rsa-any", "PS384", []string{"rsa-any"}},
		{"ec256", "ES256", []string{"ec256"}},
		{"ec384", "ES384", []string{"ec384"}},
		{"ec384", "ES256", nil}, // curve must match alg
		{"ec521", "ES512", []string{"ec521"}},
		{"ed1", "EdDSA", []string{"ed1"}},
		{"ed1", "RS256", nil},
		{"enc1", "RS256", nil},
		{"nope", "RS256", nil},
		// Duplicate kid: only the keys that fit the alg.
		{"dup", "RS256", []string{"dup"}},
		{"dup", "ES256", []string{"dup"}},
		{"dup", "EdDSA", nil},
		// HS* never fits a public key.
		{"rsa-any", "HS256", nil},
		{"", "HS256", nil},
		{"", "none", nil},
		// Without kid: every signing key that fits alg.
		{"", "RS256", []string{"rsa1", "rsa-any", "dup"}},
		{"", "PS256", []string{"rsa-any"}},
		{"", "ES256", []string{"ec256", "dup"}},
		{"", "ES384", []string{"ec384"}},
		{"", "ES512", []string{"ec521"}},
		{"", "EdDSA", []string{"ed1"}},
	} {
		t.Run(tc.kid+"/"+tc.alg, func(t *testing.T) {
			got := set.match(tc.kid, tc.alg)
			if tc.want == nil {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, kids(got))
			for _, key := range got {
				require.True(t, key.Fits(tc.alg))
			}
		})
	}

	// The duplicate kid holds the RSA key for RS256 and the EC key for ES256.
	_, isRSA := set.match("dup", "RS256")[0].Public.(*rsa.PublicKey)
	require.True(t, isRSA)
	_, isEC := set.match("dup", "ES256")[0].Public.(*ecdsa.PublicKey)
	require.True(t, isEC)
}

func TestKeyFits(t *testing.T) {
	k := testKeys()
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		jalg string
		fits []string
	}{
		{"rsa no alg", k.rsa, "", []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}},
		{"rsa pinned", k.rsa, "PS512", []string{"PS512"}},
		{"p256", k.p256, "", []string{"ES256"}},
		{"p384", k.p384, "", []string{"ES384"}},
		{"p521", k.p521, "", []string{"ES512"}},
		{"p256 pinned to a wrong alg", k.p256, "ES384", nil},
		{"ed25519", k.ed, "", []string{"EdDSA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := &Key{KID: "k", Alg: tc.jalg, Public: tc.pub}
			for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS512", "none", ""} {
				want := false
				for _, f := range tc.fits {
					want = want || f == alg
				}
				require.Equal(t, want, key.Fits(alg), "alg %q", alg)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Store.

// TestStoreCandidatesWithoutKID: only signing keys that fit the alg, through
// the Store path too.
func TestStoreCandidatesWithoutKID(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, jwks(t,
		jwk(t, k.rsa, "enc1", "", "enc"),
		jwk(t, k.rsa, "rsa1", "RS256", "sig"),
		jwk(t, k.p256, "ec1", "", ""),
		jwk(t, k.ed, "ed1", "", ""),
		octJWK("hmac", "HS256", ""),
	))
	s := newStore(t, srv, Options{UnknownKIDInterval: time.Hour, Now: newClock().Now})
	for _, tc := range []struct {
		alg  string
		want []string
	}{
		{"RS256", []string{"rsa1"}},
		{"ES256", []string{"ec1"}},
		{"EdDSA", []string{"ed1"}},
	} {
		got, err := s.Candidates(context.Background(), "", tc.alg)
		require.NoError(t, err, tc.alg)
		require.Equal(t, tc.want, kids(got), tc.alg)
	}
	require.EqualValues(t, 1, s.Fetches())

	// No key for the alg: one refetch (the provider may have rotated), then
	// ErrNoKey; a second such lookup is rate limited.
	for _, alg := range []string{"HS256", "ES384", "PS256"} {
		_, err := s.Candidates(context.Background(), "", alg)
		require.ErrorIs(t, err, ErrNoKey, alg)
	}
	require.EqualValues(t, 2, s.Fetches())
	require.EqualValues(t, 2, srv.hits.Load())
}

// TestStoreLookupSequence walks a store through a sequence of lookups and
// server changes, checking the fetch count after every step.
func TestStoreLookupSequence(t *testing.T) {
	type step struct {
		do        string // "lookup", "serve" (swap JWKS), "advance"
		kid, alg  string
		serve     []string // kids to serve (RS256 keys)
		advance   time.Duration
		wantErr   error
		wantKID   string
		wantFetch int64
	}
	lookup := func(kid, alg string, wantErr error, fetches int64) step {
		want := ""
		if wantErr == nil {
			want = kid
		}
		return step{do: "lookup", kid: kid, alg: alg, wantErr: wantErr, wantKID: want, wantFetch: fetches}
	}
	serve := func(kids ...string) step { return step{do: "serve", serve: kids} }
	advance := func(d time.Duration) step { return step{do: "advance", advance: d} }

	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{
			name: "no fetch before first use; first lookup fetches; known kid does not fetch again",
			steps: []step{
				lookup("a", "RS256", nil, 1),
				lookup("a", "RS256", nil, 1),
				lookup("a", "RS256", nil, 1),
				lookup("b", "RS256", nil, 1),
			},
		},
		{
			name: "known kid with the wrong alg is ErrNoKey without a fetch",
			steps: []step{
				lookup("a", "RS256", nil, 1),
				lookup("a", "ES256", ErrNoKey, 1),
				lookup("a", "PS256", ErrNoKey, 1), // JWK alg is RS256
				lookup("a", "HS256", ErrNoKey, 1),
			},
		},
		{
			name: "unknown kid after rotation triggers exactly one refetch",
			steps: []step{
				lookup("a", "RS256", nil, 1),
				serve("a", "c"),
				lookup("c", "RS256", nil, 2),
				lookup("c", "RS256", nil, 2),
				lookup("a", "RS256", nil, 2),
			},
		},
		{
			name: "unknown kid still unknown after the refetch: ErrNoKey, then rate limited",
			steps: []step{
				lookup("a", "RS256", nil, 1),
				lookup("x", "RS256", ErrNoKey, 2),
				lookup("x", "RS256", ErrNoKey, 2),
				lookup("y", "RS256", ErrNoKey, 2),
			},
		},
		{
			name: "second unknown kid soon after is rate limited even when the provider has it",
			steps: []step{
				lookup("a", "RS256", nil, 1),
				serve("a", "c"),
				lookup("c", "RS256", nil, 2),
				serve("a", "c", "d"),
				advance(59 * time.Minute),
				lookup("d", "RS256", ErrNoKey, 2), // within UnknownKIDInterval
				advance(time.Minute),
				lookup("d", "RS256", nil, 3), // interval over
				serve("a", "c", "d", "e"),
				lookup("e", "RS256", ErrNoKey, 3),
				advance(time.Hour),
				lookup("e", "RS256", nil, 4),
			},
		},
		{
			// The first lookup loads the set; an unknown kid then gets its
			// own refetch at once (the first after a load is always allowed),
			// so a cold store meeting an unknown kid fetches twice.
			name: "first lookup with an unknown kid: load plus one refetch",
			steps: []step{
				lookup("z", "RS256", ErrNoKey, 2),
				lookup("z", "RS256", ErrNoKey, 2),
				lookup("a", "RS256", nil, 2),
			},
		},
		{
			name: "a key removed by the provider stays usable from the cache",
			steps: []step{
				lookup("a", "RS256", nil, 1),
				serve("n"),
				lookup("a", "RS256", nil, 1),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwks(t, rsaKey(t, "a"), rsaKey(t, "b")))
			clock := newClock()
			s := newStore(t, srv, Options{UnknownKIDInterval: time.Hour, Now: clock.Now})
			require.Zero(t, s.Fetches(), "New must not fetch")
			for i, st := range tc.steps {
				switch st.do {
				case "serve":
					var ks []jwkMap
					for _, kid := range st.serve {
						ks = append(ks, rsaKey(t, kid))
					}
					srv.Set(jwks(t, ks...))
				case "advance":
					clock.Advance(st.advance)
				case "lookup":
					got, err := s.Candidates(context.Background(), st.kid, st.alg)
					if st.wantErr != nil {
						require.ErrorIs(t, err, st.wantErr, "step %d", i)
						require.Empty(t, got, "step %d", i)
					} else {
						require.NoError(t, err, "step %d", i)
						require.Equal(t, []string{st.wantKID}, kids(got), "step %d", i)
					}
					require.Equal(t, st.wantFetch, s.Fetches(), "step %d: fetches", i)
					require.Equal(t, st.wantFetch, srv.hits.Load(), "step %d: server hits", i)
				}
			}
		})
	}
}

// TestStoreConcurrentLookupsShareOneFetch: N goroutines asking for the same
// key at once share one fetch and all see its result.
func TestStoreConcurrentLookupsShareOneFetch(t *testing.T) {
	const n = 100
	for _, tc := range []struct {
		name       string
		warm       bool          // a first set is already loaded
		interval   time.Duration // UnknownKIDInterval
		wantFetch  int64
		thenUnkown bool // then check the rate limit on another unknown kid
	}{
		{name: "cold store, first load", warm: false, interval: time.Hour, wantFetch: 1},
		{name: "unknown kid, rate limited store", warm: true, interval: time.Hour, wantFetch: 2, thenUnkown: true},
		// With no rate limit at all, only the single-flight keeps this at
		// one fetch.
		{name: "unknown kid, no rate limit", warm: true, interval: 0, wantFetch: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwks(t, rsaKey(t, "old")))
			s := newStore(t, srv, Options{UnknownKIDInterval: tc.interval, Now: newClock().Now})
			if tc.warm {
				_, err := s.Candidates(context.Background(), "old", "RS256")
				require.NoError(t, err)
				require.EqualValues(t, 1, s.Fetches())
			}
			srv.Set(jwks(t, rsaKey(t, "old"), rsaKey(t, "new")))
			g := srv.Gate()

			var wg sync.WaitGroup
			errs := make([]error, n)
			got := make([][]*Key, n)
			for i := range n {
				wg.Go(func() {
					got[i], errs[i] = s.Candidates(context.Background(), "new", "RS256")
				})
			}
			select {
			case <-g.entered:
			case <-time.After(hangGuard):
				t.Fatal("no JWKS request")
			}
			// Every goroutine must be parked on the shared fetch before the
			// server answers.
			require.Eventually(t, func() bool { return waitersInRefresh() >= n },
				hangGuard, time.Millisecond, "goroutines did not all wait on the fetch")
			g.Release()
			within(t, hangGuard, "lookups", wg.Wait)

			for i := range n {
				require.NoError(t, errs[i], "goroutine %d", i)
				require.Equal(t, []string{"new"}, kids(got[i]), "goroutine %d", i)
			}
			require.Equal(t, tc.wantFetch, s.Fetches())
			require.Equal(t, tc.wantFetch, srv.hits.Load())

			if tc.thenUnkown {
				srv.Set(jwks(t, rsaKey(t, "old"), rsaKey(t, "new"), rsaKey(t, "newer")))
				_, err := s.Candidates(context.Background(), "newer", "RS256")
				require.ErrorIs(t, err, ErrNoKey)
				require.Equal(t, tc.wantFetch, s.Fetches(), "rate-limited lookup fetched")
			}
		})
	}
}

// TestStoreConcurrentUnknownKIDs: many goroutines, many different unknown
// kids, rate limited: one refetch in all.
func TestStoreConcurrentUnknownKIDs(t *testing.T) {
	srv := newJWKSServer(t, jwks(t, rsaKey(t, "a")))
	s := newStore(t, srv, Options{UnknownKIDInterval: time.Hour, Now: newClock().Now})
	_, err := s.Candidates(context.Background(), "a", "RS256")
	require.NoError(t, err)

	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			_, err := s.Candidates(context.Background(), fmt.Sprintf("kid-%d", i), "RS256")
			if !errors.Is(err, ErrNoKey) {
				t.Errorf("kid-%d: %v, want ErrNoKey", i, err)
			}
		})
	}
	within(t, hangGuard, "lookups", wg.Wait)
	require.EqualValues(t, 2, s.Fetches())
	require.EqualValues(t, 2, srv.hits.Load())
}

// TestStoreColdStampede: lookups that keep arriving on a cold store while
// its first load completes must all share that load. A goroutine that saw no
// set just before the load stored one, but takes the store's lock just after
// the load finished, must not start a second fetch.
//
// The arrivals are callers whose context is already cancelled: each joins
// the in-flight fetch and returns at once, so a few goroutines keep the
// store's lock busy across the moment the fetch ends.
func TestStoreColdStampede(t *testing.T) {
	const iterations = 60
	srv := newJWKSServer(t, jwks(t, rsaKey(t, "a")))
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range iterations {
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, UnknownKIDInterval: time.Hour})
		g := srv.Gate()
		var wg sync.WaitGroup
		wg.Go(func() {
			got, err := s.Candidates(context.Background(), "a", "RS256")
			if err != nil || len(got) != 1 {
				t.Errorf("lookup: %v %v", got, err)
			}
		})
		<-g.entered
		var stop atomic.Bool
		for range 2 {
			wg.Go(func() {
				for !stop.Load() {
					if _, err := s.Candidates(gone, "a", "RS256"); err == nil {
						return // the set is loaded
					}
				}
			})
		}
		g.Release()
		within(t, hangGuard, "lookups", func() {
			defer stop.Store(true)
			for s.cur.Load() == nil {
				runtime.Gosched()
			}
		})
		within(t, hangGuard, "lookups", wg.Wait)
		s.Close()
		require.EqualValues(t, 1, s.Fetches(), "iteration %d: a cold store fetched more than once for one stampede", i)
	}
}

// TestStoreCallerCancel: a caller's context bounds only its own wait; the
// shared fetch runs on and later callers get its keys.
func TestStoreCallerCancel(t *testing.T) {
	for _, tc := range []struct {
		name string
		warm bool
	}{
		{"cold store", false},
		{"unknown kid refetch", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwks(t, rsaKey(t, "old")))
			s := newStore(t, srv, Options{UnknownKIDInterval: time.Hour, Now: newClock().Now})
			var base int64
			if tc.warm {
				_, err := s.Candidates(context.Background(), "old", "RS256")
				require.NoError(t, err)
				base = 1
			}
			srv.Set(jwks(t, rsaKey(t, "old"), rsaKey(t, "new")))
			g := srv.Gate()

			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := s.Candidates(ctx, "new", "RS256")
				errc <- err
			}()
			<-g.entered
			cancel()
			select {
			case err := <-errc:
				require.ErrorIs(t, err, context.Canceled)
				require.ErrorIs(t, err, ErrFetch)
			case <-time.After(hangGuard):
				t.Fatal("cancelled lookup did not return while the fetch hangs")
			}

			// An already-cancelled caller does not wait either, and does not
			// start a second fetch.
			dead, cancelDead := context.WithCancel(context.Background())
			cancelDead()
			_, err := s.Candidates(dead, "new", "RS256")
			require.ErrorIs(t, err, context.Canceled)

			// The fetch is still in flight, on the store's context.
			require.Equal(t, base+1, s.Fetches())
			require.Equal(t, base+1, srv.hits.Load())
			g.Release()

			got, err := s.Candidates(context.Background(), "new", "RS256")
			require.NoError(t, err)
			require.Equal(t, []string{"new"}, kids(got))
			require.Equal(t, base+1, s.Fetches(), "the later caller must reuse the shared fetch")
			require.Equal(t, base+1, srv.hits.Load())
		})
	}
}

// TestStoreFailureBackoff: a failed first load is remembered for
// FailureBackoff; callers in the window get its error without a request.
func TestStoreFailureBackoff(t *testing.T) {
	good := func(t *testing.T) []byte { return jwks(t, rsaKey(t, "a")) }
	for _, tc := range []struct {
		name    string
		backoff time.Duration // Options.FailureBackoff, 0 for the default
		window  time.Duration // effective backoff
		status  int
		body    func(*testing.T) []byte
		maxB    int64
		wantErr error
	}{
		{name: "HTTP 500, default 1s", status: 500, body: good, window: time.Second, wantErr: ErrFetch},
		{name: "HTTP 404, custom 30s", backoff: 30 * time.Second, window: 30 * time.Second, status: 404, body: good, wantErr: ErrFetch},
		{name: "not JSON", status: 200, body: func(*testing.T) []byte { return []byte("<html>") }, window: time.Second, wantErr: ErrFetch},
		{name: "no usable key", status: 200, body: func(t *testing.T) []byte {
			return jwks(t, jwk(t, testKeys().rsaWeak, "weak", "", ""))
		}, window: time.Second, wantErr: ErrFetch},
		{name: "too large", status: 200, body: good, maxB: 10, window: time.Second, wantErr: httpx.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, tc.body(t))
			srv.status.Store(int32(tc.status))
			clock := newClock()
			s := newStore(t, srv, Options{FailureBackoff: tc.backoff, MaxBytes: tc.maxB, UnknownKIDInterval: time.Hour, Now: clock.Now})

			_, err := s.Candidates(context.Background(), "a", "RS256")
			require.ErrorIs(t, err, tc.wantErr)
			require.ErrorIs(t, err, ErrFetch)
			require.EqualValues(t, 1, srv.hits.Load())

			// Within the window: the remembered error, no request, however
			// many callers.
			for _, d := range []time.Duration{0, tc.window / 2, tc.window/2 - time.Nanosecond} {
				clock.Advance(d)
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						_, err := s.Candidates(context.Background(), "a", "RS256")
						if !errors.Is(err, tc.wantErr) {
							t.Errorf("in backoff: %v, want %v", err, tc.wantErr)
						}
					})
				}
				wg.Wait()
				require.EqualValues(t, 1, srv.hits.Load(), "fetched during backoff")
				require.EqualValues(t, 1, s.Fetches())
			}

			// Window over: the provider is asked again (still failing).
			clock.Advance(time.Nanosecond)
			_, err = s.Candidates(context.Background(), "a", "RS256")
			require.ErrorIs(t, err, tc.wantErr)
			require.EqualValues(t, 2, srv.hits.Load())

			// The provider recovers: after the window the keys load.
			// (MaxBytes cannot change on a live store, so not for "too large".)
			if tc.maxB == 0 {
				srv.status.Store(http.StatusOK)
				srv.Set(good(t))
				_, err = s.Candidates(context.Background(), "a", "RS256")
				require.ErrorIs(t, err, tc.wantErr, "still in the second window")
				require.EqualValues(t, 2, srv.hits.Load())
				clock.Advance(tc.window)
				got, err := s.Candidates(context.Background(), "a", "RS256")
				require.NoError(t, err)
				require.Equal(t, []string{"a"}, kids(got))
				require.EqualValues(t, 3, srv.hits.Load())
			}
		})
	}
}

// TestStoreRefreshFailureKeepsCache: once keys are cached, a failing
// unknown-kid refetch reports the failure but known kids keep working, with
// no new request.
func TestStoreRefreshFailureKeepsCache(t *testing.T) {
	srv := newJWKSServer(t, jwks(t, rsaKey(t, "a")))
	clock := newClock()
	s := newStore(t, srv, Options{UnknownKIDInterval: time.Hour, Now: clock.Now})
	_, err := s.Candidates(context.Background(), "a", "RS256")
	require.NoError(t, err)

	srv.status.Store(http.StatusInternalServerError)
	_, err = s.Candidates(context.Background(), "b", "RS256")
	require.ErrorIs(t, err, ErrFetch)
	require.EqualValues(t, 2, srv.hits.Load())

	for range 5 {
		got, err := s.Candidates(context.Background(), "a", "RS256")
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, kids(got))
	}
	// The failed refetch still counts against the unknown-kid rate limit.
	_, err = s.Candidates(context.Background(), "b", "RS256")
	require.ErrorIs(t, err, ErrNoKey)
	require.EqualValues(t, 2, srv.hits.Load())
}

func TestStoreBodyLimit(t *testing.T) {
	body := jwks(t, rsaKey(t, "a"))
	size := int64(len(body))
	for _, tc := range []struct {
		name     string
		maxBytes int64
		endless  bool
		wantErr  error
	}{
		{name: "under the limit", maxBytes: size + 1},
		{name: "exactly the limit", maxBytes: size},
		{name: "one byte over", maxBytes: size - 1, wantErr: httpx.ErrTooLarge},
		{name: "far over", maxBytes: 64, wantErr: httpx.ErrTooLarge},
		{name: "endless body", maxBytes: 1 << 16, endless: true, wantErr: httpx.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, body)
			var written atomic.Int64
			if tc.endless {
				srv.Handle(func(w http.ResponseWriter, r *http.Request) {
					chunk := []byte(strings.Repeat(" ", 4096))
					_, _ = w.Write([]byte(`{"keys":[`))
					for range 1 << 14 { // up to 64 MiB
						n, err := w.Write(chunk)
						written.Add(int64(n))
						if err != nil {
							return
						}
					}
				})
			}
			s := newStore(t, srv, Options{MaxBytes: tc.maxBytes, Now: newClock().Now})
			var got []*Key
			var err error
			within(t, hangGuard, "lookup", func() {
				got, err = s.Candidates(context.Background(), "a", "RS256")
			})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorIs(t, err, ErrFetch)
				if tc.endless {
					require.Less(t, written.Load(), int64(32<<20), "body read far past the limit")
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{"a"}, kids(got))
		})
	}
}

// TestStoreBackgroundRefresh: the loop picks up rotated keys, does nothing
// before first use, and keeps cached keys when a refresh fails.
func TestStoreBackgroundRefresh(t *testing.T) {
	const interval = 5 * time.Millisecond

	t.Run("picks up rotated keys", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := newStore(t, srv, Options{RefreshInterval: interval, UnknownKIDInterval: time.Hour, Now: newClock().Now})
		_, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)

		srv.Set(jwks(t, rsaKey(t, "k2")))
		require.Eventually(t, func() bool {
			set := s.cur.Load()
			return set.byKID["k2"] != nil && set.byKID["k1"] == nil
		}, hangGuard, time.Millisecond, "rotation not picked up")
		got, err := s.Candidates(context.Background(), "k2", "RS256")
		require.NoError(t, err)
		require.Equal(t, []string{"k2"}, kids(got))
	})

	t.Run("idle before first use", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := newStore(t, srv, Options{RefreshInterval: interval, Now: newClock().Now})
		require.Never(t, func() bool { return srv.hits.Load() != 0 }, 20*interval, interval)
		require.Zero(t, s.Fetches())
	})

	t.Run("failure keeps cached keys", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := newStore(t, srv, Options{RefreshInterval: interval, UnknownKIDInterval: time.Hour, Now: newClock().Now})
		_, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)
		srv.status.Store(http.StatusBadGateway)
		h := srv.hits.Load()
		require.Eventually(t, func() bool { return srv.hits.Load() >= h+3 }, hangGuard, time.Millisecond)
		got, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)
		require.Equal(t, []string{"k1"}, kids(got))
	})
}

const refreshLoopFn = "github.com/oidc-kit/nextidentity/internal/keys.(*Store).refreshLoop"
const runFn = "github.com/oidc-kit/nextidentity/internal/keys.(*Store).run"

func TestStoreClose(t *testing.T) {
	t.Run("stops the loop, idempotent", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, RefreshInterval: time.Millisecond})
		_, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return srv.hits.Load() >= 3 }, hangGuard, time.Millisecond, "loop not running")

		within(t, hangGuard, "Close", s.Close)
		// (Server hits are not compared: a request cancelled by Close may
		// still reach the handler a moment later.)
		f := s.Fetches()
		within(t, hangGuard, "second Close", s.Close)
		within(t, hangGuard, "third Close", s.Close)
		require.Eventually(t, func() bool { return goroutinesIn(refreshLoopFn) == 0 }, hangGuard, time.Millisecond, "refresh loop outlived Close")
		require.Never(t, func() bool { return s.Fetches() != f }, 50*time.Millisecond, time.Millisecond, "fetch started after Close")

		// Cached keys remain readable after Close.
		got, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)
		require.Equal(t, []string{"k1"}, kids(got))
	})

	t.Run("close without ever fetching", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, RefreshInterval: time.Hour})
		within(t, hangGuard, "Close", s.Close)
		within(t, hangGuard, "Close", s.Close)
		require.Zero(t, srv.hits.Load())
	})

	for _, tc := range []struct {
		name string
		warm bool
	}{
		{"in-flight first load on a hanging server", false},
		{"in-flight unknown-kid refetch on a hanging server", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
			s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, RefreshInterval: time.Hour, FetchTimeout: time.Hour})
			if tc.warm {
				_, err := s.Candidates(context.Background(), "k1", "RS256")
				require.NoError(t, err)
			}
			g := srv.Gate() // never released: the server hangs

			const n = 10
			errc := make(chan error, n)
			for range n {
				go func() {
					_, err := s.Candidates(context.Background(), "k2", "RS256")
					errc <- err
				}()
			}
			<-g.entered
			require.Eventually(t, func() bool { return waitersInRefresh() >= n }, hangGuard, time.Millisecond)

			within(t, hangGuard, "Close during a hanging fetch", s.Close)
			require.Eventually(t, func() bool { return goroutinesIn(runFn) == 0 }, hangGuard, time.Millisecond, "fetch goroutine outlived Close")
			for range n {
				select {
				case err := <-errc:
					require.ErrorIs(t, err, ErrFetch)
				case <-time.After(hangGuard):
					t.Fatal("waiter not released by Close")
				}
			}
			within(t, hangGuard, "second Close", s.Close)
		})
	}

	t.Run("lookup after Close does not hang or reach the server", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20})
		s.Close()
		var err error
		within(t, hangGuard, "lookup after Close", func() {
			_, err = s.Candidates(context.Background(), "k1", "RS256")
		})
		require.ErrorIs(t, err, ErrFetch)
		require.Zero(t, srv.hits.Load())
	})
}

// TestStoreCloseConcurrentWithLookups: Close while other goroutines are
// still looking keys up (a server shutting down with verifications in
// flight) must neither race nor panic. The scenario runs in a child process
// so that a panic fails this test instead of killing the whole test binary.
func TestStoreCloseConcurrentWithLookups(t *testing.T) {
	if os.Getenv(closeChildEnv) == "1" {
		closeConcurrentWithLookups(t)
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestStoreCloseConcurrentWithLookups$", "-test.count=1")
	cmd.Env = append(os.Environ(), closeChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		var summary []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "WARNING: DATA RACE") ||
				strings.Contains(line, "(*Store).") || strings.Contains(line, "/keys.go:") ||
				strings.Contains(line, "after Close") || strings.Contains(line, "did not return") {
				summary = append(summary, line)
			}
		}
		if len(summary) > 40 {
			summary = summary[:40]
		}
		t.Fatalf("Close concurrent with lookups failed (%v):\n%s", err, strings.Join(summary, "\n"))
	}
}

const closeChildEnv = "NEXTIDENTITY_KEYS_CLOSE_CHILD"

func closeConcurrentWithLookups(t *testing.T) {
	srv := newJWKSServer(t, nil)
	srv.status.Store(http.StatusServiceUnavailable)
	for i := range 20 {
		// Cold store, failures not remembered: every lookup starts a fetch.
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, RefreshInterval: time.Hour, FailureBackoff: time.Nanosecond})
		var stop atomic.Bool
		var calls atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					_, _ = s.Candidates(context.Background(), "a", "RS256")
					calls.Add(1)
				}
			})
		}
		for s.Fetches() < 3 {
			runtime.Gosched()
		}
		within(t, hangGuard, "Close", s.Close)
		// Close has returned: the lookups still running must not start
		// fetches (Close "waits for running fetches to end").
		f, c := s.Fetches(), calls.Load()
		deadline := time.Now().Add(hangGuard)
		for calls.Load() < c+16 && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		stop.Store(true)
		within(t, hangGuard, "lookups", wg.Wait)
		if after := s.Fetches() - f; after != 0 {
			t.Fatalf("iteration %d: %d fetches started after Close returned", i, after)
		}
	}
}
