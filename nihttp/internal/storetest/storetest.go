// Package storetest is the conformance suite for nihttp.ServerStore
// implementations: every server-side session store (nihttp.MemoryStore,
// redisstore.Store) runs Run against itself, so they behave alike.
package storetest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// ShortTTL is the time-to-live used where a case must see a session or a
// lock expire in real time: long enough that the store certainly still holds
// it on the next call, short enough to keep the suite quick.
const ShortTTL = 1500 * time.Millisecond

// expiryWait bounds how long a case waits for something given ShortTTL to
// expire.
const expiryWait = 15 * time.Second

// Run runs the conformance suite. newStore is called once per case, from
// the case's own (parallel) subtest, and must return an empty store that no
// other case shares.
func Run(t *testing.T, newStore func(t *testing.T) nihttp.ServerStore) {
	cases := []struct {
		name string
		run  func(t *testing.T, st nihttp.ServerStore)
	}{
		{"EndSessions", func(t *testing.T, _ nihttp.ServerStore) { testEndSessions(t, newStore) }},
		{"SaveLoadRoundTrip", testRoundTrip},
		{"SaveCopiesLoadReturnsCopies", testCopies},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"EndedIsNotSavedBack", testEndedNotSavedBack},
		{"LoadUnknown", testLoadUnknown},
		{"SaveWithExpiredTTL", testSaveExpired},
		{"TTLExpiry", testTTLExpiry},
		{"LockExclusive", testLockExclusive},
		{"LockExpiresAndStaleUnlock", testLockExpiry},
		{"EndSessionsNeedsSubjectOrSID", testEndSessionsEmpty},
		{"EndSessionsAfterDelete", testEndSessionsAfterDelete},
		{"Concurrent", testConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore(t))
		})
	}
}

// NewID returns a fresh session ID as the handlers make them: 128 random
// bits, base64url.
func NewID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewSession returns a session of user subject (with provider session sid,
// when not empty) holding a Token whose ID token carries standard and
// custom claims, as a restored, verified token does.
func NewSession(t testing.TB, subject, sid string) *nihttp.Session {
	t.Helper()
	created := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	return &nihttp.Session{
		ID:            NewID(t),
		Token:         NewToken(t, subject, sid),
		Subject:       subject,
		SID:           sid,
		CreatedAt:     created,
		ExpiresAt:     created.Add(14 * 24 * time.Hour),
		LastSeen:      created.Add(time.Minute),
		IdleExpiresAt: created.Add(time.Minute + 24*time.Hour),
	}
}

// NewToken returns a Token as the client returns it after a code exchange,
// built by decoding its JSON form (as a store restores it).
func NewToken(t testing.TB, subject, sid string) *nextidentity.Token {
	t.Helper()
	return NewTokenWithClaims(t, subject, sid, nil)
}

// NewTokenWithClaims is NewToken with extra (custom) claims in the ID
// token, to make sessions of a given size.
func NewTokenWithClaims(t testing.TB, subject, sid string, extra map[string]any) *nextidentity.Token {
	t.Helper()
	claims := map[string]any{
		"iss":            "https://id.example.com/",
		"sub":            subject,
		"aud":            "test-client",
		"iat":            1796194800,
		"exp":            1797404400,
		"auth_time":      1796194790,
		"nonce":          "n-0S6_WzA2Mj",
		"at_hash":        "77QmUPtjPfzWtF2AnpK9RQ",
		"name":           "Jane Doe",
		"email":          "jane@example.com",
		"email_verified": true,
		"updated_at":     "2020-12-14 21:22:11.304747 +0000",
		"custom": map[string]any{
			"tier":  "gold",
			"roles": []any{"admin", "editor"},
			"note":  "ünïcødé, \"quotes\" and <angle> & more",
		},
	}
	if sid != "" {
		claims["sid"] = sid
	}
	for k, v := range extra {
		claims[k] = v
	}
	idt, err := json.Marshal(map[string]any{"alg": "RS256", "claims": claims})
	require.NoError(t, err)
	raw := fmt.Sprintf(`{"access_token":"at-%[1]s","token_type":"Bearer","refresh_token":"rt-%[1]s",`+
		`"id_token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","expiry":"2026-12-02T08:00:00Z","scope":"openid profile email",`+
		`"id_token_claims":%[2]s}`, subject, idt)
	var tok nextidentity.Token
	require.NoError(t, json.Unmarshal([]byte(raw), &tok))
	require.NotNil(t, tok.IDToken)
	return &tok
}

// RequireSameSession fails t unless got is want after a round trip: equal
// JSON, and the ID token's claims (custom ones included) still readable.
func RequireSameSession(t testing.TB, want, got *nihttp.Session) {
	t.Helper()
	require.NotNil(t, got)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	gotJSON, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, string(wantJSON), string(gotJSON))
	require.True(t, want.CreatedAt.Equal(got.CreatedAt))
	require.True(t, want.ExpiresAt.Equal(got.ExpiresAt))
	require.True(t, want.Deadline().Equal(got.Deadline()))
	if want.Token == nil {
		return
	}
	require.NotNil(t, got.Token)
	require.Equal(t, want.Token.AccessToken, got.Token.AccessToken)
	require.Equal(t, want.Token.RefreshToken, got.Token.RefreshToken)
	require.True(t, want.Token.Expiry.Equal(got.Token.Expiry))
	if want.Token.IDToken == nil {
		return
	}
	require.NotNil(t, got.Token.IDToken)
	require.Equal(t, want.Token.IDToken.Subject, got.Token.IDToken.Subject)
	require.Equal(t, want.Token.IDToken.Profile, got.Token.IDToken.Profile)
	var wantClaims, gotClaims map[string]any
	require.NoError(t, want.Token.IDToken.Claims(&wantClaims))
	require.NoError(t, got.Token.IDToken.Claims(&gotClaims))
	require.Equal(t, wantClaims, gotClaims)
}
