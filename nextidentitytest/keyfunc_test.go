package nextidentitytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// The fake's JWKS must be consumable by the ecosystem's standard JWKS client,
// not only by this library: apps verify the fake's tokens with keyfunc too.
func TestJWKSWorksWithKeyfunc(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			srv := nextidentitytest.NewServer(nextidentitytest.Options{SigningAlg: alg})
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kf, err := keyfunc.NewDefaultCtx(ctx, []string{srv.URL + string(nextidentitytest.EndpointJWKS)})
			require.NoError(t, err)

			now := time.Now()
			raw, err := srv.SignIDToken(map[string]any{
				"iss": srv.Issuer(), "sub": "s", "aud": nextidentitytest.DefaultClientID,
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			})
			require.NoError(t, err)
			tok, err := jwt.Parse(raw, kf.Keyfunc, jwt.WithValidMethods([]string{alg}))
			require.NoError(t, err)
			require.True(t, tok.Valid)

			// After a rotation keyfunc finds the new kid by refetching.
			srv.RotateKeys()
			raw, err = srv.SignIDToken(map[string]any{
				"iss": srv.Issuer(), "sub": "s", "aud": nextidentitytest.DefaultClientID,
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			})
			require.NoError(t, err)
			_, err = jwt.Parse(raw, kf.Keyfunc, jwt.WithValidMethods([]string{alg}))
			require.NoError(t, err)
		})
	}
}
