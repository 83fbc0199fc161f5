package nihttp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// benchSession is a signed-in session with about 1.5 KB of entitlement
// claims, the size internal/bench compares with gorilla/sessions.
func benchSession(tb testing.TB) *Session {
	tb.Helper()
	var ents []string
	for _, app := range []string{"billing", "reports", "analytics", "crm", "inventory", "support", "payroll"} {
		for _, right := range []string{"read", "write", "export", "admin", "approve"} {
			ents = append(ents, `"urn:acme:tenant:4711:app:`+app+`:`+right+`"`)
		}
	}
	claims := `{"iss":"https://id.example.com/","sub":"0f4c1b0e-3c1a-4e55-9a55-6d1d8bb0e7a2","aud":"bench","iat":1796112000,` +
		`"exp":1796115600,"nonce":"n-0S6_WzA2Mj","name":"Bench User","email":"bench@example.com","email_verified":true,` +
		`"updated_at":"2020-12-14 21:22:11.304747 +0000","sid":"sid-1","entitlements":[` + strings.Join(ents, ",") + `]}`
	var tok nextidentity.Token
	raw := `{"access_token":"` + strings.Repeat("a", 43) + `","token_type":"Bearer","refresh_token":"` + strings.Repeat("r", 43) +
		`","expiry":"2026-12-01T09:00:00Z","scope":"openid profile email offline_access","id_token_claims":{"alg":"RS256","claims":` + claims + `}}`
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	return &Session{ID: "Xb2Wq8mN4tLp0sVz7yRk3c", Token: &tok, Subject: tok.IDToken.Subject, SID: "sid-1",
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), LastSeen: now, IdleExpiresAt: now.Add(time.Hour)}
}

// BenchmarkStoreLoad is one store's Load of benchSession: the cookie store
// with its cache of decoded sessions (every request of a user whose cookie
// has not changed), without it (the first request after each activity
// write, or another instance), and the MemoryStore.
func BenchmarkStoreLoad(b *testing.B) {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC) }
	s := benchSession(b)
	sl, err := newSealer(now, make([]byte, KeySize))
	if err != nil {
		b.Fatal(err)
	}
	cs := &cookieStore{sealer: sl, name: "__Host-nihttp_session", now: now}
	v, err := cs.Save(ctx, s, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cookie-cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cs.Load(ctx, v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(v)), "cookie-bytes")
	})
	b.Run("cookie-uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(cs.cache.m)
			if _, err := cs.Load(ctx, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memory", func(b *testing.B) {
		ms := NewMemoryStore()
		ms.now = now
		id, err := ms.Save(ctx, s, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ms.Load(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("binary-decode", func(b *testing.B) {
		bin, err := s.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var got Session
			if err := got.UnmarshalBinary(bin); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(bin)), "bytes")
	})
}
