package nextidentitytest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestDiscovery(t *testing.T) {
	for _, slash := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "trailing slash"}[slash], func(t *testing.T) {
			srv := newServer(t, nextidentitytest.Options{IssuerTrailingSlash: slash})
			require.False(t, strings.HasSuffix(srv.URL, "/"))
			want := srv.URL
			if slash {
				want += "/"
			}
			require.Equal(t, want, srv.Issuer())

			r := get(t, srv, srv.URL+"/.well-known/openid-configuration")
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			var d map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.body), &d))
			require.Equal(t, want, d["issuer"])
			require.Equal(t, srv.URL+"/authorize", d["authorization_endpoint"])
			require.Equal(t, srv.URL+"/token", d["token_endpoint"])
			require.Equal(t, srv.URL+"/userinfo", d["userinfo_endpoint"])
			require.Equal(t, srv.URL+"/jwks", d["jwks_uri"])
			require.Equal(t, srv.URL+"/endsession", d["end_session_endpoint"])
			require.Equal(t, []any{"code"}, d["response_types_supported"])
			require.Equal(t, []any{"S256"}, d["code_challenge_methods_supported"])
			require.Equal(t, []any{"RS256", "HS256", "ES256"}, d["id_token_signing_alg_values_supported"])
			for _, k := range []string{"subject_types_supported", "scopes_supported", "token_endpoint_auth_methods_supported", "claims_supported"} {
				require.NotEmpty(t, d[k], k)
			}
			require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointDiscovery))
		})
	}
}

func TestJWKSPublishesPublicKeysOnly(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	r := get(t, srv, srv.URL+"/jwks")
	require.Equal(t, http.StatusOK, r.status)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &set))
	require.Len(t, set.Keys, 2)
	kinds := map[string]string{}
	for _, k := range set.Keys {
		require.Equal(t, "sig", k["use"])
		require.NotEmpty(t, k["kid"])
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			require.NotContains(t, k, private)
		}
		kinds[k["kty"].(string)] = k["alg"].(string)
	}
	require.Equal(t, map[string]string{"RSA": "RS256", "EC": "ES256"}, kinds)
	require.ElementsMatch(t, srv.KeyIDs(), []string{set.Keys[0]["kid"].(string), set.Keys[1]["kid"].(string)})
}

func TestRotateKeys(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			srv := newServer(t, nextidentitytest.Options{SigningAlg: alg})
			p := newPKCE(t)
			before := exchange(t, srv, login(t, srv, p, nil).Get("code"), p)
			oldHeader, _ := verify(t, srv, before.IDToken)
			oldKeys := srv.KeyIDs()

			srv.RotateKeys()
			newKeys := srv.KeyIDs()
			require.Len(t, newKeys, 4, "current and previous RSA and EC keys")
			for _, k := range oldKeys {
				require.Contains(t, newKeys, k)
			}

			p2 := newPKCE(t)
			after := exchange(t, srv, login(t, srv, p2, nil).Get("code"), p2)
			newHeader, _ := verify(t, srv, after.IDToken)
			require.NotEqual(t, oldHeader["kid"], newHeader["kid"])
			require.NotContains(t, oldKeys, newHeader["kid"])
			// A token signed before the rotation still verifies.
			verify(t, srv, before.IDToken)

			// A second rotation drops the oldest keys.
			srv.RotateKeys()
			require.Len(t, srv.KeyIDs(), 4)
			require.NotContains(t, srv.KeyIDs(), oldHeader["kid"])
		})
	}
}

func TestSignIDToken(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	claims := map[string]any{"iss": srv.Issuer(), "sub": "x", "aud": nextidentitytest.DefaultClientID, "custom": "yes"}

	raw, err := srv.SignIDToken(claims)
	require.NoError(t, err)
	h, c := verify(t, srv, raw)
	require.Equal(t, "RS256", h["alg"])
	require.NotEmpty(t, h["kid"])
	require.Equal(t, "yes", c["custom"])

	srv.SetSigningAlg("ES256")
	raw, err = srv.SignIDToken(claims)
	require.NoError(t, err)
	h, _ = verify(t, srv, raw)
	require.Equal(t, "ES256", h["alg"])
	require.NotEmpty(t, h["kid"])

	srv.SetSigningAlg("HS256")
	raw, err = srv.SignIDToken(claims)
	require.NoError(t, err)
	h, _ = verifyHS256(t, raw, nextidentitytest.DefaultClientSecret)
	require.Equal(t, map[string]any{"alg": "HS256"}, h)

	_, err = srv.SignIDToken(map[string]any{"aud": "nobody"})
	require.Error(t, err)
	require.Panics(t, func() { srv.SetSigningAlg("none") })
}

func TestNewServerPanicsOnProgrammerErrors(t *testing.T) {
	for name, opts := range map[string]nextidentitytest.Options{
		"empty client id":  {Clients: []nextidentitytest.Client{{RedirectURIs: []string{"http://x/cb"}}}},
		"no redirect uris": {Clients: []nextidentitytest.Client{{ID: "a"}}},
		"duplicate id":     {Clients: []nextidentitytest.Client{{ID: "a", RedirectURIs: []string{"http://x/cb"}}, {ID: "a", RedirectURIs: []string{"http://x/cb"}}}},
		"unknown alg":      {SigningAlg: "PS256"},
	} {
		t.Run(name, func(t *testing.T) {
			require.Panics(t, func() { nextidentitytest.NewServer(opts).Close() })
		})
	}
	srv := newServer(t, nextidentitytest.Options{})
	require.Panics(t, func() { srv.ClientConfig("nobody") })
}

func TestConfig(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{
		IssuerTrailingSlash: true,
		Now:                 clk.Now,
		Clients: []nextidentitytest.Client{
			{ID: "first", Secret: "s1", RedirectURIs: []string{"http://127.0.0.1:9/a", "http://127.0.0.1:9/b"}},
			{ID: "second", RedirectURIs: []string{"http://localhost/cb"}},
		},
	})
	cfg := srv.Config()
	require.Equal(t, srv.Issuer(), cfg.Issuer)
	require.Equal(t, "first", cfg.ClientID)
	require.Equal(t, "s1", cfg.ClientSecret)
	require.Equal(t, "http://127.0.0.1:9/a", cfg.RedirectURL)
	require.NotNil(t, cfg.HTTPClient)
	require.Equal(t, nextidentitytest.DefaultHTTPTimeout, cfg.HTTPClient.Timeout)
	require.NotNil(t, cfg.Now)
	require.Equal(t, clk.Now(), cfg.Now())

	cfg = srv.ClientConfig("second")
	require.Equal(t, "second", cfg.ClientID)
	require.Empty(t, cfg.ClientSecret)
	require.Equal(t, "http://localhost/cb", cfg.RedirectURL)

	require.Nil(t, newServer(t, nextidentitytest.Options{}).Config().Now, "real clock: leave Config.Now to the client")
}

func TestCloseAbortsDelayedRequests(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	srv.SetLatency(nextidentitytest.EndpointJWKS, time.Hour)
	done := make(chan error, 1)
	go func() {
		resp, err := srv.HTTPClient().Get(srv.URL + "/jwks")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return srv.Requests(nextidentitytest.EndpointJWKS) == 1 }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	srv.Close()
	require.Less(t, time.Since(start), 5*time.Second)
	<-done
	srv.Close() // idempotent
}
