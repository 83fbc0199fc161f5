package nextidentity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// FuzzVerifyAccessToken signs mutated headers and payloads with the
// provider's EC key and checks that whatever VerifyAccessToken accepts has
// an access token typ, no crit, the issuer, the audience and a live exp,
// and that a second call (from the cache) agrees with the first.
func FuzzVerifyAccessToken(f *testing.F) {
	p := testprovider.New(f)
	c, _ := apiClient(f, p, nil)
	hdr, _ := json.Marshal(map[string]any{"alg": "ES256", "kid": "ec1", "typ": "at+jwt"})
	cl, _ := json.Marshal(atClaims(p, fixedNow))
	f.Add(hdr, cl)
	f.Add([]byte(`{"alg":"ES256","kid":"ec1","typ":"application/at+jwt"}`), cl)
	f.Add([]byte(`{"alg":"ES256","kid":"ec1","typ":"JWT"}`), cl)
	f.Add([]byte(`{"alg":"ES256","kid":"ec1","typ":"at+jwt","crit":["x"]}`), cl)
	f.Add(hdr, []byte(`{"iss":"`+p.Issuer+`","aud":["`+apiAudience+`"],"exp":1610056130,"scope":["a"]}`))
	f.Add(hdr, []byte(`{"iss":"`+p.Issuer+`","aud":"`+apiAudience+`","exp":1610056130,"EXP":1,"nbf":1e20}`))
	strict := base64.RawURLEncoding
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		input := strict.EncodeToString(header) + "." + strict.EncodeToString(payload)
		sig, err := jwt.SigningMethodES256.Sign(input, p.EC.Private)
		require.NoError(t, err)
		raw := input + "." + strict.EncodeToString(sig)
		at, err := c.VerifyAccessToken(context.Background(), raw)
		again, err2 := c.VerifyAccessToken(context.Background(), raw)
		require.Equal(t, err == nil, err2 == nil, "the cache agrees with verification")
		if err != nil {
			require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
			return
		}
		require.Equal(t, at, again)
		var h map[string]any
		require.NoError(t, json.Unmarshal(header, &h))
		typ, _ := h["typ"].(string)
		require.True(t, strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt"), "typ %q", typ)
		_, crit := h["crit"]
		require.False(t, crit)
		var m map[string]any
		require.NoError(t, json.Unmarshal(payload, &m))
		require.Equal(t, p.Issuer, m["iss"])
		require.True(t, slices.Contains(at.Audience, apiAudience))
		require.True(t, fixedNow.Before(at.Expiry.Add(time.Minute)))
	})
}
