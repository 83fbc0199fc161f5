package nextidentity_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// TestCallbackISSRequiredWhenDiscoveryPromisesIt: RFC 9207 section 2.4. A
// provider that advertises authorization_response_iss_parameter_supported
// puts iss on every response, so a callback without it is refused before
// the code is redeemed; without the promise a missing iss is tolerated.
func TestCallbackISSRequiredWhenDiscoveryPromisesIt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		promised any // nil: not in discovery
		sendISS  bool
		ok       bool
	}{
		{name: "promised, sent", promised: true, sendISS: true, ok: true},
		{name: "promised, missing", promised: true},
		{name: "promised false, missing", promised: false, ok: true},
		{name: "not advertised, missing", ok: true},
		{name: "not advertised, sent", sendISS: true, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testprovider.New(t)
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
				d := p.Discovery()
				if tc.promised != nil {
					d["authorization_response_iss_parameter_supported"] = tc.promised
				}
				testprovider.WriteJSON(w, http.StatusOK, d)
			})
			c := mkClient(t, mkConfig(p))
			ar, err := c.AuthCodeURL()
			require.NoError(t, err)
			p.Handle(testprovider.PathToken, testprovider.TokenResponse(
				testprovider.Sign("RS256", p.RSA, p.Claims(time.Now(), ar.Nonce), nil)))
			cb := callbackFor(ar)
			if tc.sendISS {
				cb.Set("iss", p.Issuer)
			}
			tok, err := c.Exchange(context.Background(), cb, ar)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, nextidentity.ErrInvalidCallback)
			require.ErrorIs(t, err, nextidentity.ErrIssuerMismatch)
			require.Nil(t, tok)
			require.Zero(t, p.Count(testprovider.PathToken), "the code is not redeemed")
		})
	}
}
