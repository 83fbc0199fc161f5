package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"help"},
		{"fake", "-h"}, {"doctor", "-h"}, {"login", "-h"}, {"verify", "-h"},
		{"verify", "-help"},
	} {
		t.Run(args[0]+" "+args[len(args)-1], func(t *testing.T) {
			code, stdout, stderr := runCmd(t, nil, "", args...)
			require.Equal(t, exitOK, code, stderr)
			require.Contains(t, stdout+stderr, "Usage")
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"verify", "-frob", "x"}, "flag provided but not defined: -frob"},
		{"verify without token", []string{"verify"}, "want exactly one TOKEN"},
		{"verify without issuer", []string{"verify", "a.b.c"}, "-issuer (or $NEXTIDENTITY_ISSUER) is required"},
		{"verify without client id", []string{"verify", "-issuer", "http://127.0.0.1:1", "a.b.c"}, "-client-id (or $NEXTIDENTITY_CLIENT_ID) is required"},
		{"fake with argument", []string{"fake", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, nil, "", tc.args...)
			require.Equal(t, exitUsage, code)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func TestTenantFlagsFallBackToEnvironment(t *testing.T) {
	env := map[string]string{
		envIssuer: "https://env.example.com", envClientID: "env-client",
		envClientSecret: "env-secret", envRedirectURL: "https://app.example.com/callback",
	}
	for _, tc := range []struct {
		name string
		args []string
		want tenant
	}{
		{"all from the environment", nil, tenant{"https://env.example.com", "env-client", "env-secret", "https://app.example.com/callback", defaultTimeout}},
		{"flags win", []string{"-issuer", "https://flag.example.com", "-client-id", "flag-client"},
			tenant{"https://flag.example.com", "flag-client", "env-secret", "https://app.example.com/callback", defaultTimeout}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCLI(env, "")
			fs := c.newFlagSet("x", "", "")
			got := tenantFlags(fs, true, "redirect")
			require.NoError(t, fs.Parse(tc.args))
			got.fill(c.env)
			require.Equal(t, tc.want, *got)
		})
	}
}

func TestNoColourUnlessTerminal(t *testing.T) {
	// A buffer is not a terminal, so nothing is painted.
	c := newTestCLI(nil, "")
	require.False(t, c.color)
	c.printCheck(check{Name: "x", Status: statusFail, Detail: "broken", Hint: "mend it"})
	require.NotContains(t, c.out.String(), "\x1b[")
	require.Contains(t, c.out.String(), "FAIL  x")
	require.Contains(t, c.out.String(), "fix: mend it")

	c.color = true
	c.paintln("31", "red")
	require.Contains(t, c.out.String(), "\x1b[31mred\x1b[0m\n")
	require.False(t, colorAllowed(c.out, func(string) string { return "" }))
	require.False(t, colorAllowed(c.out, func(k string) string { return map[string]string{"NO_COLOR": "1"}[k] }))
}
