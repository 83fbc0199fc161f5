package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// sessionBench is one signed-in session, held as nihttp's sealed cookie
// store holds it and as gorilla/sessions' CookieStore holds the same bytes.
type sessionBench struct {
	h       *nihttp.Handlers
	nihttpR *http.Request // carries nihttp's session cookies
	payload []byte        // the session as JSON, what both stores carry
	gorilla *sessions.CookieStore
	gorillR *http.Request // carries gorilla's cookie with payload
}

// benchEntitlements are about 1.5 KB of custom claims (as JSON): the
// permissions of a business user across a tenant's apps.
func benchEntitlements() []string {
	var ents []string
	for _, app := range []string{"billing", "reports", "analytics", "crm", "inventory", "support", "payroll"} {
		for _, right := range []string{"read", "write", "export", "admin", "approve"} {
			ents = append(ents, "urn:acme:tenant:4711:app:"+app+":"+right)
		}
	}
	return ents
}

// newSessionBench signs a user with about 1.5 KB of custom claims in at a
// fake provider, so that the session (tokens and claims as JSON) is about
// 2 KB, and captures the cookies both stores set for it. store is
// nihttp's session store (nil: the default cookie store); opts adjust the
// client's Config (its telemetry providers, which nihttp takes too).
func newSessionBench(tb testing.TB, store nihttp.SessionStore, opts ...func(*nextidentity.Config)) *sessionBench {
	tb.Helper()
	fixed := time.Now().Truncate(time.Second)
	now := func() time.Time { return fixed }
	app := "https://app.example"
	srv := nextidentitytest.NewServer(nextidentitytest.Options{
		Clients: []nextidentitytest.Client{{ID: "bench", Secret: "bench-secret", RedirectURIs: []string{app + "/callback"}}},
		Users: []nextidentitytest.User{{
			Email: "bench@example.com", Password: "pw", Name: "Bench User", EmailVerified: true,
			Claims: map[string]any{"entitlements": benchEntitlements()},
		}},
		Now: now,
	})
	tb.Cleanup(srv.Close)
	cfg := srv.Config()
	cfg.ClientID, cfg.ClientSecret, cfg.RedirectURL, cfg.Now = "bench", "bench-secret", app+"/callback", now
	for _, o := range opts {
		o(&cfg)
	}
	client, err := nextidentity.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Close() })
	key := make([]byte, nihttp.KeySize)
	rand.Read(key)
	h, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{key}, Now: now, Store: store})
	if err != nil {
		tb.Fatal(err)
	}

	// Sign in through the handlers, as a browser would.
	w := httptest.NewRecorder()
	h.Login(w, httptest.NewRequest(http.MethodGet, app+"/login", nil))
	login := w.Result()
	q, err := srv.Login(context.Background(), login.Header.Get("Location"), "bench@example.com", "pw")
	if err != nil {
		tb.Fatal(err)
	}
	cb := httptest.NewRequest(http.MethodGet, app+"/callback?"+q.Encode(), nil)
	for _, c := range login.Cookies() {
		cb.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.Callback(w, cb)
	if w.Code != http.StatusFound {
		tb.Fatalf("callback: %d %s", w.Code, w.Body)
	}
	b := &sessionBench{h: h, nihttpR: httptest.NewRequest(http.MethodGet, app+"/", nil)}
	for _, c := range w.Result().Cookies() {
		if strings.Contains(c.Name, "session") && c.MaxAge > 0 {
			b.nihttpR.AddCookie(c)
		}
	}
	s, err := h.Session(httptest.NewRecorder(), b.nihttpR)
	if err != nil {
		tb.Fatal(err)
	}
	if b.payload, err = json.Marshal(s); err != nil {
		tb.Fatal(err)
	}

	// gorilla/sessions: the same bytes in a CookieStore with a hash key
	// and an AES-256 block key (authenticated and encrypted, like nihttp).
	hashKey, blockKey := make([]byte, 32), make([]byte, 32)
	rand.Read(hashKey)
	rand.Read(blockKey)
	b.gorilla = sessions.NewCookieStore(hashKey, blockKey)
	for _, c := range b.gorilla.Codecs {
		// securecookie's default 4096 would refuse the same payload.
		c.(*securecookie.SecureCookie).MaxLength(16 << 10)
	}
	gs, err := b.gorilla.New(httptest.NewRequest(http.MethodGet, app+"/", nil), "session")
	if err != nil {
		tb.Fatal(err)
	}
	gs.Values["s"] = b.payload
	w = httptest.NewRecorder()
	if err := gs.Save(httptest.NewRequest(http.MethodGet, app+"/", nil), w); err != nil {
		tb.Fatal(err)
	}
	b.gorillR = httptest.NewRequest(http.MethodGet, app+"/", nil)
	for _, c := range w.Result().Cookies() {
		b.gorillR.AddCookie(c)
	}
	return b
}

// nihttpLoad is one request's session load with nihttp's cookie store.
func (b *sessionBench) nihttpLoad() (*nihttp.Session, error) {
	return b.h.Session(discard{}, b.nihttpR)
}

// gorillaLoad is one request's session load with gorilla/sessions, the
// payload decoded into the same Session type.
func (b *sessionBench) gorillaLoad() (*nihttp.Session, error) {
	gs, err := b.gorilla.New(b.gorillR, "session")
	if err != nil {
		return nil, err
	}
	var s nihttp.Session
	raw, _ := gs.Values["s"].([]byte)
	return &s, json.Unmarshal(raw, &s)
}

// discard is a ResponseWriter that writes nowhere (a load writes no cookie
// unless the session is touched or refreshed, which the fixed clock rules
// out).
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func TestSessionStoresLoadTheSamePayload(t *testing.T) {
	b := newSessionBench(t, nil)
	if n := len(b.payload); n < 1800 || n > 2600 {
		t.Fatalf("session payload is %d bytes, want about 2 KB", n)
	}
	a, err := b.nihttpLoad()
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.gorillaLoad()
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != g.ID || a.Token.AccessToken != g.Token.AccessToken || a.Token.IDToken.Email != g.Token.IDToken.Email {
		t.Fatalf("the stores disagree: %+v vs %+v", a, g)
	}
	var claims struct{ Entitlements []string }
	if err := a.Token.IDToken.Claims(&claims); err != nil || len(claims.Entitlements) != len(benchEntitlements()) {
		t.Fatalf("custom claim lost: %v %d", err, len(claims.Entitlements))
	}
}

// BenchmarkSessionLoad is the per-request cost of loading a 2 KB session
// from a sealed cookie: nihttp's default store vs gorilla/sessions'
// CookieStore, same payload, same run.
func BenchmarkSessionLoad(b *testing.B) {
	sb := newSessionBench(b, nil)
	b.Run("nihttp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sb.nihttpLoad(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(sb.nihttpR.Header.Get("Cookie"))), "cookie-bytes")
	})
	b.Run("gorilla", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sb.gorillaLoad(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(sb.gorillR.Header.Get("Cookie"))), "cookie-bytes")
	})
}

// BenchmarkSessionLoadMemory is BenchmarkSessionLoad's nihttp cell with
// the session in a MemoryStore (the cookie carries only its ID).
func BenchmarkSessionLoadMemory(b *testing.B) {
	sb := newSessionBench(b, nihttp.NewMemoryStore())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sb.nihttpLoad(); err != nil {
			b.Fatal(err)
		}
	}
}
