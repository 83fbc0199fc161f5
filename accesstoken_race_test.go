package nextidentity_test

// Run with -race: access tokens are verified from many goroutines through a
// tiny cache (constant eviction) while revocations drop entries and tokens
// with a new kid make the client fetch the JWKS again.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

func TestVerifyAccessTokenConcurrent(t *testing.T) {
	p := testprovider.New(t)
	p.Handle("/idp/v1/account/logout", func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	c, _ := apiClient(t, p, func(cfg *nextidentity.Config) {
		cfg.AccessTokenCacheSize = 2
		cfg.JWKSUnknownKIDInterval = 1
	})
	keys := []*testprovider.Key{p.RSA, p.EC, p.PS, p.Ed}
	var good []string
	for i := range 8 {
		cl := atClaims(p, fixedNow)
		cl["jti"] = fmt.Sprint("jti-", i)
		good = append(good, testprovider.Sign(map[int]string{0: "RS256", 1: "ES256", 2: "PS256", 3: "EdDSA"}[i%4], keys[i%4], cl, atHeader))
	}
	unknownKID := testprovider.Sign("RS256", &testprovider.Key{KID: "gone", Private: p.RSA.Private}, atClaims(p, fixedNow), atHeader)
	idToken := testprovider.Sign("RS256", p.RSA, p.Claims(fixedNow, "n"), nil)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 100 {
				raw := good[(w+i)%len(good)]
				switch i % 10 {
				case 3:
					if _, err := c.VerifyAccessToken(context.Background(), unknownKID); err == nil {
						errs <- fmt.Errorf("unknown kid accepted")
					}
					continue
				case 7:
					if _, err := c.VerifyAccessToken(context.Background(), idToken); err == nil {
						errs <- fmt.Errorf("ID token accepted")
					}
					continue
				case 9:
					_ = c.Revoke(context.Background(), &nextidentity.Token{AccessToken: raw})
				}
				at, err := c.VerifyAccessToken(context.Background(), raw)
				if err != nil {
					errs <- err
					continue
				}
				if at.ClientID != p.ClientID {
					errs <- fmt.Errorf("client_id %q", at.ClientID)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
