// Command bench compares the cost of verifying one ID token with
// github.com/oidc-kit/nextidentity, with github.com/coreos/go-oidc/v3, and
// with a hand-written minimum (the "floor"), in one process, on the same
// token, for RS256 (2048-bit), ES256 and HS256.
//
//	cd internal/bench && go run . [-benchtime 500ms] [-count 9]
//
// It lives in its own module so the library's go.mod never depends on
// go-oidc. See README.md for the columns and the last recorded results.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// Algs compared, in table order.
var algs = []string{"RS256", "ES256", "HS256"}

// Verifier names, in table order.
const (
	nameFloor = "floor"
	nameLib   = "nextidentity"
	nameOIDC  = "go-oidc"
)

const (
	clientID = "client-1"
	secret   = "secret-1-0123456789abcdef0123456789abcdef"
	nonce    = "n-0S6_WzA2Mj"
	leeway   = time.Minute
)

// now is the fixed clock every verifier uses.
var now = time.Unix(1610052530, 0)

// env is one provider (discovery and JWKS on loopback), its keys, a token per
// alg, and the three verifiers configured against it.
type env struct {
	srv    *httptest.Server
	issuer string
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	tokens map[string]string
	lib    *nextidentity.Client
	remote *oidc.RemoteKeySet
}

func newEnv() (*env, error) {
	e := &env{tokens: map[string]string{}}
	var err error
	if e.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if e.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(map[string]any{"keys": []fakecore.JWK{
		fakecore.MustPublicJWK(&e.rsa.PublicKey, "rsa1", "RS256", "sig"),
		fakecore.MustPublicJWK(&e.ec.PublicKey, "ec1", "ES256", "sig"),
	}})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                e.issuer,
			"authorization_endpoint":                e.issuer + "/authorize",
			"token_endpoint":                        e.issuer + "/token",
			"userinfo_endpoint":                     e.issuer + "/userinfo",
			"jwks_uri":                              e.issuer + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "HS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	e.srv = httptest.NewServer(mux)
	e.issuer = e.srv.URL

	claims := map[string]any{
		"iss":            e.issuer,
		"sub":            "b30647ef-7f03-4ce1-ae91-9476e49d0605",
		"aud":            clientID,
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"nonce":          nonce,
		"name":           "John Smith",
		"email":          "john.smith@example.com",
		"email_verified": true,
		"updated_at":     "2021-01-07 20:44:35.176625 +0000",
	}
	for _, alg := range algs {
		if e.tokens[alg], err = e.sign(alg, claims); err != nil {
			e.Close()
			return nil, err
		}
	}

	ctx := context.Background()
	e.lib, err = nextidentity.New(ctx, e.libConfig())
	if err != nil {
		e.Close()
		return nil, err
	}
	e.remote = oidc.NewRemoteKeySet(ctx, e.issuer+"/jwks")
	return e, nil
}

// libConfig configures nextidentity's verifier for this provider.
func (e *env) libConfig() nextidentity.Config {
	return nextidentity.Config{
		Issuer:       e.issuer,
		ClientID:     clientID,
		ClientSecret: secret,
		RedirectURL:  "http://127.0.0.1:9999/callback",
		SigningAlgs:  algs,
		Leeway:       leeway,
		Now:          func() time.Time { return now },
	}
}

// Close stops the client and the provider.
func (e *env) Close() {
	if e.lib != nil {
		_ = e.lib.Close()
	}
	e.srv.Close()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sign makes a compact JWS by hand, so no verifier's own library signs the
// token it checks.
func (e *env) sign(alg string, claims map[string]any) (string, error) {
	return e.signTyped(alg, "JWT", claims)
}

// signTyped is sign with the given "typ" header.
func (e *env) signTyped(alg, typ string, claims map[string]any) (string, error) {
	hdr := map[string]any{"alg": alg, "typ": typ}
	switch alg {
	case "RS256":
		hdr["kid"] = "rsa1"
	case "ES256":
		hdr["kid"] = "ec1"
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64(h) + "." + b64(p)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, e.rsa, crypto.SHA256, digest[:])
	case "ES256":
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, e.ec, digest[:]); err == nil {
			sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}
	case "HS256":
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(signed))
		sig = m.Sum(nil)
	default:
		err = fmt.Errorf("sign: unsupported alg %s", alg)
	}
	if err != nil {
		return "", err
	}
	return signed + "." + b64(sig), nil
}

