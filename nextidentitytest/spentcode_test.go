package nextidentitytest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

const usedCode = "The authorization code has already been used."

// An app using golang.org/x/oauth2 with its default auth style: the first
// exchange is tried with HTTP Basic and, when it fails, retried with the
// secret in the body. The first failure spends the code, so the app sees the
// retry's answer, which must carry the real reason.
func TestSpentCodeNamesTheFirstFailureToOAuth2Probing(t *testing.T) {
	other := nextidentitytest.Client{ID: "other", Secret: "other-secret", RedirectURIs: []string{nextidentitytest.DefaultRedirectURI}}
	for _, tc := range []struct {
		name   string
		edit   func(cfg *oauth2.Config, verifier *string, clk *clock)
		reason string
	}{
		{"redirect_uri mismatch", func(cfg *oauth2.Config, _ *string, _ *clock) {
			cfg.RedirectURL = "http://127.0.0.1/other"
		}, "The redirect_uri does not match the authorization request."},
		{"wrong PKCE verifier", func(_ *oauth2.Config, v *string, _ *clock) {
			*v = "a-verifier-that-is-long-enough-but-not-the-right-one-at-all"
		}, "PKCE verification failed: the code_verifier does not match the code_challenge."},
		{"expired", func(_ *oauth2.Config, _ *string, clk *clock) {
			clk.Advance(nextidentitytest.CodeLifetime)
		}, "The authorization code has expired."},
		{"another client", func(cfg *oauth2.Config, _ *string, _ *clock) {
			cfg.ClientID, cfg.ClientSecret = other.ID, other.Secret
		}, "The authorization code was issued to another client."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			srv := newServer(t, nextidentitytest.Options{Now: clk.Now, Clients: []nextidentitytest.Client{nextidentitytest.DefaultClient(), other}})
			p := newPKCE(t)
			code := login(t, srv, p, nil).Get("code")

			cfg := &oauth2.Config{
				ClientID:     nextidentitytest.DefaultClientID,
				ClientSecret: nextidentitytest.DefaultClientSecret,
				RedirectURL:  nextidentitytest.DefaultRedirectURI,
				Endpoint:     oauth2.Endpoint{TokenURL: srv.URL + string(nextidentitytest.EndpointToken)}, // AuthStyleAutoDetect
			}
			verifier := p.verifier
			tc.edit(cfg, &verifier, clk)
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, srv.HTTPClient())
			_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))

			var re *oauth2.RetrieveError
			require.ErrorAs(t, err, &re)
			require.Equal(t, http.StatusBadRequest, re.Response.StatusCode)
			require.Equal(t, "invalid_grant", re.ErrorCode)
			require.Equal(t, usedCode+" Its first redemption failed: "+tc.reason, re.ErrorDescription)
			require.Equal(t, 2, srv.Requests(nextidentitytest.EndpointToken), "x/oauth2 probed both auth styles")

			// A later, correct redemption is refused the same way.
			r := postForm(t, srv, "/token", codeForm(code, p), basic(nextidentitytest.DefaultClientID, nextidentitytest.DefaultClientSecret))
			require.Equal(t, http.StatusBadRequest, r.status)
			require.JSONEq(t, `{"error":"invalid_grant","error_description":"`+usedCode+` Its first redemption failed: `+tc.reason+`"}`, r.body)
		})
	}
}

func TestSpentCodeAfterSuccessSaysOnlyUsed(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	code := login(t, srv, p, nil).Get("code")
	exchange(t, srv, code, p)
	r := postForm(t, srv, "/token", codeForm(code, p), basic(nextidentitytest.DefaultClientID, nextidentitytest.DefaultClientSecret))
	require.Equal(t, `{"error":"invalid_grant","error_description":"`+usedCode+`"}`, r.body)
}

func TestFailedClientAuthenticationDoesNotSpendTheCode(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	code := login(t, srv, p, nil).Get("code")
	for _, creds := range [][2]string{
		{nextidentitytest.DefaultClientID, "wrong-secret"},
		{"nobody", "x"},
	} {
		r := postForm(t, srv, "/token", codeForm(code, p), basic(creds[0], creds[1]))
		require.Equal(t, http.StatusUnauthorized, r.status, r.body)
		require.Contains(t, r.body, `"error":"invalid_client"`)
	}
	exchange(t, srv, code, p)
}
