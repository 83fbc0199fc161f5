package nextidentity

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// With the default providers (the global ones, no-ops until the
// application sets them) a successful VerifyIDToken allocates exactly what
// it does with no telemetry at all.
func TestVerifyIDTokenTelemetryAllocatesNothing(t *testing.T) {
	c, raw := hs256Client(t)
	ctx := context.Background()
	verify := func() {
		if _, err := c.VerifyIDToken(ctx, raw, ""); err != nil {
			t.Fatal(err)
		}
	}
	verify()
	withDefault := allocsPerOp(1000, verify)
	tel := c.tel
	c.tel = nil
	defer func() { c.tel = tel }()
	without := allocsPerOp(1000, verify)
	require.InDelta(t, without, withDefault, 0.5, "allocations per VerifyIDToken: without telemetry %v, default providers %v", without, withDefault)
}

// allocsPerOp is testing.AllocsPerRun without its rounding down to a whole
// number. Under the race detector sync.Pool drops a quarter of what it is
// given (the HMAC states and ID-token buffers are pooled), so a whole count
// flips between two runs of the same code; a real allocation per call still
// shows as a difference of one.
func allocsPerOp(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs)
}

// BenchmarkTelemetryVerifyIDToken shows the cost of telemetry on the hot
// path side by side: "off" has no telemetry at all (as before it existed),
// "default" the default no-op providers. The cost with an SDK provider is
// in internal/bench (BenchmarkTelemetry), a module that may use the SDK.
func BenchmarkTelemetryVerifyIDToken(b *testing.B) {
	c, raw := hs256Client(b)
	ctx := context.Background()
	tel := c.tel
	for _, mode := range []string{"off", "default"} {
		b.Run(mode, func(b *testing.B) {
			c.tel = nil
			if mode == "default" {
				c.tel = tel
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.VerifyIDToken(ctx, raw, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	c.tel = tel
}

// The library's go.mod requires the OpenTelemetry API only: the SDK and
// exporters belong to internal/otelsdk (see go.work). `go mod tidy` at the
// root would add them, because examples/webapp's -trace flag uses them
// through the workspace.
func TestGoModRequiresOnlyTheOtelAPI(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	for _, line := range strings.Split(string(mod), "\n") {
		for _, banned := range []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "/internal/otelsdk"} {
			require.NotContains(t, line, banned, "go.mod requires the OpenTelemetry SDK: add dependencies with go get, not go mod tidy (see go.work)")
		}
	}
	require.Contains(t, string(mod), "go.opentelemetry.io/otel/trace ", "the API is required")
}
