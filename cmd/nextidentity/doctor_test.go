package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func doctorJSON(t *testing.T, env map[string]string, args ...string) (int, doctorReport) {
	t.Helper()
	code, stdout, stderr := runCmd(t, env, "", append([]string{"doctor", "-json", "-timeout", "10s"}, args...)...)
	var rep doctorReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), "stdout %q, stderr %q", stdout, stderr)
	return code, rep
}

func checkNamed(t *testing.T, rep doctorReport, name string) check {
	t.Helper()
	for _, ch := range rep.Checks {
		if ch.Name == name {
			return ch
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return check{}
}

// editJSON rewrites a JSON object body.
func editJSON(t *testing.T, up *upstream, f func(m map[string]any)) {
	var m map[string]any
	require.NoError(t, json.Unmarshal(up.body, &m))
	f(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	up.body = b
}

// proxyEnv is the tenant environment of a fault proxy in front of srv.
func proxyEnv(srv *nextidentitytest.Server, proxyURL string) map[string]string {
	env := tenantEnv(srv)
	env[envIssuer] = proxyURL
	return env
}

var allDoctorChecks = []string{"discovery", "issuer", "endpoints", "jwks", "clock", "redirect-url", "credentials", "offline", "end-session"}

func TestDoctorHealthyTenant(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	code, rep := doctorJSON(t, tenantEnv(srv))
	require.Equal(t, exitOK, code, "%+v", rep.Checks)
	require.True(t, rep.OK)
	var names []string
	for _, ch := range rep.Checks {
		names = append(names, ch.Name)
		require.Equal(t, statusOK, ch.Status, "%s: %s", ch.Name, ch.Detail)
	}
	require.Equal(t, allDoctorChecks, names)
	require.Contains(t, checkNamed(t, rep, "jwks").Detail, "RS256, RSA 2048 bits")
	require.Contains(t, checkNamed(t, rep, "redirect-url").Detail, "sign-in page")
	require.Contains(t, checkNamed(t, rep, "credentials").Detail, "invalid_grant")

	// Text: one line per check, no colour in a buffer.
	code, stdout, _ := runCmd(t, tenantEnv(srv), "", "doctor")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "ok    discovery    "+srv.Issuer())
	require.Contains(t, stdout, "No problems found.")
	require.NotContains(t, stdout, "\x1b[")
}

func TestDoctorDiscoveryFailures(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	closed := newFake(t, nextidentitytest.Options{})
	closed.Close()
	notJSON := faultProxy(t, srv, func(path string, up *upstream) {
		if path == "/.well-known/openid-configuration" {
			up.body = []byte("<html>maintenance</html>")
		}
	})
	for _, tc := range []struct{ name, issuer, want string }{
		{"unreachable", closed.Issuer(), "connection refused"},
		{"wrong path", srv.Issuer() + "/tenant", "HTTP 404"},
		{"not a discovery document", notJSON.URL, "not a discovery document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tenantEnv(srv)
			env[envIssuer] = tc.issuer
			code, rep := doctorJSON(t, env)
			require.Equal(t, exitFail, code)
			require.False(t, rep.OK)
			d := checkNamed(t, rep, "discovery")
			require.Equal(t, statusFail, d.Status)
			require.Contains(t, d.Detail, tc.want)
			require.Contains(t, d.Hint, "-issuer")
			for _, ch := range rep.Checks[1:] {
				require.Equal(t, statusNotChecked, ch.Status, ch.Name)
			}
		})
	}
}

func TestDoctorIssuerMismatch(t *testing.T) {
	slash := newFake(t, nextidentitytest.Options{IssuerTrailingSlash: true})
	plain := newFake(t, nextidentitytest.Options{})
	elsewhere := faultProxy(t, plain, func(path string, up *upstream) {
		if path == "/.well-known/openid-configuration" {
			editJSON(t, up, func(m map[string]any) { m["issuer"] = "https://id.elsewhere.example.com" })
		}
	})
	for _, tc := range []struct {
		name   string
		env    map[string]string
		issuer string
		want   string
	}{
		{"provider has a trailing slash", tenantEnv(slash), strings.TrimSuffix(slash.Issuer(), "/"), "trailing slash: the provider's issuer is \"" + slash.Issuer() + "\", with a trailing slash"},
		{"configured with a trailing slash", tenantEnv(plain), plain.Issuer() + "/", "trailing slash: the provider's issuer is \"" + plain.Issuer() + "\", without a trailing slash"},
		{"another issuer", proxyEnv(plain, elsewhere.URL), elsewhere.URL, `the provider's issuer is "https://id.elsewhere.example.com"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := maps.Clone(tc.env)
			env[envIssuer] = tc.issuer
			code, rep := doctorJSON(t, env)
			require.Equal(t, exitFail, code)
			ch := checkNamed(t, rep, "issuer")
			require.Equal(t, statusFail, ch.Status)
			require.Contains(t, ch.Detail, tc.want)
			require.Contains(t, ch.Hint, "set -issuer")
			// The other checks still run on the discovery document.
			require.Equal(t, statusOK, checkNamed(t, rep, "jwks").Status)
		})
	}
}

func TestDoctorMissingEndpoints(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	proxy := faultProxy(t, srv, func(path string, up *upstream) {
		if path == "/.well-known/openid-configuration" {
			editJSON(t, up, func(m map[string]any) {
				delete(m, "token_endpoint")
				m["userinfo_endpoint"] = "/userinfo"
			})
		}
	})
	code, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
	require.Equal(t, exitFail, code)
	ch := checkNamed(t, rep, "endpoints")
	require.Equal(t, statusFail, ch.Status)
	require.Contains(t, ch.Detail, "missing: token_endpoint")
	require.Contains(t, ch.Detail, `not absolute URLs: userinfo_endpoint "/userinfo"`)
	require.Equal(t, statusNotChecked, checkNamed(t, rep, "redirect-url").Status)
	require.Equal(t, statusNotChecked, checkNamed(t, rep, "credentials").Status)
}

// badKeys are JWKs the library cannot use: an RSA key under 2048 bits, a
// symmetric key and an encryption key.
func badKeys(t *testing.T, good map[string]any) []any {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	enc := maps.Clone(good)
	enc["kid"], enc["use"] = "for-encryption", "enc"
	return []any{
		map[string]any{"kty": "RSA", "kid": "weak", "alg": "RS256", "n": b64url(weak.N.Bytes()), "e": "AQAB"},
		map[string]any{"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"},
		enc,
	}
}

func TestDoctorJWKS(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	for _, tc := range []struct {
		name   string
		edit   func(up *upstream)
		status string
		want   []string
	}{
		{"unusable keys are named", func(up *upstream) {
			editJSON(t, up, func(m map[string]any) {
				ks := m["keys"].([]any)
				m["keys"] = append(ks, badKeys(t, ks[0].(map[string]any))...)
			})
		}, statusWarn, []string{`RS256, RSA 2048 bits`, `unusable key 2, kid "weak" (kty RSA): RSA key of 1024 bits is below 2048`, `unusable key 3, kid "symmetric" (kty oct): `, `kid "for-encryption" (kty RSA): use "enc" is not sig`}},
		{"no usable key", func(up *upstream) {
			editJSON(t, up, func(m map[string]any) { m["keys"] = badKeys(t, m["keys"].([]any)[0].(map[string]any)) })
		}, statusFail, []string{`kid "weak"`, `kid "symmetric"`}},
		{"no key for the advertised algs", func(up *upstream) {
			editJSON(t, up, func(m map[string]any) {
				var keep []any
				for _, k := range m["keys"].([]any) {
					if k.(map[string]any)["kty"] == "EC" {
						keep = append(keep, k)
					}
				}
				m["keys"] = keep
			})
		}, statusOK, []string{"ES256, EC P-256"}},
		{"unreachable", func(up *upstream) { up.status, up.body = http.StatusInternalServerError, []byte("boom") }, statusFail, []string{"HTTP 500: boom"}},
		{"not JSON", func(up *upstream) { up.body = []byte("[") }, statusFail, []string{"not a JWK Set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := faultProxy(t, srv, func(path string, up *upstream) {
				if path == string(nextidentitytest.EndpointJWKS) {
					tc.edit(up)
				}
			})
			code, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
			ch := checkNamed(t, rep, "jwks")
			require.Equal(t, tc.status, ch.Status, ch.Detail)
			for _, w := range tc.want {
				require.Contains(t, ch.Detail, w)
			}
			if tc.status == statusFail {
				require.Equal(t, exitFail, code)
				require.NotEmpty(t, ch.Hint)
			} else {
				require.Equal(t, exitOK, code, "a warning does not fail the run: %+v", rep.Checks)
			}
		})
	}
}

func TestDoctorJWKSWithoutAdvertisedKey(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	proxy := faultProxy(t, srv, func(path string, up *upstream) {
		switch path {
		case "/.well-known/openid-configuration":
			editJSON(t, up, func(m map[string]any) { m["id_token_signing_alg_values_supported"] = []string{"RS256", "HS256"} })
		case string(nextidentitytest.EndpointJWKS):
			editJSON(t, up, func(m map[string]any) {
				var keep []any
				for _, k := range m["keys"].([]any) {
					if k.(map[string]any)["kty"] == "EC" {
						keep = append(keep, k)
					}
				}
				m["keys"] = keep
			})
		}
	})
	_, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
	ch := checkNamed(t, rep, "jwks")
	require.Equal(t, statusWarn, ch.Status)
	require.Contains(t, ch.Detail, "no key for advertised alg(s) RS256")
}

func TestDoctorClock(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	for _, tc := range []struct {
		name   string
		date   func() []string
		status string
		want   string
	}{
		{"five minutes ahead", func() []string { return []string{time.Now().Add(5 * time.Minute).UTC().Format(http.TimeFormat)} }, statusFail, "ahead of this machine's"},
		{"thirty seconds behind", func() []string { return []string{time.Now().Add(-30 * time.Second).UTC().Format(http.TimeFormat)} }, statusWarn, "behind this machine's"},
		{"no Date header", func() []string { return nil }, statusWarn, "no Date header"},
		{"unreadable Date header", func() []string { return []string{"yesterday"} }, statusWarn, `unreadable Date header "yesterday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := faultProxy(t, srv, func(path string, up *upstream) {
				if d := tc.date(); d == nil {
					delete(up.header, "Date")
				} else {
					up.header["Date"] = d
				}
			})
			code, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
			ch := checkNamed(t, rep, "clock")
			require.Equal(t, tc.status, ch.Status, ch.Detail)
			require.Contains(t, ch.Detail, tc.want)
			if tc.status == statusFail {
				require.Equal(t, exitFail, code)
				require.Contains(t, ch.Hint, "NTP")
			}
		})
	}
}

