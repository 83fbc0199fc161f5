// Package otelsdk holds the code that uses the OpenTelemetry SDK, in a
// module of its own so that the library's go.mod depends on the API only:
// the stdout set-up behind examples/webapp's -trace flag, the test that a
// sign-in's spans and metrics carry no secret, and the telemetry cost
// benchmarks.
package otelsdk

import (
	"context"
	"errors"
	"io"
	"time"

	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Stdout returns SDK providers that print every span as it ends, and the
// metrics every interval and at shutdown, to w as indented JSON. shutdown
// flushes and stops them.
func Stdout(w io.Writer, interval time.Duration) (trace.TracerProvider, metric.MeterProvider, func(context.Context) error, error) {
	se, err := stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint())
	if err != nil {
		return nil, nil, nil, err
	}
	me, err := stdoutmetric.New(stdoutmetric.WithWriter(w), stdoutmetric.WithPrettyPrint())
	if err != nil {
		return nil, nil, nil, err
	}
	// A synchronous span processor: a span is printed when it ends, in
	// order, which is what someone watching a sign-in wants to see.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(se))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(interval))))
	shutdown := func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}
	return tp, mp, shutdown, nil
}