// profile is the claim set a go-oidc user decodes with IDToken.Claims to get
// what nextidentity's IDToken already carries (its Profile fields). updated_at
// is kept as the provider's string: go-oidc has no parser for its format.
type profile struct {
	Name                string `json:"name"`
	GivenName           string `json:"given_name"`
	FamilyName          string `json:"family_name"`
	Email               string `json:"email"`
	EmailVerified       bool   `json:"email_verified"`
	PhoneNumber         string `json:"phone_number"`
	PhoneNumberVerified bool   `json:"phone_number_verified"`
	Locale              string `json:"locale"`
	UpdatedAt           string `json:"updated_at"`
}

// verifier verifies one token and returns its subject.
type verifier struct {
	name   string
	verify func(ctx context.Context, raw string) (string, error)
}

// verifiers returns the floor, nextidentity and go-oidc verifiers for alg,
// each checking the signature with the one key of that alg, iss, aud, exp,
// iat (floor and nextidentity; go-oidc does not check iat) and the nonce.
func (e *env) verifiers(alg string) []verifier {
	return []verifier{
		{nameFloor, e.floor(alg)},
		{nameLib, func(ctx context.Context, raw string) (string, error) {
			tok, err := e.lib.VerifyIDToken(ctx, raw, nonce)
			if err != nil {
				return "", err
			}
			return tok.Subject, nil
		}},
		{nameOIDC, e.goOIDC(alg)},
	}
}

// goOIDC is go-oidc's documented use: IDTokenVerifier.Verify, the caller's
// nonce comparison, then IDToken.Claims for the profile claims. RS256 and
// ES256 keys come from a RemoteKeySet on the same JWKS URL as nextidentity's.
// go-oidc has no HS256 support of its own; for HS256 it gets a KeySet that
// verifies with the client secret through go-jose, as an app would write.
func (e *env) goOIDC(alg string) func(context.Context, string) (string, error) {
	var ks oidc.KeySet = e.remote
	if alg == "HS256" {
		ks = hmacKeySet(secret)
	}
	v := oidc.NewVerifier(e.issuer, ks, &oidc.Config{
		ClientID:             clientID,
		SupportedSigningAlgs: []string{alg},
		Now:                  func() time.Time { return now },
	})
	return func(ctx context.Context, raw string) (string, error) {
		tok, err := v.Verify(ctx, raw)
		if err != nil {
			return "", err
		}
		if tok.Nonce != nonce {
			return "", errors.New("go-oidc: nonce mismatch")
		}
		var p profile
		if err := tok.Claims(&p); err != nil {
			return "", err
		}
		return tok.Subject, nil
	}
}

// hmacKeySet is an oidc.KeySet for HS256 tokens keyed by the client secret.
type hmacKeySet []byte

func (k hmacKeySet) VerifySignature(_ context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return nil, err
	}
	return jws.Verify([]byte(k))
}

// floorClaims is the least the floor decodes: the claims it checks.
type floorClaims struct {
	Iss   string          `json:"iss"`
	Sub   string          `json:"sub"`
	Aud   json.RawMessage `json:"aud"`
	Exp   int64           `json:"exp"`
	Iat   int64           `json:"iat"`
	Nonce string          `json:"nonce"`
}

type floorHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

var errFloor = errors.New("floor: token rejected")

