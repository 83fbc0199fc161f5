package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// startFake runs "nextidentity fake -addr 127.0.0.1:0 -json args..." until
// the returned stop is called, and returns the JSON it printed first.
func startFake(t *testing.T, args ...string) (info fakeInfo, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	errOut := &syncBuffer{}
	c := newCLI(func(string) string { return "" }, strings.NewReader(""), pw, errOut)
	done := make(chan int, 1)
	go func() {
		done <- c.run(ctx, append([]string{"fake", "-addr", "127.0.0.1:0", "-json"}, args...))
		pw.Close()
	}()
	line := readLine(t, pr)
	require.NoError(t, json.Unmarshal([]byte(line), &info), line)
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain anything else
	stopped := false
	stop = func() (int, string) {
		stopped = true
		cancel()
		return <-done, errOut.String()
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return info, stop
}

func TestFakeServesDefaultsAndStopsOnCancel(t *testing.T) {
	info, stop := startFake(t)
	require.True(t, strings.HasPrefix(info.Issuer, "http://127.0.0.1:"), info.Issuer)
	require.Equal(t, info.Issuer+"/.well-known/openid-configuration", info.Discovery)
	require.Equal(t, []fakeClient{{
		ID: nextidentitytest.DefaultClientID, Secret: nextidentitytest.DefaultClientSecret,
		RedirectURIs: []string{nextidentitytest.DefaultRedirectURI},
	}}, info.Clients)
	require.Equal(t, []fakeLogin{{
		Email: nextidentitytest.DefaultUserEmail, Password: nextidentitytest.DefaultUserPassword,
		Subject: nextidentitytest.DefaultUserSubject,
	}}, info.Users)

	// The library can use it as a tenant.
	client, err := nextidentity.New(t.Context(), nextidentity.Config{
		Issuer: info.Issuer, ClientID: info.Clients[0].ID, ClientSecret: info.Clients[0].Secret,
		RedirectURL: info.Clients[0].RedirectURIs[0],
	})
	require.NoError(t, err)
	client.Close()

	code, stderr := stop()
	require.Equal(t, exitOK, code)
	require.Contains(t, stderr, "fake provider stopped")
	host := strings.TrimPrefix(info.Issuer, "http://")
	_, err = net.DialTimeout("tcp", host, time.Second)
	require.Error(t, err, "the port is closed after the stop")
}

func TestFakeTextOutputStartsWithIssuer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c := newTestCLI(nil, "")
	done := make(chan int, 1)
	go func() { done <- c.run(ctx, []string{"fake", "-addr", "127.0.0.1:0"}) }()
	require.Eventually(t, func() bool { return strings.Contains(c.out.String(), "stop with Ctrl-C") }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.Equal(t, exitOK, <-done)
	out := c.out.String()
	require.True(t, strings.HasPrefix(out, "issuer:"), out)
	for _, want := range []string{
		"client:     test-client  secret: test-secret",
		"redirect: http://127.0.0.1/callback",
		"user:       jane@example.com  password: password",
		"export NEXTIDENTITY_ISSUER=http://127.0.0.1:",
	} {
		require.Contains(t, out, want)
	}
}

func TestFakeWithConfigFile(t *testing.T) {
	info, stop := startFake(t, "-config", filepath.Join("..", "..", "testdata", "fake.json"))
	require.Len(t, info.Clients, 3)
	require.Equal(t, []string{"orders:read", "orders:write"}, info.Clients[2].Scopes)
	require.Equal(t, "web-app", info.Clients[0].ID)
	require.Equal(t, []string{"http://localhost:5173/callback"}, info.Clients[1].RedirectURIs)
	require.Equal(t, "ada@example.com", info.Users[0].Email)
	require.Empty(t, info.Users[1].Subject, "bob has a random subject")

	resp, err := http.Get(info.Discovery)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	code, _ := stop()
	require.Equal(t, exitOK, code)
}

func TestFakeFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"signing_alg":"none"}`), 0o600))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"address in use", []string{"-addr", busy.Addr().String()}, "choose another -addr"},
		{"missing config", []string{"-addr", "127.0.0.1:0", "-config", filepath.Join(t.TempDir(), "nope.json")}, "no such file"},
		{"bad config", []string{"-addr", "127.0.0.1:0", "-config", bad}, `signing_alg "none"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, nil, "", append([]string{"fake"}, tc.args...)...)
			require.Equal(t, exitFail, code)
			require.Contains(t, stderr, tc.want)
		})
	}
}
