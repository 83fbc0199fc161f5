package keys

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