// floor is the hand-written minimum for alg: split, decode and check the
// header's alg and kid, one signature check with the known key, decode the
// checked claims, compare iss/aud/exp/iat/sub/nonce. It has no key lookup,
// no cache, no error detail and no profile claims.
func (e *env) floor(alg string) func(context.Context, string) (string, error) {
	var check func(signed string, sig []byte) bool
	wantKid := ""
	switch alg {
	case "RS256":
		wantKid = "rsa1"
		pub := &e.rsa.PublicKey
		check = func(signed string, sig []byte) bool {
			d := sha256.Sum256([]byte(signed))
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
		}
	case "ES256":
		wantKid = "ec1"
		pub := &e.ec.PublicKey
		check = func(signed string, sig []byte) bool {
			if len(sig) != 64 {
				return false
			}
			d := sha256.Sum256([]byte(signed))
			var der [72]byte
			return ecdsa.VerifyASN1(pub, d[:], asn1Sig(der[:0], sig[:32], sig[32:]))
		}
	case "HS256":
		key := []byte(secret)
		check = func(signed string, sig []byte) bool {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(signed))
			var sum [sha256.Size]byte
			return hmac.Equal(m.Sum(sum[:0]), sig)
		}
	}
	issuer := e.issuer
	return func(_ context.Context, raw string) (string, error) {
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			return "", errFloor
		}
		hb, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			return "", errFloor
		}
		var h floorHeader
		if json.Unmarshal(hb, &h) != nil || h.Alg != alg || h.Kid != wantKid {
			return "", errFloor
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || !check(raw[:len(parts[0])+1+len(parts[1])], sig) {
			return "", errFloor
		}
		pb, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return "", errFloor
		}
		var c floorClaims
		if json.Unmarshal(pb, &c) != nil {
			return "", errFloor
		}
		t := now.Unix()
		lw := int64(leeway / time.Second)
		if c.Iss != issuer || !audContains(c.Aud, clientID) || c.Sub == "" ||
			t >= c.Exp+lw || c.Iat > t+lw || c.Nonce != nonce {
			return "", errFloor
		}
		return c.Sub, nil
	}
}

// audContains handles both forms of aud: a plain string literal is compared
// in place; an array is decoded.
func audContains(raw json.RawMessage, id string) bool {
	if len(raw) > 1 && raw[0] == '"' {
		in := raw[1 : len(raw)-1]
		if bytes.IndexByte(in, '\\') < 0 {
			return string(in) == id
		}
	}
	var l []string
	if json.Unmarshal(raw, &l) != nil {
		var s string
		return json.Unmarshal(raw, &s) == nil && s == id
	}
	return slices.Contains(l, id)
}

// asn1Sig appends the DER ECDSA-Sig-Value of the big-endian r and s.
func asn1Sig(dst, r, s []byte) []byte {
	r, s = trimZeros(r), trimZeros(s)
	lr, ls := len(r)+boolInt(r[0]&0x80 != 0), len(s)+boolInt(s[0]&0x80 != 0)
	dst = append(dst, 0x30, byte(2+lr+2+ls))
	for _, v := range [][]byte{r, s} {
		dst = append(dst, 0x02, byte(len(v)+boolInt(v[0]&0x80 != 0)))
		if v[0]&0x80 != 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, v...)
	}
	return dst
}

