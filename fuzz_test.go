package nextidentity

// Native fuzz targets. Seeds come from testdata/ (recorded provider bodies and
// the documented id_token, see the docs) plus tokens signed at start-up with
// the test provider's keys, which are random per process and so cannot be
// stored. Each target checks its results against an independent oracle
// written here, not against the code under test.
//
//	go test -run='^$' -fuzz='^FuzzVerifyIDToken$' -fuzztime=10s .

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// The fuzz client's fixed identity. The issuer is not the test provider's
// loopback URL (its port changes every run) so that the HS256 tokens stored
// in testdata/idtokens stay valid; every endpoint is configured, so the client
// never asks for discovery.
const (
	fuzzIssuer   = "https://id.example.com"
	fuzzClientID = "client-1" // testprovider's client
	fuzzSecret   = "secret-1" // testprovider's secret, keys HS* tokens
	fuzzNonce    = "yMLsS49XhyEcxJESP9YEN2QetYrVWVzPxJAvF7wkaDLWAn9PyK"
	fuzzState    = "af0ifjsldkj"
	fuzzCode     = "SplxlOBeZQQYbYS6WxSbIA"
	fuzzVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// fuzzNow is one minute after the documented token's iat; its exp
// (1611262130) is two weeks later.
var fuzzNow = time.Unix(1610052590, 0)

type fuzzEnv struct {
	p *testprovider.Provider
	c *Client
}

// newFuzzEnv starts a test provider and a client for it with a fixed clock
// and every algorithm allowed, so all verification paths are reachable.
func newFuzzEnv(tb testing.TB, edit func(*Config)) *fuzzEnv {
	tb.Helper()
	p := testprovider.New(tb)
	require.Equal(tb, fuzzClientID, p.ClientID)
	require.Equal(tb, fuzzSecret, p.Secret)
	p.Issuer = fuzzIssuer // set before the first request; used by Discovery only
	cfg := Config{
		Issuer:                fuzzIssuer,
		ClientID:              fuzzClientID,
		ClientSecret:          fuzzSecret,
		RedirectURL:           "http://127.0.0.1:9999/callback",
		AuthorizationEndpoint: p.URL + testprovider.PathAuthorize,
		TokenEndpoint:         p.URL + testprovider.PathToken,
		UserInfoEndpoint:      p.URL + testprovider.PathUserInfo,
		JWKSURL:               p.URL + testprovider.PathJWKS,
		SigningAlgs:           slices.Clone(supportedAlgs),
		Now:                   func() time.Time { return fuzzNow },
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(context.Background(), cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return &fuzzEnv{p: p, c: c}
}

// claims are valid claims for the fuzz client.
func (e *fuzzEnv) claims() map[string]any {
	cl := e.p.Claims(fuzzNow.Add(-time.Minute), fuzzNonce)
	cl["iss"] = fuzzIssuer
	return cl
}

// freshTokens signs valid tokens with every published key, and checks that
// the client accepts them (so a target that never succeeds is noticed).
func (e *fuzzEnv) freshTokens(tb testing.TB) []string {
	tb.Helper()
	cl := e.claims()
	withHash := e.claims()
	withHash["at_hash"] = testprovider.AtHash("rb5bzkygqs5ahevp")
	withHash["aud"] = []string{"other", fuzzClientID}
	withHash["azp"] = fuzzClientID
	toks := []string{
		testprovider.Sign("RS256", e.p.RSA, cl, nil),
		testprovider.Sign("PS256", e.p.PS, cl, nil),
		testprovider.Sign("ES256", e.p.EC, cl, nil),
		testprovider.Sign("EdDSA", e.p.Ed, cl, nil),
		testprovider.Sign("ES256", e.p.EC, withHash, map[string]any{"kid": nil}),
		testprovider.SignHS("HS256", fuzzSecret, cl),
		testprovider.SignHS("HS256", fuzzSecret, withHash),
	}
	for _, raw := range toks {
		_, err := e.c.VerifyIDToken(context.Background(), raw, fuzzNonce)
		require.NoError(tb, err, "fresh token must verify: %s", raw)
	}
	return toks
}

// checkVerify is the invariant of every VerifyIDToken call: an error wraps
// ErrInvalidIDToken; a success is a token that an independent verifier
// accepts too.
func (e *fuzzEnv) checkVerify(t *testing.T, raw, nonce string, tok *IDToken, err error) {
	t.Helper()
	if err != nil {
		require.ErrorIs(t, err, ErrInvalidIDToken)
		require.Nil(t, tok)
		return
	}
	require.NotNil(t, tok)
	e.requireGenuine(t, raw, nonce, tok)
}

// requireGenuine re-checks an accepted token from scratch, with the standard
// library only: strict base64url, the header and claims decoded into maps
// (claim names are case-sensitive, RFC 7515 section 4 / RFC 7519 section 4),
// the signature recomputed with the provider's public keys or the client
// secret, and the OpenID Connect Core 3.1.3.7 claim checks.
func (e *fuzzEnv) requireGenuine(t *testing.T, raw, nonce string, tok *IDToken) {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3, "accepted token is not three segments")
	strict := base64.RawURLEncoding.Strict()
	hdrJSON, err := strict.DecodeString(parts[0])
	require.NoError(t, err, "accepted token: header is not strict base64url")
	payload, err := strict.DecodeString(parts[1])
	require.NoError(t, err, "accepted token: payload is not strict base64url")
	sig, err := strict.DecodeString(parts[2])
	require.NoError(t, err, "accepted token: signature is not strict base64url")

	var hdr map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(hdrJSON, &hdr), "accepted token: header %q is not a JSON object", hdrJSON)
	alg, ok := jsonString(hdr["alg"])
	require.True(t, ok, "accepted token: header %s has no string \"alg\"", hdrJSON)
	require.True(t, slices.Contains(supportedAlgs, alg), "accepted token: alg %q", alg)
	_, hasCrit := hdr["crit"]
	require.False(t, hasCrit, "accepted token: header %s has crit", hdrJSON)
	kid := ""
	if v, ok := hdr["kid"]; ok && string(v) != "null" {
		kid, ok = jsonString(v)
		require.True(t, ok, "accepted token: kid %s is not a string", v)
	}
	require.True(t, e.signatureValid(alg, kid, parts[0]+"."+parts[1], sig),
		"accepted token: signature does not verify independently (alg %q, kid %q)", alg, kid)

	var cl map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(payload, &cl), "accepted token: payload %q is not a JSON object", payload)
	iss, _ := jsonString(cl["iss"])
	require.Equal(t, fuzzIssuer, iss, "accepted token: \"iss\" claim, payload %s", payload)
	require.Equal(t, fuzzIssuer, tok.Issuer)

	var auds []string
	if a, ok := jsonString(cl["aud"]); ok {
		auds = []string{a}
	} else {
		require.NoError(t, json.Unmarshal(cl["aud"], &auds), "accepted token: \"aud\" claim, payload %s", payload)
	}
	require.Contains(t, auds, fuzzClientID, "accepted token: \"aud\" claim, payload %s", payload)
	require.Contains(t, tok.Audience, fuzzClientID)
	azp := ""
	if v, ok := cl["azp"]; ok && string(v) != "null" {
		azp, ok = jsonString(v)
		require.True(t, ok, "accepted token: azp %s is not a string", v)
	}
	if len(auds) > 1 || azp != "" {
		require.Equal(t, fuzzClientID, azp, "accepted token: \"azp\" claim, payload %s", payload)
	}

	sub, _ := jsonString(cl["sub"])
	require.NotEmpty(t, sub, "accepted token: \"sub\" claim, payload %s", payload)
	require.Equal(t, sub, tok.Subject)

	leeway := e.c.leeway.Seconds()
	now := float64(fuzzNow.Unix())
	exp, ok := jsonNumber(cl["exp"])
	require.True(t, ok, "accepted token: \"exp\" claim is not a number, payload %s", payload)
	require.Less(t, now, exp+leeway+1, "accepted token: expired, payload %s", payload)
	iat, ok := jsonNumber(cl["iat"])
	require.True(t, ok, "accepted token: \"iat\" claim is not a number, payload %s", payload)
	require.LessOrEqual(t, iat, now+leeway+1, "accepted token: issued in the future, payload %s", payload)
	require.False(t, tok.Expiry.IsZero())

	if nonce != "" {
		got, _ := jsonString(cl["nonce"])
		require.Equal(t, nonce, got, "accepted token: \"nonce\" claim, payload %s", payload)
		require.Equal(t, nonce, tok.Nonce)
	}

	// The claims the caller can read back are the signed payload.
	var back map[string]any
	require.NoError(t, tok.Claims(&back))
	_ = tok.VerifyAccessToken("rb5bzkygqs5ahevp") // must not panic
}

