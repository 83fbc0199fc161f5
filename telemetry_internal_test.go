package nextidentity

import (
	"context"
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
	withDefault := testing.AllocsPerRun(100, verify)
	tel := c.tel
	c.tel = nil
	defer func() { c.tel = tel }()
	without := testing.AllocsPerRun(100, verify)
	require.Equal(t, without, withDefault)
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