func TestClockCheckThresholds(t *testing.T) {
	local := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		skew   time.Duration
		status string
	}{
		{0, statusOK}, {-10 * time.Second, statusOK}, {11 * time.Second, statusWarn},
		{time.Minute, statusWarn}, {-61 * time.Second, statusFail}, {time.Hour, statusFail},
	} {
		ch := clockCheck(local.Add(tc.skew).Format(http.TimeFormat), local.Add(400*time.Millisecond))
		require.Equal(t, tc.status, ch.Status, "skew %v: %s", tc.skew, ch.Detail)
	}
}

func TestDoctorOffline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scopes any // nil deletes scopes_supported
		status string
		detail string
	}{
		{"listed", []string{"openid", "offline_access"}, statusOK, "scopes_supported lists offline_access"},
		{"not listed", []string{"openid", "profile"}, statusWarn, "does not list offline_access"},
		{"absent", nil, statusWarn, "no scopes_supported"},
		{"malformed", "offline_access", statusWarn, "not a list of strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, nextidentitytest.Options{})
			proxy := faultProxy(t, srv, func(path string, up *upstream) {
				if path == "/.well-known/openid-configuration" {
					editJSON(t, up, func(m map[string]any) {
						delete(m, "scopes_supported")
						if tc.scopes != nil {
							m["scopes_supported"] = tc.scopes
						}
					})
				}
			})
			code, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
			require.Equal(t, exitOK, code, "a warning does not fail: %+v", rep.Checks)
			ch := checkNamed(t, rep, "offline")
			require.Equal(t, tc.status, ch.Status, ch.Detail)
			require.Contains(t, ch.Detail, tc.detail)
			if tc.status == statusWarn {
				require.Contains(t, ch.Hint, "login -offline")
			}
		})
	}
}