// jsonString decodes a JSON string; ok is false for anything else.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonNumber decodes a JSON number; ok is false for anything else.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

func algHash(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return crypto.SHA512
	}
	return crypto.SHA256
}

func hashFunc(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.SHA384:
		return sha512.New384
	case crypto.SHA512:
		return sha512.New
	}
	return sha256.New
}

// signatureValid verifies sig over input with the client secret (HS*) or one
// of the keys the provider publishes whose kid and JWK alg fit.
func (e *fuzzEnv) signatureValid(alg, kid, input string, sig []byte) bool {
	if strings.HasPrefix(alg, "HS") {
		m := hmac.New(hashFunc(algHash(alg)), []byte(fuzzSecret))
		m.Write([]byte(input))
		return hmac.Equal(m.Sum(nil), sig)
	}
	h := hashFunc(algHash(alg))()
	h.Write([]byte(input))
	digest := h.Sum(nil)
	for _, k := range []*testprovider.Key{e.p.RSA, e.p.PS, e.p.EC, e.p.Ed} {
		if k.Alg != alg || (kid != "" && kid != k.KID) {
			continue
		}
		switch pub := k.Private.Public().(type) {
		case *rsa.PublicKey:
			var err error
			if strings.HasPrefix(alg, "PS") {
				err = rsa.VerifyPSS(pub, algHash(alg), digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
			} else {
				err = rsa.VerifyPKCS1v15(pub, algHash(alg), digest, sig)
			}
			if err == nil {
				return true
			}
		case *ecdsa.PublicKey:
			size := (pub.Curve.Params().BitSize + 7) / 8
			if len(sig) == 2*size && ecdsa.Verify(pub, digest,
				new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])) {
				return true
			}
		case ed25519.PublicKey:
			if ed25519.Verify(pub, []byte(input), sig) {
				return true
			}
		}
	}
	return false
}

