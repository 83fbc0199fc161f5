package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestInviteHelp(t *testing.T) {
	code, _, stderr := runCmd(t, nil, "", "invite", "-h")
	require.Equal(t, exitOK, code)
	for _, want := range []string{"Usage: nextidentity invite", "-resend", "-profile", "-field", "-sms", "/pre-register"} {
		require.Contains(t, stderr, want)
	}
}

// TestInvite invites a user, invites them again (the provider answers with
// the same account) and re-sends the activation, against the fake; each
// time the fake's outbox shows what the user would have received.
func TestInvite(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	env := tenantEnv(srv)

	code, stdout, stderr := runCmd(t, env, `{"lastName":"Lovelace","firstName":"Augusta"}`,
		"invite", "-profile", "-", "-field", "firstName=Ada", "ada@example.com")
	require.Equal(t, exitOK, code, stderr)
	m := regexp.MustCompile(`Invited ada@example.com \(uuid (\S+)\): the activation is on its way\.`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	uuid := m[1]
	msg, ok := srv.LastMessage("ada@example.com")
	require.True(t, ok)
	require.Equal(t, nextidentitytest.MessageInvite, msg.Kind)
	require.Equal(t, uuid, msg.UUID)
	require.NotEmpty(t, msg.Link)

	code, stdout, stderr = runCmd(t, env, "", "invite", "ada@example.com")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "ada@example.com already had an account; it is now linked to client "+env[envClientID]+" (uuid "+uuid+")")

	code, stdout, stderr = runCmd(t, env, "", "invite", "-resend", "-json", "ada@example.com")
	require.Equal(t, exitOK, code, stderr)
	var rep inviteReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
	require.Equal(t, inviteReport{UserID: "ada@example.com", UUID: uuid, Resent: true}, rep)
	require.Len(t, invitesTo(srv, "ada@example.com"), 2, "the first invite and the resend")
}

func invitesTo(srv *nextidentitytest.Server, to string) []nextidentitytest.Message {
	var out []nextidentitytest.Message
	for _, m := range srv.Outbox() {
		if m.Kind == nextidentitytest.MessageInvite && m.To == to {
			out = append(out, m)
		}
	}
	return out
}

func TestInviteFailures(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	env := tenantEnv(srv)
	without := func(k string) map[string]string {
		e := map[string]string{}
		for kk, v := range env {
			if kk != k {
				e[kk] = v
			}
		}
		return e
	}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		status int
		want   string
	}{
		{"no user", env, nil, exitUsage, "want exactly one USER"},
		{"two users", env, []string{"a@example.com", "b@example.com"}, exitUsage, "want exactly one USER"},
		{"no secret", without(envClientSecret), []string{"a@example.com"}, exitUsage, "-client-secret (or $NEXTIDENTITY_CLIENT_SECRET) is required"},
		{"no redirect URL", without(envRedirectURL), []string{"a@example.com"}, exitUsage, "-redirect-url (or $NEXTIDENTITY_REDIRECT_URL) is required"},
		{"profile not an object", env, []string{"-profile", "[1,2]", "a@example.com"}, exitUsage, "want a JSON object"},
		{"profile not JSON", env, []string{"-profile", "{", "a@example.com"}, exitUsage, "want a JSON object"},
		{"profile file missing", env, []string{"-profile", "@/no/such/file.json", "a@example.com"}, exitUsage, "no such file"},
		{"field without =", env, []string{"-field", "firstName", "a@example.com"}, exitUsage, "want NAME=VALUE"},
		{"wrong secret", func() map[string]string { e := without(envClientSecret); e[envClientSecret] = "wrong"; return e }(),
			[]string{"a@example.com"}, exitFail, "the provider refused the client ID and secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.env, "", append([]string{"invite"}, tc.args...)...)
			require.Equal(t, tc.status, code, stderr)
			require.Contains(t, stderr, tc.want)
			require.NotContains(t, stderr, "wrong", "no secret in the output")
		})
	}
	require.Empty(t, invitesTo(srv, "a@example.com"), "no failed call sent anything")
}
