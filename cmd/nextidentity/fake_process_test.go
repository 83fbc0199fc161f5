//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildCommand builds the command into a temporary directory.
func buildCommand(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go command is needed to build nextidentity: %v", err)
		}
		t.Skipf("the go command is needed to build nextidentity: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nextidentity")
	out, err := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// The real process, not just run: signals reach it and it exits 0.
func TestFakeProcessStopsOnSignal(t *testing.T) {
	bin := buildCommand(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin, "fake", "-addr", "127.0.0.1:0", "-json")
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			stderr := &syncBuffer{} // written by exec's copying goroutine
			cmd.Stderr = stderr
			require.NoError(t, cmd.Start())

			line, err := bufio.NewReader(stdout).ReadString('\n')
			require.NoError(t, err, "stderr: %s", stderr.String())
			var info fakeInfo
			require.NoError(t, json.Unmarshal([]byte(line), &info))
			hc := &http.Client{Timeout: 10 * time.Second}
			resp, err := hc.Get(info.Discovery)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			require.NoError(t, cmd.Process.Signal(sig))
			require.NoError(t, cmd.Wait(), "exit status 0 after %v; stderr: %s", sig, stderr.String())
			require.Contains(t, stderr.String(), "fake provider stopped")
		})
	}
}