// seedFiles returns the files matching pattern (sorted), by base name.
func seedFiles(tb testing.TB, pattern string) (names []string, data [][]byte) {
	tb.Helper()
	paths, err := filepath.Glob(pattern)
	require.NoError(tb, err)
	require.NotEmpty(tb, paths, "no seed files match %s", pattern)
	slices.Sort(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(tb, err)
		names = append(names, filepath.Base(p))
		data = append(data, b)
	}
	return names, data
}

// seedLines returns the lines of a seed file, without line endings.
func seedLines(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(tb, sc.Err())
	return lines
}

// FuzzVerifyIDToken verifies arbitrary strings.
func FuzzVerifyIDToken(f *testing.F) {
	env := newFuzzEnv(f, nil)
	for _, raw := range env.freshTokens(f) {
		f.Add(raw, true)
		f.Add(raw[:len(raw)-2]+"AA", true)
	}
	_, files := seedFiles(f, "testdata/idtokens/*.jwt")
	for _, b := range files {
		f.Add(strings.TrimSpace(string(b)), true)
		f.Add(strings.TrimSpace(string(b)), false)
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "e30.e30.", ".e30.e30", "e30.."} {
		f.Add(s, false)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string, checkNonce bool) {
		nonce := ""
		if checkNonce {
			nonce = fuzzNonce
		}
		tok, err := env.c.VerifyIDToken(ctx, raw, nonce)
		env.checkVerify(t, raw, nonce, tok, err)
	})
}

