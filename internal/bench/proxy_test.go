package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain lets the proxy table's child processes (this test binary, run
// again with NIBENCH_SERVE set) serve instead of testing.
func TestMain(m *testing.M) {
	if kind := os.Getenv(serveEnv); kind != "" {
		if err := serveChild(kind); err != nil {
			os.Stderr.WriteString("bench: " + err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestProxyTableHarness runs the proxy table's machinery end to end, small
// and without the peer (building oauth2-proxy takes minutes): the
// unprotected app and the nihttp app with both stores, each signed in
// through the fake provider, measured, and restarted for the start-up
// column. The numbers are not checked, only that every cell was measured.
func TestProxyTableHarness(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no redis-server; CI must install Debian's redis-server (see .ci/run)")
		}
		t.Skip("no redis-server on this machine; install Debian's redis-server to run this test")
	}
	var out strings.Builder
	err := proxyTable(t.Context(), proxyOptions{Requests: 200, Concurrency: 4, Rounds: 2, Starts: 1, Out: &out})
	require.NoError(t, err)
	table := out.String()
	for _, row := range []string{"upstream (unprotected)", "nihttp, cookie store", "nihttp, redis store"} {
		line := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(row) + `\s+(.*)$`).FindStringSubmatch(table)
		require.NotNil(t, line, "row %q in\n%s", row, table)
		cells := strings.Fields(line[1])
		require.Len(t, cells, 9, "p50 p99 req/s CPU/req start p50/up CPU/up p50/proxy CPU/proxy: %q", line[1])
		require.NotEqual(t, "0s", cells[3], "CPU per request measured")
		require.Equal(t, "-", cells[7], "no peer, no ratio to it")
	}
}
