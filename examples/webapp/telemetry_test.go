package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTraceFlagPrintsSpans: with -trace the app prints the spans of what it
// does (discovery at start, the login handler) to its output.
func TestTraceFlagPrintsSpans(t *testing.T) {
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-trace"}, func(string) string { return "" }, &out, ready)
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the app did not start")
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	cancel()
	require.NoError(t, <-done)
	printed := out.String()
	for _, span := range []string{"nextidentity.discovery", "nihttp.login"} {
		require.Contains(t, printed, `"Name": "`+span+`"`, "-trace output lacks the %s span", span)
	}
}