func TestDoctorEndSession(t *testing.T) {
	for _, tc := range []struct {
		name    string
		missing bool // end_session_endpoint removed from discovery
		status  int  // what ISSUER/endsession answers; 0 leaves the fake's
		want    string
		detail  string
	}{
		{"listed", false, 0, statusOK, "/endsession"},
		{"fallback answers", true, 0, statusWarn, "which answers HTTP"},
		{"fallback 404", true, http.StatusNotFound, statusWarn, "answers HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, nextidentitytest.Options{})
			proxy := faultProxy(t, srv, func(path string, up *upstream) {
				switch {
				case path == "/.well-known/openid-configuration" && tc.missing:
					editJSON(t, up, func(m map[string]any) { delete(m, "end_session_endpoint") })
				case path == "/endsession" && tc.status != 0:
					up.status, up.body = tc.status, []byte("not found")
				}
			})
			code, rep := doctorJSON(t, proxyEnv(srv, proxy.URL))
			require.Equal(t, exitOK, code, "%+v", rep.Checks)
			ch := checkNamed(t, rep, "end-session")
			require.Equal(t, tc.want, ch.Status, ch.Detail)
			require.Contains(t, ch.Detail, tc.detail)
			if tc.missing {
				require.Contains(t, ch.Detail, proxy.URL+"/endsession")
				require.Contains(t, ch.Hint, "Config.EndSessionEndpoint")
			}
		})
	}
}