// FuzzVerifyIDTokenSegments mutates the decoded header and payload of valid
// tokens and signs the result again, so that the claim checks behind the
// signature are reached. signer picks the key: the client secret (HS* as the
// header asks, else HS256), the provider's EC, Ed25519, RSA or RSA-PSS key,
// a stale signature, or none.
func FuzzVerifyIDTokenSegments(f *testing.F) {
	env := newFuzzEnv(f, nil)
	strict := base64.RawURLEncoding.Strict()
	addSplit := func(raw string, signer uint8) {
		parts := strings.Split(strings.TrimSpace(raw), ".")
		if len(parts) != 3 {
			return
		}
		h, err1 := strict.DecodeString(parts[0])
		p, err2 := strict.DecodeString(parts[1])
		if err1 == nil && err2 == nil {
			f.Add(h, p, signer, true)
		}
	}
	for i, raw := range env.freshTokens(f) {
		addSplit(raw, []uint8{12, 13, 6, 9, 7, 0, 1}[i])
	}
	_, files := seedFiles(f, "testdata/idtokens/*.jwt")
	for _, b := range files {
		addSplit(string(b), 0)
		addSplit(string(b), 14)
	}
	stale := strings.Split(env.freshTokens(f)[0], ".")[2]
	staleSig, err := strict.DecodeString(stale)
	require.NoError(f, err)

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, header, payload []byte, signer uint8, checkNonce bool) {
		input := strict.EncodeToString(header) + "." + strict.EncodeToString(payload)
		sig := env.sign(t, signer, header, input, staleSig)
		raw := input + "." + strict.EncodeToString(sig)
		nonce := ""
		if checkNonce {
			nonce = fuzzNonce
		}
		tok, err := env.c.VerifyIDToken(ctx, raw, nonce)
		env.checkVerify(t, raw, nonce, tok, err)
	})
}

// sign signs input as signer (see FuzzVerifyIDTokenSegments) chooses. RSA is
// slow, so it gets 2 of 16 choices.
func (e *fuzzEnv) sign(t *testing.T, signer uint8, header []byte, input string, stale []byte) []byte {
	var (
		m   jwt.SigningMethod
		key any
	)
	switch signer % 16 {
	case 0, 1, 2, 3, 4, 5:
		var hdr struct{ Alg string }
		_ = json.Unmarshal(header, &hdr)
		m = jwt.SigningMethodHS256
		if hdr.Alg == "HS384" || hdr.Alg == "HS512" {
			m = jwt.GetSigningMethod(hdr.Alg)
		}
		key = []byte(fuzzSecret)
	case 6, 7, 8:
		m, key = jwt.SigningMethodES256, e.p.EC.Private
	case 9, 10, 11:
		m, key = jwt.SigningMethodEdDSA, e.p.Ed.Private
	case 12:
		m, key = jwt.SigningMethodRS256, e.p.RSA.Private
	case 13:
		m, key = jwt.SigningMethodPS256, e.p.PS.Private
	case 14:
		return stale
	default:
		return nil
	}
	sig, err := m.Sign(input, key)
	require.NoError(t, err)
	return sig
}

// fuzzTransport answers every request with the response set in it, without
// any network. Fuzz functions run sequentially within a worker.
type fuzzTransport struct {
	status      int
	contentType string
	body        []byte
	hits        int
}

func (ft *fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ft.hits++
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := http.Header{}
	h.Set("Content-Type", ft.contentType)
	return &http.Response{
		Status:        strconv.Itoa(ft.status) + " " + http.StatusText(ft.status),
		StatusCode:    ft.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(ft.body)),
		ContentLength: int64(len(ft.body)),
		Request:       r,
	}, nil
}

// fuzzBodyLimit is the client's MaxResponseBytes in FuzzErrorBody, small so
// that ErrResponseTooLarge is reachable.
const fuzzBodyLimit = 4096

