package nihttp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newKey returns a fresh random sealing key.
func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// mustSealer is newSealer that fails the test on error.
func mustSealer(t testing.TB, keys ...[]byte) *sealer {
	t.Helper()
	s, err := newSealer(time.Now, keys...)
	require.NoError(t, err)
	return s
}

type sealedThing struct {
	A string `json:"a"`
	B int    `json:"b"`
}

func TestSealerRoundTrip(t *testing.T) {
	s := mustSealer(t, newKey(t))
	tests := []struct {
		name string
		in   any
		out  func() any
	}{
		{"struct", sealedThing{A: "hello", B: 42}, func() any { return new(sealedThing) }},
		{"string", "a value with spaces; and = signs", func() any { return new(string) }},
		{"empty string", "", func() any { return new(string) }},
		{"map", map[string]string{"s": "state", "n": "nonce"}, func() any { return &map[string]string{} }},
		{"unicode", "héllo wörld ✓", func() any { return new(string) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := s.seal("cookie", tc.in, time.Minute)
			require.NoError(t, err)
			require.NotEmpty(t, sealed)
			require.LessOrEqual(t, len(sealed), cookieChunk)
			// URL- and cookie-safe: base64url without padding.
			for _, r := range sealed {
				require.True(t, r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_',
					"sealed value contains %q", r)
			}
			out := tc.out()
			require.NoError(t, s.open("cookie", sealed, cookieChunk, out))
			// Compare through the pointer.
			switch p := out.(type) {
			case *sealedThing:
				require.Equal(t, tc.in, *p)
			case *string:
				require.Equal(t, tc.in, *p)
			case *map[string]string:
				require.Equal(t, tc.in, *p)
			default:
				t.Fatalf("unexpected type %T", out)
			}
		})
	}
}

func TestSealerSealsAreRandomised(t *testing.T) {
	s := mustSealer(t, newKey(t))
	v := sealedThing{A: "same", B: 1}
	seen := map[string]bool{}
	nonces := map[string]bool{}
	for range 20 {
		sealed, err := s.seal("cookie", v, time.Minute)
		require.NoError(t, err)
		require.False(t, seen[sealed], "two seals of the same value are identical")
		seen[sealed] = true
		raw, err := base64.RawURLEncoding.DecodeString(sealed)
		require.NoError(t, err)
		nonce := string(raw[1:13]) // version byte, then the 12-byte GCM nonce
		require.False(t, nonces[nonce], "nonce reused")
		nonces[nonce] = true

		var got sealedThing
		require.NoError(t, s.open("cookie", sealed, cookieChunk, &got))
		require.Equal(t, v, got)
	}
}

func TestNewSealerRejectsBadKeys(t *testing.T) {
	good := newKey(t)
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"no keys", nil},
		{"empty list", [][]byte{}},
		{"nil key", [][]byte{nil}},
		{"empty key", [][]byte{{}}},
		{"AES-128 sized", [][]byte{make([]byte, 16)}},
		{"AES-192 sized", [][]byte{make([]byte, 24)}},
		{"31 bytes", [][]byte{make([]byte, 31)}},
		{"33 bytes", [][]byte{make([]byte, 33)}},
		{"64 bytes", [][]byte{make([]byte, 64)}},
		{"good then short", [][]byte{good, make([]byte, 16)}},
		{"short then good", [][]byte{make([]byte, 16), good}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSealer(time.Now, tc.keys...)
			require.Error(t, err)
			require.Nil(t, s)
		})
	}

	t.Run("valid", func(t *testing.T) {
		s, err := newSealer(time.Now, good, newKey(t), newKey(t))
		require.NoError(t, err)
		require.NotNil(t, s)
	})
}

func TestSealerKeyRotation(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	oldSealer := mustSealer(t, oldKey)
	sealedOld, err := oldSealer.seal("cookie", "old value", time.Minute)
	require.NoError(t, err)

	rotating := mustSealer(t, newK, oldKey)
	newOnly := mustSealer(t, newK)

	// A value sealed with the old key still opens while the old key is kept.
	var got string
	require.NoError(t, rotating.open("cookie", sealedOld, cookieChunk, &got))
	require.Equal(t, "old value", got)

	// Once the old key is retired it no longer opens.
	got = ""
	err = newOnly.open("cookie", sealedOld, cookieChunk, &got)
	require.ErrorIs(t, err, ErrTampered)
	require.Empty(t, got)

	// The rotating Sealer seals with its first (new) key: the new-only Sealer
	// opens it, the old-only Sealer does not.
	sealedNew, err := rotating.seal("cookie", "new value", time.Minute)
	require.NoError(t, err)
	got = ""
	require.NoError(t, newOnly.open("cookie", sealedNew, cookieChunk, &got))
	require.Equal(t, "new value", got)
	require.ErrorIs(t, oldSealer.open("cookie", sealedNew, cookieChunk, &got), ErrTampered)

	// Key order matters for sealing only: newSealer(now, old, new) opens both.
	both := mustSealer(t, oldKey, newK)
	require.NoError(t, both.open("cookie", sealedNew, cookieChunk, &got))
	require.NoError(t, both.open("cookie", sealedOld, cookieChunk, &got))

	// An unrelated key opens nothing.
	require.ErrorIs(t, mustSealer(t, newKey(t)).open("cookie", sealedOld, cookieChunk, &got), ErrTampered)
}

