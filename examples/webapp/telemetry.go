package main

import (
	"context"
	"io"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/otelsdk"
)

// printTelemetry gives cfg OpenTelemetry SDK providers that print to out
// (the -trace flag), so that a sign-in's spans can be watched; nihttp
// takes the same providers from the Client. The returned function flushes
// and stops them.
//
// The SDK set-up lives in internal/otelsdk, a module of its own: the
// library's go.mod requires only the OpenTelemetry API, and go.work at the
// repository root puts both modules in one workspace.
func printTelemetry(cfg *nextidentity.Config, out io.Writer) (func(), error) {
	tp, mp, shutdown, err := otelsdk.Stdout(out, 30*time.Second)
	if err != nil {
		return nil, err
	}
	cfg.TracerProvider, cfg.MeterProvider = tp, mp
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx)
	}, nil
}
