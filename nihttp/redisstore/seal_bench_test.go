package redisstore

import (
	"bytes"
	"strings"
	"testing"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// BenchmarkDecode is BenchmarkLoad without Redis: the CPU a load spends on
// what the GET returned, for a session of about 2 KB. "sealed" is
// openSession (the ID's hash, HKDF, AES-GCM, decoding); "clear" is the
// decoding alone, as the store did before sessions were sealed.
func BenchmarkDecode(b *testing.B) {
	s := fuzzSession()
	s.Subject = strings.Repeat("s", 1800) // about 2 KB encoded
	secretText := newSecret()
	secret, _ := decodeSecret(string(secretText))
	key := "nihttp:sess:" + idHash(s.ID)
	plain, err := encodeSession(s)
	if err != nil {
		b.Fatal(err)
	}
	sealed := seal(key, secret, fieldHash(subHashDomain, s.Subject), fieldHash(sidHashDomain, s.SID), plain)
	cookie := joinCookie(s.ID, secretText)
	b.Run("sealed", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, len(sealed))
		for b.Loop() {
			copy(buf, sealed) // the GET's fresh bytes
			id, sec, _, ok := splitCookie(cookie)
			if !ok {
				b.Fatal("cookie")
			}
			if _, err := openSession("nihttp:sess:"+idHash(id), id, sec, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clear", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, len(plain))
		for b.Loop() {
			copy(buf, plain)
			var got nihttp.Session
			if err := decodeSession(buf, &got); err != nil || got.ID != s.ID {
				b.Fatal(err)
			}
		}
	})
	if bytes.Contains(sealed, []byte(s.Subject[:32])) {
		b.Fatal("the sealed value shows the session")
	}
}