func TestSealerBindsName(t *testing.T) {
	s := mustSealer(t, newKey(t))
	sealed, err := s.seal("ni_login", "v", time.Minute)
	require.NoError(t, err)
	for _, other := range []string{"ni_session", "", "ni_login ", "NI_LOGIN", "ni_logi"} {
		t.Run(other, func(t *testing.T) {
			var got string
			err := s.open(other, sealed, cookieChunk, &got)
			require.ErrorIs(t, err, ErrTampered)
			require.Empty(t, got)
		})
	}
	var got string
	require.NoError(t, s.open("ni_login", sealed, cookieChunk, &got))
	require.Equal(t, "v", got)
}

// TestSealerEveryByteFlip flips every bit of every byte of the decoded value
// (version, nonce, ciphertext, tag) in turn, one byte at a time.
func TestSealerEveryByteFlip(t *testing.T) {
	s := mustSealer(t, newKey(t), newKey(t)) // two keys: every key must refuse
	sealed, err := s.seal("cookie", sealedThing{A: "payload", B: 7}, time.Hour)
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	require.NoError(t, err)
	require.Greater(t, len(raw), 1+12+8+16)

	for i := range raw {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			mod := bytes.Clone(raw)
			mod[i] ^= mask
			enc := base64.RawURLEncoding.EncodeToString(mod)
			var got sealedThing
			require.NotPanics(t, func() { err = s.open("cookie", enc, cookieChunk, &got) })
			require.ErrorIs(t, err, ErrTampered, "byte %d ^ %#x was accepted", i, mask)
			require.Zero(t, got, "byte %d ^ %#x leaked a decoded value", i, mask)
		}
	}
}

func TestSealerMalformedInput(t *testing.T) {
	s := mustSealer(t, newKey(t))
	sealed, err := s.seal("cookie", sealedThing{A: "payload"}, time.Hour)
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	require.NoError(t, err)

	cases := map[string]string{
		"empty":                  "",
		"one char":               "A",
		"not base64":             "!!!not base64!!!",
		"padded base64":          sealed + "==",
		"std base64 alphabet":    strings.NewReplacer("-", "+", "_", "/").Replace(sealed) + "+/",
		"spaces":                 "  " + sealed,
		"version only":           base64.RawURLEncoding.EncodeToString([]byte{1}),
		"header only":            base64.RawURLEncoding.EncodeToString(raw[:13]),
		"no ciphertext":          base64.RawURLEncoding.EncodeToString(raw[:13+16]),
		"tag shorter than 8+16":  base64.RawURLEncoding.EncodeToString(raw[:1+12+16+7]),
		"version 0":              base64.RawURLEncoding.EncodeToString(append([]byte{0}, raw[1:]...)),
		"version 2":              base64.RawURLEncoding.EncodeToString(append([]byte{2}, raw[1:]...)),
		"zeros":                  base64.RawURLEncoding.EncodeToString(make([]byte, len(raw))),
		"appended byte":          base64.RawURLEncoding.EncodeToString(append(bytes.Clone(raw), 0)),
		"doubled":                sealed + sealed,
		"huge":                   strings.Repeat("A", cookieChunk+1),
		"huge valid-looking":     sealed + strings.Repeat("A", cookieChunk),
		"very huge":              strings.Repeat("A", 1<<20),
		"huge non base64":        strings.Repeat("!", 1<<16),
		"unicode":                "✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓",
		"sealed with other name": mustSeal(t, s, "other", sealedThing{A: "payload"}),
	}
	// Every truncation of the encoded value.
	for n := range len(sealed) {
		cases["truncated to "+strconv.Itoa(n)] = sealed[:n]
	}
	// Every truncation of the decoded value, re-encoded.
	for n := range len(raw) {
		cases["decoded truncated to "+strconv.Itoa(n)] = base64.RawURLEncoding.EncodeToString(raw[:n])
	}

	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			var got sealedThing
			var err error
			require.NotPanics(t, func() { err = s.open("cookie", in, cookieChunk, &got) })
			require.ErrorIs(t, err, ErrTampered)
			require.NotErrorIs(t, err, ErrExpired)
			require.Zero(t, got)
		})
	}
}

func mustSeal(t testing.TB, s *sealer, name string, v any) string {
	t.Helper()
	sealed, err := s.seal(name, v, time.Hour)
	require.NoError(t, err)
	return sealed
}