func trimZeros(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// run is one testing.Benchmark measurement of one verifier.
type run struct {
	wall, cpu, bytes, allocs float64 // per op
	n                        int
}

// measure runs v on raw once with testing.Benchmark. Besides the wall-clock
// ns/op that testing reports, it takes the process CPU time per op over the
// loop (GC and other runtime threads included): on a shared machine, time
// spent waiting for a CPU inflates the first but not the second.
func measure(v verifier, raw string) (run, error) {
	ctx := context.Background()
	var failed error
	var cpu float64
	br := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		n, c0 := 0, cpuTime()
		for b.Loop() {
			if _, err := v.verify(ctx, raw); err != nil {
				failed = err
				b.FailNow()
			}
			n++
		}
		if n > 0 {
			cpu = float64(cpuTime()-c0) / float64(n)
		}
	})
	if failed != nil {
		return run{}, failed
	}
	if br.N == 0 {
		return run{}, errors.New("benchmark did not run")
	}
	wall := float64(br.T.Nanoseconds()) / float64(br.N)
	if cpu <= 0 { // no CPU clock on this platform
		cpu = wall
	}
	return run{
		wall:   wall,
		cpu:    cpu,
		bytes:  float64(br.AllocedBytesPerOp()),
		allocs: float64(br.AllocsPerOp()),
		n:      br.N,
	}, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cell is the summary of one verifier's rounds for one alg. Ratios are
// medians of the per-round ratios, so a slow round slows all three cells.
type cell struct {
	wall, cpu, spread, bytes, allocs float64 // medians; spread: (max-min)/median of cpu
	vsFloor, vsOIDC                  float64 // CPU time ratios
	vsFloorWall, vsOIDCWall          float64 // wall time ratios
}

// Targets (see README.md).
const (
	targetAsymFloor   = 1.15 // RS256/ES256 time <= 1.15 x floor
	targetAsymSpeedup = 1.5  // RS256/ES256 >= 1.5 x faster than go-oidc
	targetAsymAllocs  = 0.5  // RS256/ES256 allocs <= 0.5 x go-oidc's
	targetHSFloor     = 2.0  // HS256 time <= 2 x floor
)

