package redisstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// fuzzSession is a session sealed for the fuzz seeds.
func fuzzSession() *nihttp.Session {
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	return &nihttp.Session{ID: "FUZZSESSIONID234567ABCDEFG", Subject: "user-1", SID: "sid-1",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// FuzzOpen: the decoder of what Redis holds (openSession, everything Load
// does after its GET) and of the cookie value (splitCookie) take any
// bytes: they never panic, fail only with nihttp.ErrNoSession, and accept
// nothing but what seal and joinCookie wrote.
func FuzzOpen(f *testing.F) {
	s := fuzzSession()
	secretText := string(newSecret())
	secret, _ := decodeSecret(secretText)
	key := "nihttp:sess:" + idHash(s.ID)
	plain, err := encodeSession(s)
	if err != nil {
		f.Fatal(err)
	}
	good := seal(key, secret, fieldHash(subHashDomain, s.Subject), fieldHash(sidHashDomain, s.SID), plain)
	f.Add(good, joinCookie(s.ID, nihttp.StoreSecret(secretText)))
	f.Add([]byte(tombstone), s.ID)
	f.Add(plain, s.ID+".")            // the previous version's clear JSON
	f.Add(good[:minSealedLen], "a.b") // header, nonce and a tag's length only
	f.Add(append([]byte{sealVersion}, good[1:]...), "x"+secretText)
	f.Add([]byte{}, "")

	f.Fuzz(func(t *testing.T, value []byte, cookie string) {
		sess, err := openSession(key, s.ID, secret, bytes.Clone(value))
		switch {
		case err != nil:
			if !errors.Is(err, nihttp.ErrNoSession) || sess != nil {
				t.Fatalf("openSession: %v, %v", sess, err)
			}
		case sess.ID != s.ID:
			t.Fatalf("opened a session of another ID %q", sess.ID)
		case !bytes.Equal(value[:headerLen], good[:headerLen]):
			t.Fatalf("opened a value whose header was changed")
		}
		if id, sec, encoded, ok := splitCookie(cookie); ok {
			if !validID(id) || len(sec) != secretLen || joinCookie(id, nihttp.StoreSecret(encoded)) != cookie {
				t.Fatalf("splitCookie(%q) = %q, %x, %q", cookie, id, sec, encoded)
			}
		}
	})
}

// TestSealBindsKey: a value opens only under the key it was sealed for,
// with the secret it was sealed with.
func TestSealBindsKey(t *testing.T) {
	s := fuzzSession()
	secret, _ := decodeSecret(string(newSecret()))
	other, _ := decodeSecret(string(newSecret()))
	plain, err := encodeSession(s)
	if err != nil {
		t.Fatal(err)
	}
	key := "nihttp:sess:" + idHash(s.ID)
	v := seal(key, secret, fieldHash(subHashDomain, s.Subject), fieldHash(sidHashDomain, s.SID), plain)
	if got, err := open(key, secret, bytes.Clone(v)); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %v", err)
	}
	if _, err := open("nihttp:sess:"+idHash("another"), secret, bytes.Clone(v)); !errors.Is(err, nihttp.ErrNoSession) {
		t.Fatalf("opened under another key: %v", err)
	}
	if _, err := open(key, other, bytes.Clone(v)); !errors.Is(err, nihttp.ErrNoSession) {
		t.Fatalf("opened with another secret: %v", err)
	}
	if bytes.Contains(v, plain[:20]) || bytes.Contains(v, []byte(s.ID)) {
		t.Fatal("the sealed value shows the session")
	}
}

// TestAEADCache: a secret's sealing key is derived once and reused; the
// cache stays within aeadCacheSize, and what it returns seals as newAEAD's
// key does.
func TestAEADCache(t *testing.T) {
	secret, _ := decodeSecret(string(newSecret()))
	a := aeadFor(secret)
	if aeadFor(secret) != a {
		t.Fatal("the key was derived again")
	}
	nonce := make([]byte, nonceLen)
	if !bytes.Equal(a.Seal(nil, nonce, []byte("x"), nil), newAEAD(secret).Seal(nil, nonce, []byte("x"), nil)) {
		t.Fatal("the cached key is not the derived key")
	}
	for range aeadCacheSize + 10 {
		s, _ := decodeSecret(string(newSecret()))
		aeadFor(s)
	}
	aeads.Lock()
	n := len(aeads.m)
	aeads.Unlock()
	if n > aeadCacheSize {
		t.Fatalf("cache holds %d keys", n)
	}
}