// FuzzErrorBody feeds provider responses to the error mapping, directly and
// through the token and userinfo requests (over an in-memory transport).
func FuzzErrorBody(f *testing.F) {
	ft := &fuzzTransport{}
	env := newFuzzEnv(f, func(cfg *Config) {
		cfg.HTTPClient = &http.Client{Transport: ft}
		cfg.MaxResponseBytes = fuzzBodyLimit
	})
	names, files := seedFiles(f, "testdata/bodies/*")
	for i, name := range names {
		status, err := strconv.Atoi(strings.SplitN(name, "-", 2)[0])
		require.NoError(f, err, "seed body %s: name must start with the status", name)
		ct := map[string]string{
			".json": "application/json",
			".html": "text/html; charset=utf-8",
			".txt":  "text/plain",
		}[filepath.Ext(name)]
		f.Add(status, ct, files[i])
	}
	f.Add(200, "application/json", bytes.Repeat([]byte("x"), fuzzBodyLimit+1))
	f.Add(400, "application/json", []byte(`{"error":"invalid_request","error_description":"`+strings.Repeat("a", 600)+`"}`))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		// The mapper itself, with any status.
		o := readBody(body)
		isErrObj := o.isErr
		e := providerError("token", status, body)
		if isErrObj {
			require.NotNil(t, e, "HTTP %d body %q is an error object", status, body)
		}
		if status < 200 || status >= 300 {
			require.NotNil(t, e, "HTTP %d is not a success", status)
		}
		if e != nil {
			checkProviderError(t, e, "token", status, body)
		} else {
			// A success body that is no error object but cannot be decoded.
			me := malformed("token", status, body, errors.New("cause"))
			checkProviderError(t, me, "token", status, body)
			require.ErrorIs(t, me, ErrMalformedResponse)
		}

		// The same response over HTTP.
		ft.status = 100 + int(uint(status)%500)
		if ft.status < 200 {
			ft.status += 100 // 1xx responses are informational, never final
		}
		ft.contentType, ft.body = contentType, body
		tr, err := env.c.tokenRequest(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {fuzzCode}})
		checkHTTPResult(t, err, ft.status, body, isErrObj)
		if err == nil {
			require.NotEmpty(t, tr.AccessToken)
		}
		ui, err := env.c.UserInfo(ctx, &Token{AccessToken: "rb5bzkygqs5ahevp"})
		checkHTTPResult(t, err, ft.status, body, isErrObj)
		if err == nil {
			require.NotEmpty(t, ui.Subject)
		}
	})
}

// bodyOracle is what a response body reports, read independently of the
// library: a JSON object whose "stat" is "error" or whose "error" has a
// non-empty value reports an error, whatever its other members hold. Names
// match exactly: JSON member names are case-sensitive, so "Error" is not
// "error".
type bodyOracle struct {
	isErr bool
	code  string // the "error" member
	stat  string // the "stat" member
}

func readBody(body []byte) bodyOracle {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return bodyOracle{}
	}
	var o bodyOracle
	// Any non-null value counts, bounded and cleaned like every excerpt: a
	// member of an unexpected type must not hide the error.
	text := func(raw json.RawMessage) string {
		if s, ok := jsonString(raw); ok {
			return excerpt([]byte(s))
		}
		if len(raw) == 0 || string(raw) == "null" {
			return ""
		}
		return excerpt(raw)
	}
	o.stat, o.code = text(m["stat"]), text(m["error"])
	o.isErr = o.stat == "error" || o.code != ""
	return o
}

// maxFixedErrorLen bounds Error() apart from the provider's own error code
// and description: endpoint, status, cause and body excerpt.
const maxFixedErrorLen = 1024

func checkProviderError(t *testing.T, e *Error, endpoint string, status int, body []byte) {
	t.Helper()
	require.NotNil(t, e)
	if o := readBody(body); o.isErr {
		// The provider's error survives whatever else the body holds.
		require.Equal(t, o.code, e.Code, "body %q", body)
		require.Equal(t, o.stat, e.Stat, "body %q", body)
	}
	require.Equal(t, endpoint, e.Endpoint)
	require.Equal(t, status, e.StatusCode)
	require.True(t, e.Code != "" || e.Stat == "error" || errors.Is(e, ErrMalformedResponse),
		"an *Error must carry the provider's error or wrap ErrMalformedResponse: %#v", e)
	require.LessOrEqual(t, len(e.Body), excerptLen)
	require.True(t, utf8.ValidString(e.Body), "excerpt %q is not UTF-8", e.Body)
	require.False(t, strings.ContainsFunc(e.Body, func(r rune) bool { return r < 0x20 || r == 0x7f }),
		"excerpt %q holds control characters", e.Body)
	msg := e.Error()
	require.LessOrEqual(t, len(msg)-len(e.Code)-len(e.Description), maxFixedErrorLen,
		"Error() is %d bytes for a %d-byte body", len(msg), len(body))
	if e.Code == "" && e.Description == "" {
		require.LessOrEqual(t, len(msg), maxFixedErrorLen)
	}
	require.Equal(t, e.Code == "invalid_request", errors.Is(e, ErrInvalidRequest))
	require.Equal(t, status == http.StatusUnauthorized || e.Code == "http_exception" || e.Code == "invalid_token",
		errors.Is(e, ErrUnauthorized))
}

