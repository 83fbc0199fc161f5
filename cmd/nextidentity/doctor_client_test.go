package main

import (
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestDoctorRedirectURL(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	for _, tc := range []struct {
		name   string
		edit   map[string]string
		status string
		want   string
		hint   string
	}{
		{"registered", nil, statusOK, "sign-in page", ""},
		{"not registered", map[string]string{envRedirectURL: "http://127.0.0.1:8080/other"}, statusFail,
			`error page (HTTP 400): The redirect_uri "http://127.0.0.1:8080/other" is not registered for this application.`, "register http://127.0.0.1:8080/other exactly"},
		{"unknown client", map[string]string{envClientID: "no-such-client"}, statusFail,
			`The application (client_id "no-such-client") is not registered`, "as a redirect URI of client no-such-client"},
		{"none given", map[string]string{envRedirectURL: ""}, statusSkipped, "no -redirect-url", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tenantEnv(srv)
			for k, v := range tc.edit {
				env[k] = v
			}
			_, rep := doctorJSON(t, env)
			ch := checkNamed(t, rep, "redirect-url")
			require.Equal(t, tc.status, ch.Status, ch.Detail)
			require.Contains(t, ch.Detail, tc.want)
			require.Contains(t, ch.Hint, tc.hint)
		})
	}
}

func TestDoctorRedirectURLFaults(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	for _, tc := range []struct {
		name   string
		edit   func(up *upstream)
		status string
		want   string
	}{
		{"refused with an error redirect", func(up *upstream) {
			up.status, up.body = http.StatusFound, nil
			up.header.Set("Location", nextidentitytest.DefaultRedirectURI+"?"+url.Values{
				"error": {"unauthorized_client"}, "error_description": {"The client may not use the code flow."}, "state": {"x"},
			}.Encode())
		}, statusFail, "refused the sign-in: unauthorized_client: The client may not use the code flow."},
		{"a page without a sign-in form", func(up *upstream) {
			up.body = []byte("<html><script>render()</script><p>Loading&hellip;</p></html>")
		}, statusWarn, "without a sign-in form in the HTML (it may be drawn by script): Loading…"},
		{"server error", func(up *upstream) { up.status, up.body = http.StatusBadGateway, []byte("upstream down") }, statusFail, "error page (HTTP 502): upstream down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := faultProxy(t, srv, func(path string, up *upstream) {
				if path == string(nextidentitytest.EndpointAuthorize) {
					tc.edit(up)
				}
			})
			_, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
			ch := checkNamed(t, rep, "redirect-url")
			require.Equal(t, tc.status, ch.Status, ch.Detail)
			require.Contains(t, ch.Detail, tc.want)
		})
	}
}

func TestDoctorCredentials(t *testing.T) {
	public := nextidentitytest.Client{ID: "spa", RedirectURIs: []string{"http://127.0.0.1:5173/callback"}}
	srv := newFake(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{nextidentitytest.DefaultClient(), public}})
	for _, tc := range []struct {
		name   string
		edit   map[string]string
		status string
		want   string
		hint   string
	}{
		{"valid secret", nil, statusOK, "confidential client: the client is accepted; a deliberately invalid code got invalid_grant", ""},
		{"wrong secret", map[string]string{envClientSecret: "wrong"}, statusFail, "client authentication failed", "check -client-id and -client-secret"},
		{"secret missing", map[string]string{envClientSecret: ""}, statusFail, "public client (no secret): client authentication failed", "this client needs its secret"},
		{"public client", map[string]string{envClientID: "spa", envClientSecret: "", envRedirectURL: public.RedirectURIs[0]}, statusOK, "public client (no secret): the client is accepted", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tenantEnv(srv)
			for k, v := range tc.edit {
				env[k] = v
			}
			code, rep := doctorJSON(t, env)
			ch := checkNamed(t, rep, "credentials")
			require.Equal(t, tc.status, ch.Status, ch.Detail)
			require.Contains(t, ch.Detail, tc.want)
			require.Contains(t, ch.Hint, tc.hint)
			if tc.status == statusOK {
				require.Equal(t, exitOK, code, "%+v", rep.Checks)
			} else {
				require.Equal(t, exitFail, code)
			}
		})
	}
}

