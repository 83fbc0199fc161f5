package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestParseFakeConfigAccountErrors(t *testing.T) {
	for _, tc := range []struct{ name, config, want string }{
		{"bad integration", `{"clients":[{"client_id":"a","client_secret":"s","integration":"journeys"}]}`, `integration "journeys": want "hosted", "api" or "both"`},
		{"negative rate limit", `{"clients":[{"client_id":"a","client_secret":"s","rate_limit":-1}]}`, "rate_limit -1"},
		{"bad existing invitee status", `{"existing_invitee_status":409}`, "existing_invitee_status 409: want 200 or 422"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFakeConfig(strings.NewReader(tc.config))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestExampleConfigAccountSettings(t *testing.T) {
	opts, err := loadFakeConfig(filepath.Join("..", "..", "testdata", "fake.json"))
	require.NoError(t, err)
	web, spa := opts.Clients[0], opts.Clients[1]
	require.Equal(t, nextidentitytest.IntegrationBoth, web.Integration)
	require.Equal(t, 600, web.RateLimit)
	require.True(t, web.Privileged)
	require.Equal(t, nextidentitytest.IntegrationHosted, spa.Integration)
	require.Equal(t, 200, opts.ExistingInviteeStatus)
	ada, bob := opts.Users[0], opts.Users[1]
	require.True(t, ada.LegalAccepted, "legal_accepted defaults to true")
	require.Equal(t, map[string]any{"employeeId": "E-1815"}, ada.Profile)
	require.False(t, bob.LegalAccepted)
	require.Equal(t, []string{"spa"}, bob.DeniedClients)
}

// postAPI posts a JSON body to the fake at issuer.
func postAPI(t *testing.T, issuer, path string, body map[string]any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Post(issuer+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

// The process prints each message the provider would send, so a test in
// another language can register, read the PIN and verify.
func TestFakePrintsMessages(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	c := newCLI(func(string) string { return "" }, strings.NewReader(""), pw, &syncBuffer{})
	done := make(chan int, 1)
	go func() {
		done <- c.run(ctx, []string{"fake", "-addr", "127.0.0.1:0", "-json"})
		pw.Close()
	}()
	lines := bufio.NewReader(pr)
	readJSON := func(v any) {
		line, err := lines.ReadString('\n')
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal([]byte(line), v), line)
	}
	var info fakeInfo
	readJSON(&info)

	status, m := postAPI(t, info.Issuer, "/idp/v1/account/register", map[string]any{
		"client_id": "test-client", "auth_type": "email", "redirect_uri": nextidentitytest.DefaultRedirectURI,
		"profile_fields": map[string]any{"emailAddress": "sam@example.com", "newPassword": "new-secret-9", "newPasswordConfirm": "new-secret-9"},
	})
	require.Equal(t, http.StatusOK, status, m)
	var msg fakeMessage
	readJSON(&msg)
	require.Equal(t, "verification", msg.Message)
	require.Equal(t, "sam@example.com", msg.To)
	require.Equal(t, m["uuid"], msg.UUID)
	require.Len(t, msg.PIN, 6)
	require.True(t, strings.HasPrefix(msg.Link, info.Issuer+"/verify-account?token="), msg.Link)

	status, m = postAPI(t, info.Issuer, "/idp/v1/account/verify", map[string]any{
		"client_id": "test-client", "auth_type": "email", "user_id": "sam@example.com", "code": msg.PIN,
	})
	require.Equal(t, http.StatusOK, status, m)
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain the rest
	cancel()
	require.Equal(t, exitOK, <-done)
}

func TestFakePrintsMessagesAsText(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c := newTestCLI(nil, "")
	done := make(chan int, 1)
	go func() { done <- c.run(ctx, []string{"fake", "-addr", "127.0.0.1:0"}) }()
	require.Eventually(t, func() bool { return strings.Contains(c.out.String(), "stop with Ctrl-C") }, 10*time.Second, 10*time.Millisecond)
	line := strings.SplitN(strings.TrimPrefix(c.out.String(), "issuer:"), "\n", 2)[0]
	issuer := strings.TrimSpace(line)
	status, _ := postAPI(t, issuer, "/idp/v1/account/forgot-password", map[string]any{
		"client_id": "test-client", "auth_type": "email", "user_id": "jane@example.com", "redirect_uri": nextidentitytest.DefaultRedirectURI,
	})
	require.Equal(t, http.StatusOK, status)
	require.Eventually(t, func() bool { return strings.Contains(c.out.String(), "message: forgot-password to jane@example.com") }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.Equal(t, exitOK, <-done)
	require.Regexp(t, `message: forgot-password to jane@example.com \(email, client test-client\) pin [0-9]{6} link http://127.0.0.1/callback\?code=`, c.out.String())
}