func main() {
	if kind := os.Getenv(serveEnv); kind != "" { // a server of the proxy table
		if err := serveChild(kind); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", kind+":", err)
			os.Exit(1)
		}
		return
	}
	testing.Init()
	benchtime := flag.String("benchtime", "500ms", "testing benchtime of each measurement (a duration, or Nx)")
	rounds := flag.Int("count", 9, "rounds; each round measures floor, nextidentity and go-oidc once, in turn")
	table := flag.String("table", "all", `"id" (ID tokens), "access" (JWT access tokens), "proxy" (a signed-in request beside oauth2-proxy) or "all" (id and access)`)
	requests := flag.Int("requests", 4000, "proxy table: measured requests per target and round")
	concurrency := flag.Int("concurrency", 16, "proxy table: requests in flight")
	proxyRounds := flag.Int("proxy-rounds", 5, "proxy table: rounds")
	starts := flag.Int("starts", 5, "proxy table: process starts per target for the start-up column")
	peer := flag.String("oauth2-proxy", "", "proxy table: an oauth2-proxy binary (default: built once from the Go module proxy)")
	flag.Parse()
	if *table == "proxy" {
		ctx := context.Background()
		bin, err := ensureOAuth2Proxy(ctx, *peer, os.Stderr)
		if err == nil {
			err = proxyTable(ctx, proxyOptions{Requests: max(*requests, 100), Concurrency: max(*concurrency, 1),
				Rounds: max(*proxyRounds, 1), Starts: max(*starts, 1), Peer: bin, Out: os.Stdout})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *table != "id" && *table != "access" && *table != "all" {
		fmt.Fprintln(os.Stderr, errNoTable, *table)
		os.Exit(2)
	}
	if err := flag.Set("test.benchtime", *benchtime); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if *rounds < 1 {
		*rounds = 1
	}
	e, err := newEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer e.Close()

	if *table == "access" {
		report(accessTokenTable(e, *benchtime, *rounds))
		return
	}

	// Every verifier must accept every token before anything is timed; this
	// also fills the JWKS caches, so the loops make no request.
	ctx := context.Background()
	for _, alg := range algs {
		for _, v := range e.verifiers(alg) {
			if _, err := v.verify(ctx, e.tokens[alg]); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s %s rejects the token: %v\n", alg, v.name, err)
				os.Exit(1)
			}
		}
	}

	fmt.Printf("verifying one ID token; %s; benchtime %s x %d interleaved rounds, medians\n\n", machine(), *benchtime, *rounds)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "alg\tverifier\tcpu ns/op\twall ns/op\tspread\tB/op\tallocs/op\ttime/floor\ttime/go-oidc\tallocs/go-oidc\t")
	var summary []string
	ok := true
	for _, alg := range algs {
		vs := e.verifiers(alg)
		runs := make([][]run, len(vs)) // [verifier][round]
		for range *rounds {
			for i, v := range vs {
				r, err := measure(v, e.tokens[alg])
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s %s failed while measured: %v\n", alg, v.name, err)
					os.Exit(1)
				}
				runs[i] = append(runs[i], r)
			}
		}
		// vs is floor, nextidentity, go-oidc in that order.
		cells := make([]cell, len(vs))
		for i := range vs {
			var wall, cpu, bs, as, vf, vo, vfw, vow []float64
			for k, r := range runs[i] {
				wall = append(wall, r.wall)
				cpu = append(cpu, r.cpu)
				bs = append(bs, r.bytes)
				as = append(as, r.allocs)
				vf = append(vf, r.cpu/runs[0][k].cpu)
				vo = append(vo, r.cpu/runs[2][k].cpu)
				vfw = append(vfw, r.wall/runs[0][k].wall)
				vow = append(vow, r.wall/runs[2][k].wall)
			}
			m := median(cpu)
			cells[i] = cell{wall: median(wall), cpu: m, spread: (slices.Max(cpu) - slices.Min(cpu)) / m,
				bytes: median(bs), allocs: median(as),
				vsFloor: median(vf), vsOIDC: median(vo), vsFloorWall: median(vfw), vsOIDCWall: median(vow)}
		}
		oidcAllocs := cells[2].allocs
		for i, v := range vs {
			c := cells[i]
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t±%.0f%%\t%.0f\t%.0f\t%.2fx\t%.2fx\t%s\t\n",
				alg, v.name, c.cpu, c.wall, 50*c.spread, c.bytes, c.allocs, c.vsFloor, c.vsOIDC, ratio(c.allocs, oidcAllocs))
		}
		lib := cells[1]
		vsFloor, speedup, allocs := lib.vsFloor, 1/lib.vsOIDC, lib.allocs/oidcAllocs
		if alg == "HS256" {
			met := vsFloor <= targetHSFloor
			ok = ok && met
			summary = append(summary, fmt.Sprintf("%s: %.2fx floor (target <= %.1fx, %s) [wall: %.2fx]",
				alg, vsFloor, targetHSFloor, verdict(met), lib.vsFloorWall))
			continue
		}
		m1, m2, m3 := vsFloor <= targetAsymFloor, speedup >= targetAsymSpeedup, allocs <= targetAsymAllocs
		ok = ok && m1 && m2 && m3
		summary = append(summary, fmt.Sprintf("%s: %.2fx floor (target <= %.2fx, %s); %.2fx faster than go-oidc (target >= %.1fx, %s); %.2fx go-oidc's allocs (target <= %.1fx, %s) [wall: %.2fx floor, %.2fx faster]",
			alg, vsFloor, targetAsymFloor, verdict(m1), speedup, targetAsymSpeedup, verdict(m2), allocs, targetAsymAllocs, verdict(m3),
			lib.vsFloorWall, 1/lib.vsOIDCWall))
	}
	_ = tw.Flush()
	fmt.Println()
	for _, s := range summary {
		fmt.Println(s)
	}
	if *table == "all" {
		ok = accessTokenTable(e, *benchtime, *rounds) && ok
	}
	report(ok)
}

func report(ok bool) {
	if ok {
		fmt.Println("summary: all targets met")
	} else {
		fmt.Println("summary: some targets MISSED (see above)")
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

// machine describes where the numbers came from.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %s, GOMAXPROCS %d", cpu, runtime.Version(), runtime.GOMAXPROCS(0))
}