func TestDoctorCredentialsFaults(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	for _, tc := range []struct {
		name string
		edit func(up *upstream)
		want string
	}{
		{"a code no provider issued is accepted", func(up *upstream) {
			up.status, up.body = http.StatusOK, []byte(`{"access_token":"x","token_type":"Bearer"}`)
		}, "accepted a code no provider issued"},
		{"another provider error", func(up *upstream) {
			up.status, up.body = http.StatusBadRequest, []byte(`{"error":"unsupported_grant_type"}`)
		}, "unexpected answer from the token endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := faultProxy(t, srv, func(path string, up *upstream) {
				if path == string(nextidentitytest.EndpointToken) {
					tc.edit(up)
				}
			})
			code, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
			require.Equal(t, exitFail, code)
			ch := checkNamed(t, rep, "credentials")
			require.Equal(t, statusFail, ch.Status)
			require.Contains(t, ch.Detail, tc.want)
		})
	}
}

func TestDoctorUsage(t *testing.T) {
	code, _, stderr := runCmd(t, nil, "", "doctor")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "-issuer (or $NEXTIDENTITY_ISSUER) is required")
	code, _, stderr = runCmd(t, map[string]string{envIssuer: "http://127.0.0.1:1", envClientID: "x"}, "", "doctor", "extra")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `unexpected argument "extra"`)
}

// A tenant that accepts the secret only in the body: doctor says which
// AuthStyle the app needs.
func TestDoctorCredentialsAuthStyle(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	var basicSeen atomic.Bool
	proxy := faultProxyWrapped(t, srv, nil, func(h http.Handler) http.Handler { return rejectBasicAuth(h, &basicSeen) })

	code, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
	require.Equal(t, exitFail, code)
	require.True(t, basicSeen.Load())
	ch := checkNamed(t, rep, "credentials")
	require.Equal(t, statusFail, ch.Status)
	require.Contains(t, ch.Detail, "with -auth-style post (client_secret in the body) the same credentials are accepted")
	require.Contains(t, ch.Hint, "nextidentity.AuthStyleInParams")

	code, rep = doctorJSON(t, proxyEnv(srv, proxy.URL), "-auth-style", "post")
	require.Equal(t, exitOK, code, "%+v", rep.Checks)
	require.Equal(t, statusOK, checkNamed(t, rep, "credentials").Status)

	code, _, stderr := runCmd(t, proxyEnv(srv, proxy.URL), "", "doctor", "-auth-style", "jwt")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `-auth-style "jwt": want basic or post`)
}

// rejectBasicAuth answers invalid_client to token requests with HTTP Basic.
func rejectBasicAuth(next http.Handler, seen *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); ok && r.URL.Path == string(nextidentitytest.EndpointToken) {
			seen.Store(true)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client","error_description":"Basic authentication is not enabled for this client."}`)) //nolint:errcheck // test server
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestPageText: an error page's excerpt is its message, without the
// page's title, heading, navigation or footer.
func TestPageText(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"the fake's error page",
			`<html><head><title>Invalid redirect URI</title></head><body><h1 id="title">Invalid redirect URI</h1>` +
				`<p id="message">The redirect_uri &#34;x&#34; is not registered.</p><footer>Next Identity test provider</footer></body></html>`,
			`The redirect_uri "x" is not registered.`},
		{"a page with class=error",
			`<body><header>Acme ID</header><div class="error">Unknown client.</div><footer>© Acme</footer></body>`,
			"Unknown client."},
		{"no marked message: the chrome goes",
			`<html><head><title>Oops</title><style>p{}</style></head><body><header><nav>Home</nav></header><h1>Error</h1><main><p>Something broke.</p></main><footer>Help</footer></body></html>`,
			"Something broke."},
		{"plain text", "upstream connect error", "upstream connect error"},
		{"empty", "", "(empty)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, pageText([]byte(tc.body)))
		})
	}
}