func TestSealerExpiry(t *testing.T) {
	s := mustSealer(t, newKey(t))
	tests := []struct {
		name    string
		ttl     time.Duration
		wantErr error
	}{
		{"long past", -24 * time.Hour, ErrExpired},
		{"a minute ago", -time.Minute, ErrExpired},
		{"two seconds ago", -2 * time.Second, ErrExpired},
		{"zero ttl", 0, ErrExpired},
		{"a minute ahead", time.Minute, nil},
		{"a year ahead", 365 * 24 * time.Hour, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := s.seal("cookie", sealedThing{A: "x"}, tc.ttl)
			require.NoError(t, err)
			var got sealedThing
			err = s.open("cookie", sealed, cookieChunk, &got)
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, "x", got.A)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			require.NotErrorIs(t, err, ErrTampered)
			require.Zero(t, got, "an expired value was decoded")
		})
	}

	t.Run("expired under a rotated key", func(t *testing.T) {
		oldKey := newKey(t)
		sealed, err := mustSealer(t, oldKey).seal("cookie", "x", -time.Minute)
		require.NoError(t, err)
		var got string
		require.ErrorIs(t, mustSealer(t, newKey(t), oldKey).open("cookie", sealed, cookieChunk, &got), ErrExpired)
	})
}

func TestSealerTooLarge(t *testing.T) {
	s := mustSealer(t, newKey(t))

	// Sealed layout: base64url(version(1) | nonce(12) | expiry(8) | JSON | tag(16)).
	// cookieChunk (3800) characters are 2850 bytes, so a JSON string of
	// 2850-37 = 2813 bytes (2811 characters plus quotes) fits exactly.
	const overhead = 1 + 12 + 8 + 16
	maxJSON := cookieChunk*3/4 - overhead
	fits := strings.Repeat("a", maxJSON-2)

	sealed, err := s.seal("cookie", fits, time.Minute)
	require.NoError(t, err)
	require.Len(t, sealed, cookieChunk)
	var got string
	require.NoError(t, s.open("cookie", sealed, cookieChunk, &got), "a value at exactly the limit must open")
	require.Equal(t, fits, got)

	// A longer value seals (callers bound their cookies), but opening it
	// with a cookie's limit refuses it before any decoding.
	for _, n := range []int{maxJSON - 1, 4096, 1 << 20} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			sealed, err := s.seal("cookie", strings.Repeat("a", n), time.Minute)
			require.NoError(t, err)
			require.Greater(t, len(sealed), cookieChunk)
			var got string
			require.ErrorIs(t, s.open("cookie", sealed, cookieChunk, &got), ErrTampered)
			require.Empty(t, got)
		})
	}
}

// sealByHand builds a sealed value in the documented format,
// base64url(version | nonce | GCM(expiry | JSON, AAD = name)), without
// Seal's size limit.
func sealByHand(t testing.TB, key []byte, name string, payload []byte, expiry time.Time) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	plain := binary.BigEndian.AppendUint64(nil, uint64(expiry.Unix()))
	plain = append(plain, payload...)
	out := make([]byte, 1+aead.NonceSize())
	out[0] = 1
	_, err = rand.Read(out[1:])
	require.NoError(t, err)
	out = aead.Seal(out, out[1:], plain, []byte(name))
	return base64.RawURLEncoding.EncodeToString(out)
}

func TestSealerRefusesOversizedAuthenticValue(t *testing.T) {
	key := newKey(t)
	s := mustSealer(t, key)

	// The hand-built format matches Seal's: a small value opens.
	var got string
	small := sealByHand(t, key, "cookie", []byte(`"ok"`), time.Now().Add(time.Minute))
	require.NoError(t, s.open("cookie", small, cookieChunk, &got))
	require.Equal(t, "ok", got)

	// An authentic value larger than cookieChunk is refused before any
	// decoding, as a browser would have dropped it anyway.
	big := sealByHand(t, key, "cookie", []byte(`"`+strings.Repeat("a", 4000)+`"`), time.Now().Add(time.Minute))
	require.Greater(t, len(big), cookieChunk)
	got = ""
	require.ErrorIs(t, s.open("cookie", big, cookieChunk, &got), ErrTampered)
	require.Empty(t, got)
}

func TestSealerUnencodableAndWrongType(t *testing.T) {
	s := mustSealer(t, newKey(t))

	_, err := s.seal("cookie", make(chan int), time.Minute)
	require.Error(t, err)

	// Authentic but of another type: refused as ErrTampered, not decoded.
	sealed := mustSeal(t, s, "cookie", []int{1, 2, 3})
	var got sealedThing
	require.ErrorIs(t, s.open("cookie", sealed, cookieChunk, &got), ErrTampered)
}

func TestSealerConcurrentUse(t *testing.T) {
	s := mustSealer(t, newKey(t), newKey(t))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				v := sealedThing{A: "x", B: i*1000 + j}
				sealed, err := s.seal("cookie", v, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				var got sealedThing
				if err := s.open("cookie", sealed, cookieChunk, &got); err != nil || got != v {
					t.Errorf("round trip: %v, %+v", err, got)
					return
				}
			}
		})
	}
	wg.Wait()
}
