package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	k := testKeys()
	rsa1 := jwk(t, k.rsa, "rsa1", "RS256", "sig")
	ec1 := jwk(t, k.p256, "ec1", "ES256", "")
	ec384 := jwk(t, k.p384, "ec384", "", "")
	ed1 := jwk(t, k.ed, "ed1", "EdDSA", "sig")

	for _, tc := range []struct {
		name        string
		body        []byte
		wantKIDs    []string // in document order
		wantSkipped []string // one substring per skipped key, in order
		wantErr     bool
	}{
		{
			name:     "rsa ec ed25519 load",
			body:     jwks(t, rsa1, ec1, ec384, ed1),
			wantKIDs: []string{"rsa1", "ec1", "ec384", "ed1"},
		},
		{
			name:        "malformed n skipped",
			body:        jwks(t, with(rsa1, "kid", "bad", "n", "!!not base64!!"), ec1),
			wantKIDs:    []string{"ec1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "rsa missing e skipped",
			body:        jwks(t, ec1, with(rsa1, "kid", "noe", "e", nil)),
			wantKIDs:    []string{"ec1"},
			wantSkipped: []string{"key 1"},
		},
		{
			name:        "ec point not on curve skipped",
			body:        jwks(t, with(ec1, "kid", "offcurve", "y", ec1["x"]), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "key that is not an object skipped",
			body:        []byte(`{"keys":["nope",` + string(mustJSON(t, rsa1)) + `]}`),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "use enc skipped",
			body:        jwks(t, jwk(t, k.rsa, "enc1", "", "enc"), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{`kid "enc1": use "enc" is not sig`},
		},
		{
			name:        "unregistered use skipped",
			body:        jwks(t, with(rsa1, "kid", "odd", "use", "both"), ec1),
			wantKIDs:    []string{"ec1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "oct key skipped",
			body:        jwks(t, octJWK("hmac", "HS256", "sig"), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{"key 0: "}, // jwkset itself refuses oct without private options
		},
		{
			name:        "1024-bit rsa skipped",
			body:        jwks(t, jwk(t, k.rsaWeak, "weak", "RS256", "sig"), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{`kid "weak": RSA key of 1024 bits is below 2048`},
		},
		{
			name:        "unknown kty skipped",
			body:        jwks(t, jwkMap{"kty": "XYZ", "kid": "xyz", "k": "AAAA"}, ed1),
			wantKIDs:    []string{"ed1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name:        "x25519 (key agreement) skipped",
			body:        jwks(t, jwk(t, k.x25519, "x1", "", ""), ed1),
			wantKIDs:    []string{"ed1"},
			wantSkipped: []string{`kid "x1": key type *ecdh.PublicKey`},
		},
		{
			name:        "unsupported curve skipped",
			body:        jwks(t, with(ec1, "kid", "k1", "crv", "secp256k1"), rsa1),
			wantKIDs:    []string{"rsa1"},
			wantSkipped: []string{"key 0"},
		},
		{
			name: "every kind of bad key skipped together, good ones load",
			body: jwks(t,
				with(rsa1, "kid", "bad", "n", "!!"),
				rsa1,
				jwk(t, k.rsa, "enc1", "", "enc"),
				ec1,
				octJWK("hmac", "", ""),
				jwk(t, k.rsaWeak, "weak", "", ""),
				jwkMap{"kty": "XYZ", "kid": "xyz"},
				ed1,
			),
			wantKIDs:    []string{"rsa1", "ec1", "ed1"},
			wantSkipped: []string{"key 0", "key 2", "key 4", "key 5", "key 6"},
		},
		{
			// Duplicate kids are not an error: both keys are kept under the
			// kid, and a lookup returns every one that fits the alg, so the
			// verifier tries them all.
			name:     "duplicate kids both kept",
			body:     jwks(t, rsa1, jwk(t, k.rsa, "rsa1", "", ""), with(ec1, "kid", "rsa1")),
			wantKIDs: []string{"rsa1", "rsa1", "rsa1"},
		},
		{name: "empty body", body: []byte(""), wantErr: true},
		{name: "not json", body: []byte("<html>nope</html>"), wantErr: true},
		{name: "json but keys not an array", body: []byte(`{"keys":{"kty":"RSA"}}`), wantErr: true},
		{name: "json array, not a set", body: []byte(`[{"kty":"RSA"}]`), wantErr: true},
		{name: "no keys member", body: []byte(`{}`), wantErr: true},
		{name: "null", body: []byte(`null`), wantErr: true},
		{name: "empty key list", body: jwks(t), wantErr: true},
		{
			name:        "only unusable keys",
			body:        jwks(t, jwk(t, k.rsa, "enc1", "", "enc"), jwk(t, k.rsaWeak, "weak", "", "")),
			wantErr:     true,
			wantSkipped: []string{"key 0", "key 1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, skipped, err := Parse(tc.body)
			require.Len(t, skipped, len(tc.wantSkipped), "skipped: %v", skipped)
			for i, want := range tc.wantSkipped {
				require.ErrorContains(t, skipped[i], want)
			}
			if tc.wantErr {
				require.Error(t, err)
				require.ErrorIs(t, err, ErrFetch)
				require.Nil(t, set)
				return
			}
			require.NoError(t, err)
			require.Equal(t, len(tc.wantKIDs), set.Len())
			require.Equal(t, tc.wantKIDs, kids(set.all))
			for _, kid := range tc.wantKIDs {
				n := 0
				for _, w := range tc.wantKIDs {
					if w == kid {
						n++
					}
				}
				require.Len(t, set.byKID[kid], n, "kid %q", kid)
			}
		})
	}
}

// TestParseLookup looks keys up by kid and by alg in a parsed set, the way
// Store.Candidates does.
func TestParseLookup(t *testing.T) {
	k := testKeys()
	set, skipped, err := Parse(jwks(t,
		jwk(t, k.rsa, "rsa1", "RS256", "sig"),
		jwk(t, k.rsa, "rsa-any", "", ""), // no alg: fits every RSA alg
		jwk(t, k.p256, "ec256", "ES256", ""),
		jwk(t, k.p384, "ec384", "", ""),
		jwk(t, k.p521, "ec521", "ES512", ""),
		jwk(t, k.ed, "ed1", "EdDSA", ""),
		jwk(t, k.rsa, "enc1", "", "enc"), // skipped: never a candidate
		jwk(t, k.rsa, "dup", "RS256", ""),
		jwk(t, k.p256, "dup", "ES256", ""),
	))
	require.NoError(t, err)
	require.Len(t, skipped, 1)

	for _, tc := range []struct {
		kid, alg string
		want     []string
	}{
		// By kid.
		{"rsa1", "RS256", []string{"rsa1"}},
		{"rsa1", "PS256", nil}, // JWK alg pins RS256
		{"rsa1", "ES256", nil},
		{"rsa-any", "PS384", []string{"rsa-any"}},
		{"ec256", "ES256", []string{"ec256"}},
		{"ec384", "ES384", []string{"ec384"}},
		{"ec384", "ES256", nil}, // curve must match alg
		{"ec521", "ES512", []string{"ec521"}},
		{"ed1", "EdDSA", []string{"ed1"}},
		{"ed1", "RS256", nil},
		{"enc1", "RS256", nil},
		{"nope", "RS256", nil},
		// Duplicate kid: only the keys that fit the alg.
		{"dup", "RS256", []string{"dup"}},
		{"dup", "ES256", []string{"dup"}},
		{"dup", "EdDSA", nil},
		// HS* never fits a public key.
		{"rsa-any", "HS256", nil},
		{"", "HS256", nil},
		{"", "none", nil},
		// Without kid: every signing key that fits alg.
		{"", "RS256", []string{"rsa1", "rsa-any", "dup"}},
		{"", "PS256", []string{"rsa-any"}},
		{"", "ES256", []string{"ec256", "dup"}},
		{"", "ES384", []string{"ec384"}},
		{"", "ES512", []string{"ec521"}},
		{"", "EdDSA", []string{"ed1"}},
	} {
		t.Run(tc.kid+"/"+tc.alg, func(t *testing.T) {
			got := set.match(tc.kid, tc.alg)
			if tc.want == nil {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, kids(got))
			for _, key := range got {
				require.True(t, key.Fits(tc.alg))
			}
		})
	}

	// The duplicate kid holds the RSA key for RS256 and the EC key for ES256.
	_, isRSA := set.match("dup", "RS256")[0].Public.(*rsa.PublicKey)
	require.True(t, isRSA)
	_, isEC := set.match("dup", "ES256")[0].Public.(*ecdsa.PublicKey)
	require.True(t, isEC)
}

func TestKeyFits(t *testing.T) {
	k := testKeys()
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		jalg string
		fits []string
	}{
		{"rsa no alg", k.rsa, "", []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}},
		{"rsa pinned", k.rsa, "PS512", []string{"PS512"}},
		{"p256", k.p256, "", []string{"ES256"}},
		{"p384", k.p384, "", []string{"ES384"}},
		{"p521", k.p521, "", []string{"ES512"}},
		{"p256 pinned to a wrong alg", k.p256, "ES384", nil},
		{"ed25519", k.ed, "", []string{"EdDSA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := &Key{KID: "k", Alg: tc.jalg, Public: tc.pub}
			for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS512", "none", ""} {
				want := false
				for _, f := range tc.fits {
					want = want || f == alg
				}
				require.Equal(t, want, key.Fits(alg), "alg %q", alg)
			}
		})
	}
}
