package nextidentitytest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedirectURIAllowed(t *testing.T) {
	tests := []struct {
		registered, got string
		want            bool
	}{
		{"https://app.example.com/callback", "https://app.example.com/callback", true},
		{"https://app.example.com/callback", "https://app.example.com:8443/callback", false},
		{"https://app.example.com/callback", "https://app.example.com/callback/", false},
		// RFC 8252 §7.3: loopback IP redirect URIs, any port.
		{"http://127.0.0.1/callback", "http://127.0.0.1:8080/callback", true},
		{"http://127.0.0.1/callback", "http://127.0.0.1:54321/callback", true},
		{"http://127.0.0.1:8080/callback", "http://127.0.0.1:9090/callback", true},
		{"http://127.0.0.1:8080/callback", "http://127.0.0.1/callback", true},
		{"http://[::1]/callback", "http://[::1]:8080/callback", true},
		{"http://127.0.0.1/callback", "http://127.0.0.1:8080/other", false},
		{"http://127.0.0.1/callback", "http://127.0.0.1:8080/callback?x=1", false},
		{"http://127.0.0.1/callback", "http://127.0.0.1:8080/callback#x", false},
		{"http://127.0.0.1/callback", "http://user@127.0.0.1:8080/callback", false},
		{"http://127.0.0.1/callback", "http://127.0.0.2:8080/callback", false},
		{"http://127.0.0.1/callback", "http://[::1]:8080/callback", false},
		{"http://127.0.0.1/callback", "https://127.0.0.1:8080/callback", false},
		{"http://localhost/callback", "http://localhost:8080/callback", false}, // not an IP literal (RFC 8252 §8.3)
		{"http://app.example.com/callback", "http://app.example.com:8080/callback", false},
		{"http://127.0.0.1/callback", "", false},
		{"http://127.0.0.1/callback", "http://127.0.0.1:%zz/callback", false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, redirectURIAllowed([]string{tc.registered}, tc.got), "%s <- %s", tc.registered, tc.got)
	}
}

// TestAuthorizeAcceptsLoopbackOnAnyPort: the default client's
// http://127.0.0.1/callback works for an app on any port.
func TestAuthorizeAcceptsLoopbackOnAnyPort(t *testing.T) {
	srv := NewServer(Options{})
	defer srv.Close()
	cfg := srv.Config()
	authURL := srv.URL + "/authorize?response_type=code&scope=openid&state=s&nonce=n&code_challenge_method=S256&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&client_id=" + cfg.ClientID +
		"&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback"
	q, err := srv.Login(t.Context(), authURL, DefaultUserEmail, DefaultUserPassword)
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"), q.Encode())

	_, err = srv.Login(t.Context(), authURL+"x", DefaultUserEmail, DefaultUserPassword)
	var pe *PageError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "Invalid redirect URI", pe.Title)
}
