// Package browsertest starts Debian's headless Chromium for the examples'
// browser tests.
//
// Without Chromium a test is skipped, except in CI (CI=true), where
// .ci/run installs it and its absence fails the test.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Timeout bounds a whole browser test.
const Timeout = 90 * time.Second

// Path finds Debian's Chromium, or skips (fails in CI) without it.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found; CI must install Debian's chromium (see .ci/run)")
	}
	t.Skip("no Chromium on this machine; install Debian's chromium to run the browser test")
	return ""
}

// New starts headless Chromium and returns a context for its first tab,
// bounded to Timeout; everything stops when the test ends.
func New(t testing.TB) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Text is the trimmed text of the element with id.
func Text(t testing.TB, ctx context.Context, id string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	require.NoError(t, err, "reading #%s", id)
	return v
}

// Screenshot saves the page as name.png under $SCREENSHOTS (or the older
// $WEBAPP_SCREENSHOTS) when set, for a person to look at; otherwise it does
// nothing.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		dir = os.Getenv("WEBAPP_SCREENSHOTS")
	}
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}
