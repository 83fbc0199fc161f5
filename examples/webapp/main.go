// Command webapp is a small web application that signs users in with Next
// Identity through the nihttp handlers.
//
//	go run ./examples/webapp
//
// With no configuration it starts an embedded fake provider
// (nextidentitytest) and the app on loopback, and prints the URL to open and
// the demo user's credentials. To use a real tenant instead, set
// NEXTIDENTITY_ISSUER, NEXTIDENTITY_CLIENT_ID, NEXTIDENTITY_CLIENT_SECRET and
// NEXTIDENTITY_REDIRECT_URL (the app's /callback URL, registered with the
// tenant); the app then listens on the redirect URL's host and port unless
// -addr says otherwise. NEXTIDENTITY_COOKIE_KEY (64 hex characters) keeps
// sessions valid across restarts and instances; without it a random key is
// used.
//
// Sessions are sealed into cookies unless NEXTIDENTITY_REDIS_URL
// (redis://[:password@]host:port/db) names a Redis server, which several
// instances of the app can share. NEXTIDENTITY_EVENTS_JKU (comma-separated
// JWKS URLs, compared exactly) mounts POST /events for Next Identity
// workflow events signed with those keys; with the embedded provider it is
// mounted for the provider's own events key.
//
// Flags: -addr (listen address) and -v (log every provider request).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// usage heads the -h output; the flags follow it.
const usage = `Usage: go run ./examples/webapp [flags]

With no configuration the app starts an embedded fake Next Identity provider
and prints the URL to open and the demo user's credentials.

Environment (all optional):
  NEXTIDENTITY_ISSUER, NEXTIDENTITY_CLIENT_ID, NEXTIDENTITY_REDIRECT_URL
                               a real tenant instead of the embedded provider
  NEXTIDENTITY_CLIENT_SECRET   for a confidential client
  NEXTIDENTITY_COOKIE_KEY      64 hex characters: sessions survive restarts
  NEXTIDENTITY_REDIS_URL       keep sessions in Redis (redis://host:port/db)
  NEXTIDENTITY_EVENTS_JKU      comma-separated JWKS URLs: mount POST /events

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// run starts the app and serves until ctx ends. When ready is not nil it
// receives the app's base URL once the app accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:8080, or the redirect URL's host with a real tenant)")
	verbose := fs.Bool("v", false, "log provider requests")
	traced := fs.Bool("trace", false, "print OpenTelemetry spans (as each ends) and metrics (every 30 s and at exit) to standard output")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h: the usage was printed; not a failure
		}
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))

	key, err := cookieKey(getenv("NEXTIDENTITY_COOKIE_KEY"))
	if err != nil {
		return err
	}
	real := getenv("NEXTIDENTITY_ISSUER") != ""
	var cfg nextidentity.Config
	if real {
		if cfg, err = configFromEnv(getenv); err != nil {
			return err
		}
		if *addr == "" {
			u, _ := url.Parse(cfg.RedirectURL)
			*addr = u.Host
		}
	} else if *addr == "" {
		*addr = "127.0.0.1:8080"
	}

	// Sessions in Redis when NEXTIDENTITY_REDIS_URL is set: shared by every
	// instance, ended everywhere by logout and back-channel logout.
	var store *redisstore.Store
	if raw := getenv("NEXTIDENTITY_REDIS_URL"); raw != "" {
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return fmt.Errorf("NEXTIDENTITY_REDIS_URL: %w", err)
		}
		opts.ContextTimeoutEnabled = true // each store call ends at the store's Timeout
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		store = redisstore.New(rdb, redisstore.Options{})
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w\n  another program (another copy of this app?) listens on %s: stop it, or choose another address with -addr, as in -addr 127.0.0.1:9090", err, *addr)
		}
		return err
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	var demo *demoUser
	eventsJKU := "" // the embedded provider's events key
	if real {
		u, _ := url.Parse(cfg.RedirectURL)
		base = u.Scheme + "://" + u.Host
	} else {
		// The embedded provider registers this app's callback and
		// post-logout URLs, which depend on the port just chosen, and its
		// back-channel logout URL when sessions are on the server.
		app := nextidentitytest.Client{
			ID:                     nextidentitytest.DefaultClientID,
			Secret:                 nextidentitytest.DefaultClientSecret,
			RedirectURIs:           []string{base + "/callback"},
			PostLogoutRedirectURIs: []string{base + "/signed-out"},
		}
		if store != nil {
			app.BackChannelLogoutURI = base + "/backchannel-logout"
		}
		provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{app}})
		defer provider.Close()
		cfg = provider.Config()
		eventsJKU = provider.EventsJWKSURL()
		demo = &demoUser{Email: nextidentitytest.DefaultUserEmail, Password: nextidentitytest.DefaultUserPassword}
	}
	cfg.Logger = logger
	if *traced {
		stopTracing, err := printTelemetry(&cfg, out)
		if err != nil {
			return err
		}
		defer stopTracing()
	}
	if store != nil {
		// A replayed logout token is refused on every instance.
		cfg.ReplayCache = store
	}

	client, err := nextidentity.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	acfg := appConfig{Client: client, CookieKey: key, BaseURL: base, Demo: demo, Logger: logger, Routes: map[string]http.Handler{}}
	if store != nil {
		acfg.Store = store
	}
	if jku := strings.FieldsFunc(getenv("NEXTIDENTITY_EVENTS_JKU"), func(r rune) bool { return r == ',' }); len(jku) > 0 || eventsJKU != "" {
		if len(jku) == 0 {
			jku = []string{eventsJKU}
		}
		var replay nextidentity.ReplayCache // in-process, unless sessions are in Redis
		if store != nil {
			replay = store // each event is handled once across instances
		}
		ev, err := newEventsHandler(jku, replay, logger)
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := ev.Close(ctx); err != nil {
				logger.Warn("stopping the events endpoint", "err", err)
			}
		}()
		acfg.Routes["POST /events"] = ev
	}
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

	if demo != nil {
		fmt.Fprintf(out, "\n  nextidentity example app: open %s\n  (embedded fake provider at %s; sign in as %s / %s)\n\n",
			base, cfg.Issuer, demo.Email, demo.Password)
	} else {
		fmt.Fprintf(out, "\n  nextidentity example app: open %s (provider %s)\n\n", base, cfg.Issuer)
	}
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

// configFromEnv reads a real tenant's settings.
func configFromEnv(getenv func(string) string) (nextidentity.Config, error) {
	cfg := nextidentity.Config{
		Issuer:       getenv("NEXTIDENTITY_ISSUER"),
		ClientID:     getenv("NEXTIDENTITY_CLIENT_ID"),
		ClientSecret: getenv("NEXTIDENTITY_CLIENT_SECRET"),
		RedirectURL:  getenv("NEXTIDENTITY_REDIRECT_URL"),
	}
	var missing []string
	if cfg.ClientID == "" {
		missing = append(missing, "NEXTIDENTITY_CLIENT_ID")
	}
	if cfg.RedirectURL == "" {
		missing = append(missing, "NEXTIDENTITY_REDIRECT_URL")
	}
	if len(missing) > 0 {
		return cfg, fmt.Errorf("NEXTIDENTITY_ISSUER is set, so %s must be too", strings.Join(missing, " and "))
	}
	u, err := url.Parse(cfg.RedirectURL)
	if err != nil || u.Host == "" || u.Path != "/callback" {
		return cfg, fmt.Errorf("NEXTIDENTITY_REDIRECT_URL %q must be an absolute URL ending in /callback", cfg.RedirectURL)
	}
	return cfg, nil
}

// cookieKey decodes a hex key, or makes a random one.
func cookieKey(hexKey string) ([]byte, error) {
	if hexKey == "" {
		key := make([]byte, nihttp.KeySize)
		rand.Read(key) // never fails (crypto/rand, Go 1.24+)
		return key, nil
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != nihttp.KeySize {
		return nil, fmt.Errorf("NEXTIDENTITY_COOKIE_KEY must be %d hex characters", 2*nihttp.KeySize)
	}
	return key, nil
}