// checkHTTPResult checks what a token or userinfo request returned for a
// response with this status and body.
func checkHTTPResult(t *testing.T, err error, status int, body []byte, isErrObj bool) {
	t.Helper()
	if len(body) > fuzzBodyLimit {
		require.ErrorIs(t, err, ErrResponseTooLarge)
		var pe *Error
		require.False(t, errors.As(err, &pe), "a body over the limit is not parsed")
		require.Less(t, len(err.Error()), 256)
		return
	}
	if status < 200 || status >= 300 || isErrObj {
		require.Error(t, err, "HTTP %d body %q must fail", status, body)
	}
	if err == nil {
		return
	}
	var pe *Error
	require.ErrorAs(t, err, &pe, "HTTP %d body %q: %v", status, body, err)
	require.Equal(t, status, pe.StatusCode)
	checkProviderError(t, pe, pe.Endpoint, status, body)
}

const providerLayout = "2006-01-02 15:04:05.000000 -0700"

// Unix seconds of 0000-01-01T00:00:00Z, the earliest four-digit year.
const minYear0Unix = -62167219200

// FuzzUpdatedAt parses arbitrary "updated_at" values, and round-trips times
// built from (sec, nsec, offsetMinutes) through the provider's layout.
func FuzzUpdatedAt(f *testing.F) {
	for i, line := range seedLines(f, "testdata/updated_at.txt") {
		f.Add([]byte(line), int64(1610052275+i*86400*97), uint32(176625000+i), int16(i*37-300))
	}
	f.Add([]byte(`"2021-01-07 20:44:35.176625 +0000"`), int64(minYear0Unix), uint32(999999999), int16(-1439))
	f.Add([]byte(`1610052275`), int64(maxUnix), uint32(0), int16(1439))
	f.Fuzz(func(t *testing.T, raw []byte, sec int64, nsec uint32, offMin int16) {
		got, err := parseUpdatedAt(raw)
		if err != nil {
			require.Zero(t, got)
			require.LessOrEqual(t, len(err.Error()), 1024)
		} else if !got.IsZero() && got.Year() >= 0 && got.Year() <= 9999 {
			// Whatever parses survives the client's own JSON form.
			b, err := json.Marshal(got.Format(time.RFC3339Nano))
			require.NoError(t, err)
			again, err := parseUpdatedAt(b)
			require.NoError(t, err, "re-parsing %s", b)
			require.True(t, got.Equal(again), "%s: %v then %v", b, got, again)
		}
		if json.Valid(raw) {
			var u updatedTime
			jerr := json.Unmarshal(raw, &u)
			require.Equal(t, err == nil, jerr == nil, "parseUpdatedAt: %v, json.Unmarshal: %v", err, jerr)
			if err == nil {
				require.True(t, got.Equal(u.Time))
			}
		}

		// Round trip of the provider's own format.
		span := uint64(maxUnix - minYear0Unix + 1)
		s := minYear0Unix + int64(uint64(sec)%span)
		ns := int64(nsec % 1e9)
		zone := time.FixedZone("NIT", int(offMin)%1440*60)
		want := time.Unix(s, ns/1000*1000).In(zone)
		if y := want.Year(); y < 0 || y > 9999 {
			return // not four digits in the zone
		}
		for _, in := range []string{
			strconv.Quote(time.Unix(s, ns).In(zone).Format(providerLayout)),
			strconv.Quote(want.Format(time.RFC3339Nano)),
			strconv.Quote(want.Format("2006-01-02 15:04:05.999999999 -0700 MST")),
		} {
			back, err := parseUpdatedAt([]byte(in))
			require.NoError(t, err, in)
			require.True(t, want.Equal(back), "%s: want %v, got %v", in, want, back)
			_, offset := back.Zone()
			_, wantOffset := want.Zone()
			require.Equal(t, wantOffset, offset, "%s keeps its offset", in)
		}
		// NumericDate form.
		back, err := parseUpdatedAt([]byte(strconv.FormatInt(s, 10)))
		if s < 0 {
			require.Error(t, err)
		} else {
			require.NoError(t, err)
			require.True(t, time.Unix(s, 0).Equal(back))
		}
		if s >= 0 {
			frac := strconv.FormatInt(s, 10) + "." + strconv.FormatInt(ns, 10)
			back, err := parseUpdatedAt([]byte(frac))
			require.NoError(t, err, frac)
			d := back.Sub(time.Unix(s, 0))
			require.True(t, d >= 0 && d <= time.Second, "%s parsed as %v", frac, back)
		}
	})
}

