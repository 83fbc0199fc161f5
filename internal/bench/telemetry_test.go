package main

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidc-kit/nextidentity"
)

// withSDK gives the client real SDK providers: every span sampled and
// batched to an exporter that drops it, every measurement aggregated by a
// reader nobody collects, so the benchmark measures the library's and the
// SDK's cost, not an exporter's.
func withSDK(tb testing.TB) (func(*nextidentity.Config), trace.Tracer) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return func(c *nextidentity.Config) { c.TracerProvider, c.MeterProvider = tp, mp }, tp.Tracer("bench")
}

// BenchmarkTelemetry shows the cost of telemetry side by side, in one run:
// an RS256 VerifyIDToken and a 2 KB session load from the cookie store,
// with the default providers (the global no-ops) and with SDK providers.
// With the SDK the session load runs under a recording request span (as
// behind otelhttp), so its store call gets a span of its own.
func BenchmarkTelemetry(b *testing.B) {
	e := testEnv(b)
	ctx := context.Background()
	sdk, tracer := withSDK(b)
	cfg := e.libConfig()
	sdk(&cfg)
	traced, err := nextidentity.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = traced.Close() })
	for _, c := range []struct {
		name   string
		client *nextidentity.Client
	}{{"default", e.lib}, {"sdk", traced}} {
		b.Run("VerifyIDToken/RS256/"+c.name, func(b *testing.B) {
			raw := e.tokens["RS256"]
			if _, err := c.client.VerifyIDToken(ctx, raw, nonce); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := c.client.VerifyIDToken(ctx, raw, nonce); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}

	plain := newSessionBench(b, nil)
	withTel := newSessionBench(b, nil, sdk)
	reqCtx, span := tracer.Start(ctx, "GET /")
	defer span.End()
	withTel.nihttpR = withTel.nihttpR.WithContext(reqCtx)
	for _, c := range []struct {
		name string
		sb   *sessionBench
	}{{"default", plain}, {"sdk", withTel}} {
		b.Run("SessionLoad/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := c.sb.nihttpLoad(); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

// reportCPU adds the process CPU time per operation since start (user +
// system, so the SDK's batching goroutine counts, and waiting for a CPU on
// a busy machine does not), the column the comparison tables rely on.
func reportCPU(b *testing.B, start int64) {
	if start > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}
