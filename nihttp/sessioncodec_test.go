package nihttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
)

// signedSession is a session whose RawIDToken carries exactly the verified
// claims, as after a sign-in: the claims are then stored once.
func signedSession(t testing.TB, extra map[string]any) *nihttp.Session {
	t.Helper()
	s := storetest.NewSession(t, "user-1", "sid-1")
	tok := storetest.NewTokenWithClaims(t, "user-1", "sid-1", extra)
	var st struct {
		Claims json.RawMessage `json:"claims"`
	}
	js, err := json.Marshal(tok.IDToken)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &st))
	tok.RawIDToken = "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(st.Claims) + ".c2lnbmF0dXJl"
	s.Token = tok
	return s
}

func TestSessionBinaryRoundTrip(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		s    func(t *testing.T) *nihttp.Session
	}{
		{"claims in the raw ID token", func(t *testing.T) *nihttp.Session { return signedSession(t, nil) }},
		{"claims not the raw ID token's", func(t *testing.T) *nihttp.Session { return storetest.NewSession(t, "user-2", "sid-2") }},
		{"no raw ID token", func(t *testing.T) *nihttp.Session {
			s := storetest.NewSession(t, "user-3", "")
			s.Token.RawIDToken = ""
			return s
		}},
		{"no ID token", func(t *testing.T) *nihttp.Session {
			s := storetest.NewSession(t, "user-4", "sid-4")
			s.Token.IDToken = nil
			return s
		}},
		{"no token", func(t *testing.T) *nihttp.Session {
			s := storetest.NewSession(t, "user-5", "sid-5")
			s.Token = nil
			return s
		}},
		{"zero session", func(*testing.T) *nihttp.Session { return &nihttp.Session{} }},
		{"auth time of the ID token", func(t *testing.T) *nihttp.Session {
			s := signedSession(t, nil)
			s.AuthTime = s.Token.IDToken.AuthTime // kept once, in the ID token
			return s
		}},
		{"auth time other than the ID token's", func(t *testing.T) *nihttp.Session {
			s := signedSession(t, nil)
			s.AuthTime = s.Token.IDToken.AuthTime.Add(-time.Hour) // a refresh's ID token said otherwise
			return s
		}},
		{"auth time without a token", func(t *testing.T) *nihttp.Session {
			s := storetest.NewSession(t, "user-7", "")
			s.Token, s.AuthTime = nil, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			return s
		}},
		{"auth time without an ID token", func(t *testing.T) *nihttp.Session {
			s := storetest.NewSession(t, "user-6", "")
			s.Token.IDToken, s.AuthTime = nil, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			return s
		}},
		{"zones and nanoseconds", func(t *testing.T) *nihttp.Session {
			s := signedSession(t, map[string]any{"entitlements": []string{"a", "b"}})
			s.CreatedAt = time.Date(2026, 12, 1, 9, 0, 0, 123456789, paris)
			s.LastSeen = time.Date(1969, 7, 20, 20, 17, 40, 1, time.UTC) // before the epoch
			s.IdleExpiresAt = time.Time{}
			s.Token.Expiry = time.Date(2026, 12, 1, 9, 0, 0, 999999999, time.FixedZone("", -(9*3600+30*60)))
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s(t)
			bin, err := s.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, byte(1), bin[0], "the leading version byte")
			var got nihttp.Session
			require.NoError(t, got.UnmarshalBinary(bin))
			storetest.RequireSameSession(t, s, &got)
			require.True(t, s.LastSeen.Equal(got.LastSeen))
			require.True(t, s.IdleExpiresAt.Equal(got.IdleExpiresAt))
			require.True(t, s.AuthTime.Equal(got.AuthTime), "AuthTime %v, want %v", got.AuthTime, s.AuthTime)
			if s.Token != nil {
				require.Equal(t, s.Token.RawIDToken, got.Token.RawIDToken)
				require.Equal(t, s.Token.Scope, got.Token.Scope)
				require.Equal(t, s.Token.TokenType, got.Token.TokenType)
			}
			again, err := got.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, bin, again, "decoding and encoding again changes nothing")
		})
	}
}

