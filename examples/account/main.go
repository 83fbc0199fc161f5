// Command account is a web app with its own sign-up, sign-in, email
// verification, terms and password screens, over Next Identity's API
// integration (package account): the forms are the app's, the accounts are
// the provider's, and the browser never goes to the provider.
//
//	go run ./examples/account
//
// With no configuration it starts an embedded fake provider
// (nextidentitytest) and the app on loopback, and prints the URL to open.
// The PINs and links the provider would send by email are on the app's
// /outbox page. To use a real tenant instead, set NEXTIDENTITY_ISSUER,
// NEXTIDENTITY_CLIENT_ID, NEXTIDENTITY_CLIENT_SECRET and
// NEXTIDENTITY_REDIRECT_URL (the app's /reset URL, in the client's
// redirect_uri allow-list; a client with the API integration type).
//
// Flags: -addr (listen address) and -v (log every provider request).
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
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

const usage = `Usage: go run ./examples/account [flags]

With no configuration the app starts an embedded fake Next Identity provider
and prints the URL to open; the messages the provider would send are on the
app's /outbox page.

Environment (all optional):
  NEXTIDENTITY_ISSUER, NEXTIDENTITY_CLIENT_ID, NEXTIDENTITY_CLIENT_SECRET,
  NEXTIDENTITY_REDIRECT_URL    a real tenant instead of the embedded provider
                               (the redirect URL is the app's /reset page)

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "account:", err)
		os.Exit(1)
	}
}

// run starts the app and serves until ctx ends. When ready is not nil it
// receives the app's base URL once the app accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("account", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:8082, or the redirect URL's host with a real tenant)")
	verbose := fs.Bool("v", false, "log provider requests")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))

	real := getenv("NEXTIDENTITY_ISSUER") != ""
	var cfg nextidentity.Config
	if real {
		cfg = nextidentity.Config{
			Issuer:       getenv("NEXTIDENTITY_ISSUER"),
			ClientID:     getenv("NEXTIDENTITY_CLIENT_ID"),
			ClientSecret: getenv("NEXTIDENTITY_CLIENT_SECRET"),
			RedirectURL:  getenv("NEXTIDENTITY_REDIRECT_URL"),
		}
		u, err := url.Parse(cfg.RedirectURL)
		if err != nil || u.Host == "" {
			return fmt.Errorf("NEXTIDENTITY_REDIRECT_URL %q must be the app's absolute /reset URL", cfg.RedirectURL)
		}
		if *addr == "" {
			*addr = u.Host
		}
	} else if *addr == "" {
		*addr = "127.0.0.1:8082"
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w\n  another program listens on %s: choose another address with -addr, as in -addr 127.0.0.1:9092", err, *addr)
		}
		return err
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()

	acfg := appConfig{Logger: logger}
	if !real {
		provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{{
			ID: nextidentitytest.DefaultClientID, Secret: nextidentitytest.DefaultClientSecret,
			RedirectURIs: []string{base + "/reset"},
		}}})
		defer provider.Close()
		cfg = provider.Config()
		acfg.Demo = &demoUser{Email: nextidentitytest.DefaultUserEmail, Password: nextidentitytest.DefaultUserPassword}
		acfg.Outbox = provider.Outbox
	}
	cfg.Logger = logger
	client, err := nextidentity.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	acfg.Account = account.New(client)
	a, err := newApp(acfg)
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if acfg.Demo != nil {
		fmt.Fprintf(out, "\n  nextidentity own-screens example: open %s\n  (embedded fake provider at %s; sign in as %s / %s, or create an account: its code is on %s/outbox)\n\n",
			base, cfg.Issuer, acfg.Demo.Email, acfg.Demo.Password, base)
	} else {
		fmt.Fprintf(out, "\n  nextidentity own-screens example: open %s (provider %s)\n\n", base, cfg.Issuer)
	}
	if ready != nil {
		ready <- base
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
