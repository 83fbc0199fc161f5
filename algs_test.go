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

// TestSigningAlgsFollowDiscovery: anyone who holds the client secret can
// mint an HS256 token, so a confidential client accepts HS256 only when
// discovery's id_token_signing_alg_values_supported lists it, or lists
// nothing (or discovery is skipped); Config.SigningAlgs overrides both.
func TestSigningAlgsFollowDiscovery(t *testing.T) {
	for _, tc := range []struct {
		name       string
		discovered []string // nil: member absent
		skip       bool     // every endpoint configured: no discovery
		configured []string
		secret     bool
		hs256, rs  bool // whether an HS256 and an RS256 token verify
	}{
		{name: "lists RS256 only", discovered: []string{"RS256"}, secret: true, rs: true},
		{name: "lists RS256 and HS256", discovered: []string{"RS256", "HS256"}, secret: true, hs256: true, rs: true},
		{name: "lists HS256 only", discovered: []string{"HS256"}, secret: true, hs256: true},
		{name: "lists HS256, public client", discovered: []string{"HS256", "RS256"}, rs: true},
		{name: "lists nothing", secret: true, hs256: true, rs: true},
		{name: "lists an empty array", discovered: []string{}, secret: true, hs256: true, rs: true},
		{name: "lists nothing, public client", rs: true},
		{name: "no discovery", skip: true, secret: true, hs256: true, rs: true},
		{name: "configured HS256 over discovery", discovered: []string{"RS256"}, configured: []string{"HS256"}, secret: true, hs256: true},
		{name: "lists only unusable algs", discovered: []string{"none", "XS1"}, secret: true, rs: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testprovider.New(t)
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
				d := p.Discovery()
				delete(d, "id_token_signing_alg_values_supported")
				if tc.discovered != nil {
					d["id_token_signing_alg_values_supported"] = tc.discovered
				}
				testprovider.WriteJSON(w, http.StatusOK, d)
			})
			cfg := mkConfig(p)
			cfg.SigningAlgs = tc.configured
			if !tc.secret {
				cfg.ClientSecret = ""
			}
			if tc.skip {
				cfg.AuthorizationEndpoint = p.URL + testprovider.PathAuthorize
				cfg.TokenEndpoint = p.URL + testprovider.PathToken
				cfg.UserInfoEndpoint = p.URL + testprovider.PathUserInfo
				cfg.JWKSURL = p.URL + testprovider.PathJWKS
			}
			c := mkClient(t, cfg)
			claims := p.Claims(time.Now(), "")
			for _, v := range []struct {
				raw  string
				want bool
			}{
				{testprovider.SignHS("HS256", p.Secret, claims), tc.hs256},
				{testprovider.Sign("RS256", p.RSA, claims, nil), tc.rs},
			} {
				_, err := c.VerifyIDToken(context.Background(), v.raw, "")
				if v.want {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
					require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
				}
			}
		})
	}
}