// FuzzCallback gives arbitrary callback queries to Exchange. Whatever the
// query, the callback checks run before any request: the token endpoint is
// called only for a callback with no error, the right state, a matching or
// absent iss, and one code.
func FuzzCallback(f *testing.F) {
	env := newFuzzEnv(f, nil)
	idToken := testprovider.SignHS("HS256", fuzzSecret, env.claims())
	var lastForm atomic.Pointer[url.Values]
	env.p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err == nil {
			form := r.PostForm
			lastForm.Store(&form)
		}
		testprovider.TokenResponse(idToken)(w, r)
	})
	for _, line := range seedLines(f, "testdata/callbacks.txt") {
		f.Add(line, uint8(0))
	}
	f.Add("state="+fuzzState+"&code="+fuzzCode, uint8(2))
	f.Add("state="+fuzzState+"&code="+fuzzCode, uint8(3))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, query string, reqKind uint8) {
		cb, _ := url.ParseQuery(query) // keeps what parsed before a bad escape
		var req *AuthRequest
		switch reqKind % 4 {
		case 0, 1:
			req = &AuthRequest{State: fuzzState, Nonce: fuzzNonce, CodeVerifier: fuzzVerifier}
		case 2:
			req = nil
		case 3:
			req = &AuthRequest{Nonce: fuzzNonce, CodeVerifier: fuzzVerifier}
		}
		lastForm.Store(nil)
		before := env.p.Count(testprovider.PathToken)
		tok, err := env.c.Exchange(ctx, cb, req)
		hits := env.p.Count(testprovider.PathToken) - before

		// The oracle, in the order Exchange documents.
		iss, issSent := cb["iss"]
		code := cb["code"]
		var want error
		switch {
		case cb.Has("error"):
			var pe *Error
			require.ErrorAs(t, err, &pe, "callback %q", query)
			require.Nil(t, tok)
			require.Equal(t, "authorize", pe.Endpoint)
			require.Equal(t, excerpt([]byte(firstNonEmpty(cb["error"]...))), pe.Code)
			require.Equal(t, excerpt([]byte(cb.Get("error_description"))), pe.Description)
			require.LessOrEqual(t, len(pe.Error()), 4*excerptLen, "error message is bounded")
			require.Zero(t, hits, "token endpoint called for an error callback %q", query)
			return
		case req == nil || req.State == "" || req.Nonce == "" || req.CodeVerifier == "":
			want = ErrIncompleteAuthRequest
		case len(cb["state"]) != 1 || cb["state"][0] != req.State:
			want = ErrStateMismatch
		case issSent && (len(iss) != 1 || iss[0] != fuzzIssuer):
			want = ErrIssuerMismatch
		case len(code) != 1 || code[0] == "":
			want = ErrMissingCode
		}
		if want != nil {
			require.ErrorIs(t, err, want, "callback %q", query)
			require.Nil(t, tok)
			require.Zero(t, hits, "token endpoint called for callback %q (want %v)", query, want)
			return
		}
		require.NoError(t, err, "callback %q", query)
		require.Equal(t, int64(1), hits)
		form := lastForm.Load()
		require.NotNil(t, form)
		require.Equal(t, code[0], form.Get("code"))
		require.Equal(t, fuzzVerifier, form.Get("code_verifier"))
		require.Equal(t, "authorization_code", form.Get("grant_type"))
		require.Equal(t, fuzzNonce, tok.IDToken.Nonce)
		require.Equal(t, "rb5bzkygqs5ahevp", tok.AccessToken)
	})
}
