package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// claimsFor returns valid ID token claims of srv for its default client.
func claimsFor(srv *nextidentitytest.Server, edit map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": srv.Issuer(), "aud": nextidentitytest.DefaultClientID,
		"sub": nextidentitytest.DefaultUserSubject, "email": nextidentitytest.DefaultUserEmail,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": "n-1",
	}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func sign(t *testing.T, srv *nextidentitytest.Server, claims map[string]any) string {
	t.Helper()
	tok, err := srv.SignIDToken(claims)
	require.NoError(t, err)
	return tok
}

func verifyJSON(t *testing.T, env map[string]string, stdin string, args ...string) (int, verifyReport, string) {
	t.Helper()
	code, stdout, stderr := runCmd(t, env, stdin, append([]string{"verify", "-json"}, args...)...)
	var rep verifyReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), "stdout %q, stderr %q", stdout, stderr)
	return code, rep, stderr
}

func statuses(rep verifyReport) map[string]string {
	m := map[string]string{}
	for _, ch := range rep.Checks {
		m[ch.Name] = ch.Status
	}
	return m
}

func TestVerifyTokenFromSignIn(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	tok := signIn(t, srv)

	code, rep, stderr := verifyJSON(t, tenantEnv(srv), "", tok.RawIDToken)
	require.Equal(t, exitOK, code, stderr)
	require.True(t, rep.Verified)
	require.Empty(t, rep.Warning)
	require.Equal(t, srv.Issuer(), rep.Issuer)
	for _, ch := range rep.Checks {
		require.Equal(t, statusOK, ch.Status, ch.Name)
	}
	var claims map[string]any
	require.NoError(t, json.Unmarshal(rep.Claims, &claims))
	require.Equal(t, nextidentitytest.DefaultUserSubject, claims["sub"])
	require.Equal(t, "gold", claims["membership"])

	// The text form: one line per check, the claims, the verdict.
	code, stdout, _ := runCmd(t, tenantEnv(srv), tok.RawIDToken+"\n", "verify", "-")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "ok    signature    RS256, kid ")
	require.Contains(t, stdout, `"membership": "gold"`)
	require.Contains(t, stdout, "verified: a valid ID token of "+srv.Issuer())
}

// Each broken token fails at its own check; the checks before it passed and
// the ones after it are reported as not made.
func TestVerifyNamesTheFailingCheck(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	now := time.Now()
	good := sign(t, srv, claimsFor(srv, nil))
	for _, tc := range []struct {
		name   string
		token  string
		args   []string
		failed string
		want   string
	}{
		{"not a JWT", "abc.def", nil, checkFormat, "not a compact JWS"},
		{"tampered signature", good[:len(good)-4] + "AAAA", nil, checkSignature, "invalid signature"},
		{"alg none", noneToken(t, claimsFor(srv, nil)), nil, checkSignature, `alg "none" is not allowed`},
		{"other issuer", sign(t, srv, claimsFor(srv, map[string]any{"iss": srv.Issuer() + "/"})), nil, checkIssuer, "issuer mismatch"},
		{"other audience", sign(t, srv, claimsFor(srv, map[string]any{"aud": "other-app"})), nil, checkAudience, "audience mismatch"},
		{"no subject", sign(t, srv, claimsFor(srv, map[string]any{"sub": nil})), nil, checkSubject, "no sub claim"},
		{"expired", sign(t, srv, claimsFor(srv, map[string]any{"exp": now.Add(-time.Hour).Unix()})), nil, checkExpiry, "token expired"},
		{"no exp", sign(t, srv, claimsFor(srv, map[string]any{"exp": nil})), nil, checkExpiry, "no exp claim"},
		{"issued in the future", sign(t, srv, claimsFor(srv, map[string]any{"iat": now.Add(time.Hour).Unix()})), nil, checkIssuedAt, "issued in the future"},
		{"no iat", sign(t, srv, claimsFor(srv, map[string]any{"iat": nil})), nil, checkIssuedAt, "no iat claim"},
		{"case-folded claim", sign(t, srv, claimsFor(srv, map[string]any{"ISS": "x"})), nil, checkFormat, "differs from a registered claim name only in case"},
		{"wrong nonce", good, []string{"-nonce", "n-2"}, checkNonce, "nonce mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, rep, _ := verifyJSON(t, tenantEnv(srv), "", append(tc.args, tc.token)...)
			require.Equal(t, exitFail, code)
			require.False(t, rep.Verified)
			require.Contains(t, rep.Error, tc.want)
			seenFailure := false
			for _, ch := range rep.Checks {
				switch {
				case ch.Name == tc.failed:
					require.Equal(t, statusFail, ch.Status)
					require.NotEmpty(t, ch.Hint)
					seenFailure = true
				case seenFailure:
					require.Equal(t, statusNotChecked, ch.Status, ch.Name)
				default:
					require.Equal(t, statusOK, ch.Status, ch.Name)
				}
			}
			require.True(t, seenFailure, "check %q reported: %+v", tc.failed, rep.Checks)
		})
	}
}

func noneToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	return "eyJhbGciOiJub25lIn0." + b64url(b) + "."
}

func TestVerifyHS256NeedsTheClientSecret(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{SigningAlg: "HS256"})
	tok := sign(t, srv, claimsFor(srv, nil))
	env := tenantEnv(srv)

	code, rep, _ := verifyJSON(t, env, "", tok)
	require.Equal(t, exitOK, code, rep.Error)
	require.Equal(t, statusOK, statuses(rep)[checkSignature])

	delete(env, envClientSecret)
	code, rep, _ = verifyJSON(t, env, "", tok)
	require.Equal(t, exitFail, code)
	require.Equal(t, statusFail, statuses(rep)[checkSignature])

	code, rep, _ = verifyJSON(t, env, "", "-client-secret", "wrong", tok)
	require.Equal(t, exitFail, code)
	require.Contains(t, rep.Error, "does not verify with the client secret")
}

func TestVerifyNoVerifySaysSoLoudly(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	// Expired and for another app: -no-verify does not care, and says so.
	tok := sign(t, srv, claimsFor(srv, map[string]any{"aud": "other", "exp": time.Now().Add(-time.Hour).Unix()}))

	code, rep, stderr := verifyJSON(t, nil, "", "-no-verify", tok)
	require.Equal(t, exitOK, code)
	require.False(t, rep.Verified)
	require.Equal(t, noVerifyWarning, rep.Warning)
	require.Empty(t, rep.Checks)
	require.Contains(t, stderr, "WARNING: NOT VERIFIED")
	var claims map[string]any
	require.NoError(t, json.Unmarshal(rep.Claims, &claims))
	require.Equal(t, "other", claims["aud"])

	code, stdout, stderr := runCmd(t, nil, tok, "verify", "-no-verify", "-")
	require.Equal(t, exitOK, code)
	require.Contains(t, stderr, "WARNING: NOT VERIFIED")
	require.Contains(t, stdout, `"aud": "other"`)
	require.Contains(t, stdout, "exp:")
	require.True(t, strings.HasSuffix(stdout, noVerifyWarning+"\n"), stdout)

	code, _, stderr = runCmd(t, nil, "", "verify", "-no-verify", "not-a-token")
	require.Equal(t, exitFail, code)
	require.Contains(t, stderr, "not a compact JWT")
}

func TestVerifyStandardInput(t *testing.T) {
	for _, tc := range []struct{ name, stdin, want string }{
		{"empty", "  \n", "standard input is empty"},
		{"too large", strings.Repeat("a", maxTokenBytes+1), "exceeds size limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, nil, tc.stdin, "verify", "-no-verify", "-")
			require.Equal(t, exitFail, code)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func TestVerifyUnreachableTenant(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	tok := sign(t, srv, claimsFor(srv, nil))
	env := tenantEnv(srv)
	srv.Close()
	code, rep, _ := verifyJSON(t, env, "", "-timeout", "5s", tok)
	require.Equal(t, exitFail, code)
	require.Equal(t, "discovery", rep.Checks[0].Name)
	require.Equal(t, statusFail, rep.Checks[0].Status)
	require.Contains(t, rep.Checks[0].Hint, "nextidentity doctor")
}
