// Command tenants serves two Next Identity tenants from one process with
// nihttp.Tenants: two brands, "acme" and "globex", each with its own
// provider tenant and Client, its own cookies and its own namespace in one
// shared session store. A session, sign-in, back-channel logout token or
// workflow event of one tenant is never accepted by the other.
//
//	go run ./examples/tenants
//
// It starts one embedded fake provider (nextidentitytest) per tenant and
// serves the tenants under path prefixes, /acme/ and /globex/, of one
// address, then prints the URLs to open and the demo users' credentials.
// Both demo users have the same subject ("sub") at their providers, as two
// unrelated tenants may: the store's namespaces keep them apart.
//
// Flags: -addr (listen address, default 127.0.0.1:8081).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tenants:", err)
		os.Exit(1)
	}
}

// run starts the providers and the app and serves until ctx ends. When
// ready is not nil it receives the app's base URL once the app accepts
// connections.
func run(ctx context.Context, args []string, out io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("tenants", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(out, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()

	d, err := newDemo(ctx, base, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	srv := &http.Server{
		Handler:           d.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	fmt.Fprintf(out, "\n  nextidentity tenants example: open %s\n", base)
	for _, t := range demoTenants {
		fmt.Fprintf(out, "  %s: %s/%s/ (sign in as %s / %s)\n", t.name, base, t.name, t.email, demoPassword)
	}
	fmt.Fprintln(out)
	if ready != nil {
		ready <- base
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