// The verified claims and the raw ID token are the same bytes after a
// sign-in: the encoding keeps them once.
func TestSessionBinaryStoresClaimsOnce(t *testing.T) {
	big := map[string]any{"entitlements": strings.Repeat("z", 2000)}
	once := signedSession(t, big)
	twice := signedSession(t, big)
	twice.Token.RawIDToken = "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"user-1","other":"`+strings.Repeat("z", 2000)+`"}`)) + ".c2ln"
	a, err := once.MarshalBinary()
	require.NoError(t, err)
	b, err := twice.MarshalBinary()
	require.NoError(t, err)
	require.Less(t, len(a), len(once.Token.RawIDToken)+400, "the claims are stored once")
	require.Greater(t, len(b), 2*2000, "different claims are both kept")

	var got nihttp.Session
	require.NoError(t, got.UnmarshalBinary(a))
	var cl map[string]any
	require.NoError(t, got.Token.IDToken.Claims(&cl))
	require.Equal(t, strings.Repeat("z", 2000), cl["entitlements"])
	require.Equal(t, once.Token.RawIDToken, got.Token.RawIDToken, "id_token_hint is still there")
}

func TestSessionBinaryRefusesGarbage(t *testing.T) {
	bin, err := signedSession(t, nil).MarshalBinary()
	require.NoError(t, err)
	for n := range len(bin) {
		var s nihttp.Session
		require.Error(t, s.UnmarshalBinary(bin[:n]), "truncated to %d bytes", n)
	}
	for name, b := range map[string][]byte{
		"other version":      append([]byte{2}, bin[1:]...),
		"trailing byte":      append(bytes.Clone(bin), 0),
		"unknown flag":       append([]byte{1, 0x7f}, bin[2:]...),
		"too large":          append(bytes.Clone(bin), make([]byte, 1<<20)...),
		"length past end":    {1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"varint overflow":    {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"bad nanoseconds":    {1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"bad zone":           {1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0},
		"claims flag no tok": {1, 4, 0, 0, 0, 0, 0, 0, 0},
	} {
		var s nihttp.Session
		require.Error(t, s.UnmarshalBinary(b), name)
		require.Equal(t, nihttp.Session{}, s, "%s: a failed decode leaves the session alone", name)
	}
}

// goldenKey and goldenNow open testdata/session-json.cookie, sealed by the
// cookie store of commit db08d1a, before the binary encoding.
var goldenKey = func() []byte {
	k := make([]byte, nihttp.KeySize)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

func goldenNow() time.Time { return time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC) }

func TestCookieStoreReadsEarlierCookies(t *testing.T) {
	raw, err := os.ReadFile("testdata/session-json.cookie")
	require.NoError(t, err)
	value := strings.TrimSpace(string(raw))
	st, err := nihttp.NewCookieStoreForTest(goldenNow, goldenKey)
	require.NoError(t, err)
	ctx := context.Background()

	s, err := st.Load(ctx, value)
	require.NoError(t, err, "a cookie sealed by the previous encoding still opens")
	require.Equal(t, "golden-session-id-0123456789abcdef", s.ID)
	require.Equal(t, "user-golden", s.Subject)
	require.Equal(t, "sid-golden", s.SID)
	require.Equal(t, "at-golden", s.Token.AccessToken)
	require.Equal(t, "rt-golden", s.Token.RefreshToken)
	require.Empty(t, s.Token.RawIDToken, "the cookie store never kept it")
	require.True(t, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Equal(s.Token.Expiry))
	require.True(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC).Equal(s.CreatedAt))
	require.Equal(t, "Jane Doe", s.Token.IDToken.Name)
	var cl struct{ Entitlements []string }
	require.NoError(t, s.Token.IDToken.Claims(&cl))
	require.Equal(t, []string{"app:billing:read", "app:billing:write", "app:reports:read"}, cl.Entitlements)

	// Saved again (the next activity write), it moves to the new encoding.
	v2, err := st.Save(ctx, s, time.Hour)
	require.NoError(t, err)
	require.Less(t, len(v2), len(value))
	s2, err := st.Load(ctx, v2)
	require.NoError(t, err)
	storetest.RequireSameSession(t, s, s2)

	// With another key, or once expired, it ends cleanly.
	other, err := nihttp.NewCookieStoreForTest(goldenNow, make([]byte, nihttp.KeySize))
	require.NoError(t, err)
	_, err = other.Load(ctx, value)
	require.ErrorIs(t, err, nihttp.ErrNoSession)
	late, err := nihttp.NewCookieStoreForTest(func() time.Time { return goldenNow().AddDate(101, 0, 0) }, goldenKey)
	require.NoError(t, err)
	_, err = late.Load(ctx, value)
	require.ErrorIs(t, err, nihttp.ErrNoSession)
}

// Payloads that open (sealed with the key) but are not sessions end the
// session cleanly: ErrNoSession, never a panic or a half-decoded session.
func TestCookieStoreRefusesBadPayloads(t *testing.T) {
	st, err := nihttp.NewCookieStoreForTest(goldenNow, goldenKey)
	require.NoError(t, err)
	bin, err := signedSession(t, nil).MarshalBinary()
	require.NoError(t, err)
	bomb := nihttp.AppendDeflateForTest([]byte{0x81}, make([]byte, 2<<20)) // 2 MiB of zeros in a few KB
	short := nihttp.AppendDeflateForTest([]byte{0x81}, bin)
	short[1]-- // states one byte less than the stream holds
	for name, payload := range map[string][]byte{
		"empty":             {},
		"unknown tag":       append([]byte{0x7e}, bin[1:]...),
		"truncated binary":  bin[:len(bin)/2],
		"zip bomb":          bomb,
		"stated too short":  short,
		"deflate garbage":   {0x81, 10, 1, 2, 3},
		"json without zero": []byte(`{"id":"x"}`),
		"json, no token":    []byte("{\"id\":\"x\"}\x00"),
	} {
		_, err := st.Load(context.Background(), nihttp.SealPayloadForTest(goldenNow, goldenKey, payload))
		require.ErrorIs(t, err, nihttp.ErrNoSession, name)
	}
}

func TestInflateBounds(t *testing.T) {
	data := bytes.Repeat([]byte("entitlement:"), 100)
	z := nihttp.AppendDeflateForTest(nil, data)
	require.Less(t, len(z), len(data)/4)
	got, err := nihttp.InflateForTest(z, len(data))
	require.NoError(t, err)
	require.Equal(t, data, got)
	_, err = nihttp.InflateForTest(z, len(data)-1)
	require.Error(t, err, "more than max")
	_, err = nihttp.InflateForTest(append(bytes.Clone(z), 0), len(data))
	require.Error(t, err, "bytes after the stream")
	_, err = nihttp.InflateForTest(z[:len(z)-1], len(data))
	require.Error(t, err, "truncated stream")
}

// FuzzSessionDecode feeds the cookie store's payload decoder (binary,
// compressed and the earlier JSON form) arbitrary bytes: it never panics,
// and whatever it accepts encodes and decodes again to the same session.
func FuzzSessionDecode(f *testing.F) {
	s := signedSession(f, map[string]any{"entitlements": []string{"app:a", "app:b"}})
	bin, err := s.MarshalBinary()
	require.NoError(f, err)
	f.Add(bin)
	f.Add(nihttp.AppendDeflateForTest([]byte{0x81}, bin))
	other, err := storetest.NewSession(f, "user-2", "").MarshalBinary()
	require.NoError(f, err)
	f.Add(other)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("{\"id\":\"x\",\"token\":{\"access_token\":\"a\"}}\x00"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		s, err := nihttp.DecodePayloadForTest(payload)
		if err != nil {
			return
		}
		bin, err := s.MarshalBinary()
		if err != nil {
			return // JSON-decoded sessions may hold values the binary form refuses (too large)
		}
		var again nihttp.Session
		require.NoError(t, again.UnmarshalBinary(bin))
		bin2, err := again.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, bin, bin2)
	})
}
