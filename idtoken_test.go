package nextidentity_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

func TestVerifyIDTokenClaims(t *testing.T) {
	p, c, now := fixedClient(t)

	claims := p.Claims(now, "n-1")
	claims["aud"] = []string{"other", p.ClientID}
	claims["azp"] = p.ClientID
	claims["auth_time"] = now.Add(-time.Minute).Unix()
	claims["given_name"] = "John"
	claims["family_name"] = "Smith"
	claims["phone_number_verified"] = false
	claims["locale"] = "en-US"
	claims["membership"] = map[string]any{"tier": "gold", "since": 2019}
	raw := testprovider.Sign("RS256", p.RSA, claims, nil)

	tok, err := c.VerifyIDToken(context.Background(), raw, "n-1")
	require.NoError(t, err)
	require.Equal(t, p.Issuer, tok.Issuer)
	require.Equal(t, []string{"other", p.ClientID}, tok.Audience)
	require.Equal(t, p.ClientID, tok.AuthorizedParty)
	require.Equal(t, now, tok.IssuedAt)
	require.Equal(t, now.Add(time.Hour), tok.Expiry)
	require.Equal(t, now.Add(-time.Minute), tok.AuthTime)
	require.Equal(t, "n-1", tok.Nonce)
	require.Equal(t, "John", tok.GivenName)
	require.Equal(t, "Smith", tok.FamilyName)
	require.True(t, tok.EmailVerified)
	require.Equal(t, "en-US", tok.Locale)
	require.Equal(t, time.Date(2021, 1, 7, 20, 44, 35, 176625000, time.UTC), tok.UpdatedAt.UTC())

	var custom struct {
		Membership struct {
			Tier  string `json:"tier"`
			Since int    `json:"since"`
		} `json:"membership"`
		UpdatedAt string `json:"updated_at"` // as sent; Profile.UpdatedAt is parsed
	}
	require.NoError(t, tok.Claims(&custom))
	require.Equal(t, "gold", custom.Membership.Tier)
	require.Equal(t, 2019, custom.Membership.Since)
	require.Equal(t, "2021-01-07 20:44:35.176625 +0000", custom.UpdatedAt)

	require.Error(t, (&nextidentity.IDToken{}).Claims(&custom), "not from VerifyIDToken")
}

// The documented example: HS256, keyed with the client secret, no kid.
func TestVerifyDocumentedHS256Shape(t *testing.T) {
	p, c, now := fixedClient(t)
	raw := testprovider.SignHS("HS256", p.Secret, p.Claims(now, "yMLsS49XhyEcxJESP9YEN2QetYrVWVzPxJAvF7wkaDLWAn9PyK"))
	tok, err := c.VerifyIDToken(context.Background(), raw, "yMLsS49XhyEcxJESP9YEN2QetYrVWVzPxJAvF7wkaDLWAn9PyK")
	require.NoError(t, err)
	require.Equal(t, "b30647ef-7f03-4ce1-ae91-9476e49d0605", tok.Subject)
	require.Zero(t, p.Count(testprovider.PathJWKS), "HS256 needs no JWKS")
}

func TestVerifyAccessToken(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, mkConfig(p))
	claims := p.Claims(time.Now(), "")
	claims["at_hash"] = testprovider.AtHash("rb5bzkygqs5ahevp")
	tok, err := c.VerifyIDToken(context.Background(), testprovider.Sign("ES256", p.EC, claims, nil), "")
	require.NoError(t, err)
	require.NoError(t, tok.VerifyAccessToken("rb5bzkygqs5ahevp"))
	require.ErrorIs(t, tok.VerifyAccessToken("rb5bzkygqs5ahevq"), nextidentity.ErrInvalidIDToken)

	delete(claims, "at_hash")
	tok, err = c.VerifyIDToken(context.Background(), testprovider.Sign("ES256", p.EC, claims, nil), "")
	require.NoError(t, err)
	require.ErrorIs(t, tok.VerifyAccessToken("rb5bzkygqs5ahevp"), nextidentity.ErrInvalidIDToken, "no at_hash to check against")
}

// JSON member names are case-sensitive (RFC 7519 section 4), but
// encoding/json matches them case-insensitively and keeps the last match: a
// signed token whose only issuer is "ISS", or whose "EXP" follows an expired
// "exp", must be refused rather than read as the registered claim.
func TestVerifyRefusesCaseVariantNames(t *testing.T) {
	p, c, now := fixedClient(t)
	iss, aud := `"iss":"`+p.Issuer+`"`, `"aud":"`+p.ClientID+`"`
	times := fmt.Sprintf(`"iat":%d,"exp":%d`, now.Unix(), now.Add(time.Hour).Unix())
	hs := func(header, payload string) string {
		signed := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		m := hmac.New(sha256.New, []byte(p.Secret))
		m.Write([]byte(signed))
		return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	const hdr = `{"alg":"HS256","typ":"JWT"}`
	for _, tc := range []struct {
		name, header, payload string
		ok                    bool
	}{
		{"plain", hdr, `{` + iss + `,` + aud + `,` + times + `,"sub":"s"}`, true},
		{"claim value in capitals", hdr, `{` + iss + `,` + aud + `,` + times + `,"sub":"s","name":"EXP","x":{"EXP":1}}`, true},
		{"ISS only", hdr, `{"ISS":"` + p.Issuer + `",` + aud + `,` + times + `,"sub":"s"}`, false},
		{"EXP after an expired exp", hdr, fmt.Sprintf(`{%s,%s,"iat":%d,"exp":%d,"sub":"s","EXP":%d}`, iss, aud, now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix()), false},
		{"escaped capital", hdr, `{` + iss + `,` + aud + `,` + times + `,"sub":"s","\u0053ub":"victim"}`, false},
		{"EMAIL after email", hdr, `{` + iss + `,` + aud + `,` + times + `,"sub":"s","email":"a@example.com","EMAIL":"victim@example.com"}`, false},
		{"Kelvin sign folds to kid", `{"alg":"HS256","\u212Aid":"x"}`, `{` + iss + `,` + aud + `,` + times + `,"sub":"s"}`, false},
		{"header ALG", `{"alg":"HS256","ALG":"none"}`, `{` + iss + `,` + aud + `,` + times + `,"sub":"s"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.VerifyIDToken(context.Background(), hs(tc.header, tc.payload), "")
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
		})
	}
}

// A token without exp is malformed, not expired: the error must say so, so
// that an app does not send the user round a refresh loop for it.
func TestVerifyMissingExpIsNotExpiry(t *testing.T) {
	p, c, now := fixedClient(t)
	cl := p.Claims(now, "")
	delete(cl, "exp")
	_, err := c.VerifyIDToken(context.Background(), testprovider.Sign("RS256", p.RSA, cl, nil), "")
	require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
	require.NotErrorIs(t, err, nextidentity.ErrTokenExpired)
	require.ErrorContains(t, err, "no exp")
}
