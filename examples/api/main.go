// Command api is a small orders API that accepts only Next Identity access
// tokens, through nihttp.RequireBearer. Back-end services call it with
// tokens they get with the client credentials grant.
//
//	go run ./examples/api          # API on 127.0.0.1:8081, embedded fake provider
//	go run ./examples/api -demo    # the same, after two services have called it
//
// With no configuration it starts an embedded fake provider
// (nextidentitytest) whose Token Service knows three clients: the API
// itself ("orders-api", which may introspect opaque tokens), a service
// "orders-sync" with the scopes orders:read and orders:write, and a service
// "orders-report" with orders:read only. It prints the curl commands that
// get a token and call the API; see README.md.
//
// To protect the API with a real tenant instead, set NEXTIDENTITY_ISSUER,
// NEXTIDENTITY_AUDIENCE (the API's identifier, checked against the tokens'
// "aud"), NEXTIDENTITY_CLIENT_ID and NEXTIDENTITY_CLIENT_SECRET (the API's
// own client, used to introspect opaque tokens).
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
	"strings"
	"syscall"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// Demo clients of the embedded provider.
const (
	apiClientID     = "orders-api"
	apiSecret       = "api-secret"
	syncClientID    = "orders-sync"
	syncSecret      = "sync-secret"
	reportClientID  = "orders-report"
	reportSecret    = "report-secret"
	defaultAddr     = "127.0.0.1:8081"
	shutdownTimeout = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

// run starts the API and serves until ctx ends; with -demo it first plays
// two services calling it, so that the printed curl commands can be tried
// next. When ready is not nil it receives the API's base
// URL and the embedded provider's issuer ("" with a real tenant) once the
// API accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer, ready chan<- [2]string) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", defaultAddr, "listen address")
	format := fs.String("format", nextidentitytest.AccessTokenJWT, `access token format of the embedded provider's services: "jwt" or "opaque"`)
	demo := fs.Bool("demo", false, "call the API with client credentials tokens and print the answers, then keep serving (embedded provider only)")
	verbose := fs.Bool("v", false, "log provider requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))

	var cfg nextidentity.Config
	var provider *nextidentitytest.Server
	if getenv("NEXTIDENTITY_ISSUER") != "" {
		var err error
		if cfg, err = configFromEnv(getenv); err != nil {
			return err
		}
		if *demo {
			return errors.New("-demo needs the embedded provider (unset NEXTIDENTITY_ISSUER)")
		}
	} else {
		if *format != nextidentitytest.AccessTokenJWT && *format != nextidentitytest.AccessTokenOpaque {
			return fmt.Errorf("-format must be jwt or opaque, not %q", *format)
		}
		provider = nextidentitytest.NewServer(nextidentitytest.Options{
			Clients: []nextidentitytest.Client{
				{ID: apiClientID, Secret: apiSecret},
				{ID: syncClientID, Secret: syncSecret, Scopes: []string{"orders:read", "orders:write"}, AccessTokenFormat: *format},
				{ID: reportClientID, Secret: reportSecret, Scopes: []string{"orders:read"}, AccessTokenFormat: *format},
			},
		})
		defer provider.Close()
		cfg = provider.ClientConfig(apiClientID)
		cfg.Audience = nextidentitytest.DefaultAccessTokenAudience
	}
	cfg.Logger = logger

	// The API's own client: it verifies the tokens callers present.
	client, err := nextidentity.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{
		Handler:           (&api{}).routes(client, logger),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	issuer := ""
	if provider != nil {
		issuer = provider.Issuer()
		fmt.Fprintf(out, `
  orders API at %[1]s (audience %[2]s), embedded fake provider at %[3]s

  get a token:   TOKEN=$(curl -s -u %[4]s:%[5]s -d grant_type=client_credentials -d scope=orders:read %[3]s/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  call the API:  curl -i -H "Authorization: Bearer $TOKEN" %[1]s/orders

`, base, cfg.Audience, issuer, syncClientID, syncSecret)
	} else {
		fmt.Fprintf(out, "\n  orders API at %s (audience %s, provider %s)\n\n", base, cfg.Audience, cfg.Issuer)
	}
	if ready != nil {
		ready <- [2]string{base, issuer}
	}

	if *demo {
		if err := runDemo(ctx, provider, base, out); err != nil {
			return errors.Join(err, shutdown(srv, errc))
		}
		fmt.Fprintf(out, "\n  the API keeps running at %s for the curl commands above; Ctrl-C stops it\n\n", base)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return shutdown(srv, errc)
}

func shutdown(srv *http.Server, errc <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// configFromEnv reads a real tenant's settings.
func configFromEnv(getenv func(string) string) (nextidentity.Config, error) {
	cfg := nextidentity.Config{
		Issuer:       getenv("NEXTIDENTITY_ISSUER"),
		ClientID:     getenv("NEXTIDENTITY_CLIENT_ID"),
		ClientSecret: getenv("NEXTIDENTITY_CLIENT_SECRET"),
		Audience:     getenv("NEXTIDENTITY_AUDIENCE"),
	}
	var missing []string
	if cfg.ClientID == "" {
		missing = append(missing, "NEXTIDENTITY_CLIENT_ID")
	}
	if cfg.Audience == "" {
		missing = append(missing, "NEXTIDENTITY_AUDIENCE")
	}
	if len(missing) > 0 {
		return cfg, fmt.Errorf("NEXTIDENTITY_ISSUER is set, so %s must be too", strings.Join(missing, " and "))
	}
	return cfg, nil
}
