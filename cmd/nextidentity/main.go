// Command nextidentity helps integrators of Next Identity, a hosted OpenID
// Connect provider: it runs the fake provider of package nextidentitytest as
// a process, checks a tenant's settings, signs in from the terminal,
// verifies ID tokens and invites users.
//
// Install it with
//
//	go install github.com/oidc-kit/nextidentity/cmd/nextidentity@latest
//
// Usage:
//
//	nextidentity fake   [-addr 127.0.0.1:9000] [-config fake.json] [-json]
//	nextidentity doctor -issuer URL -client-id ID [-client-secret S] [-redirect-url URL] [-json]
//	nextidentity login  -issuer URL -client-id ID [-client-secret S] -redirect-url http://127.0.0.1:PORT/callback [-no-browser] [-show-tokens] [-json]
//	nextidentity verify [-issuer URL -client-id ID] [-client-secret S] [-no-verify] [-json] TOKEN|-
//	nextidentity invite -issuer URL -client-id ID -client-secret S -redirect-url URL [-sms] [-resend] [-profile JSON|@FILE|-] [-field NAME=VALUE]... [-json] USER
//
// The -issuer, -client-id, -client-secret and -redirect-url flags fall back
// to the NEXTIDENTITY_ISSUER, NEXTIDENTITY_CLIENT_ID,
// NEXTIDENTITY_CLIENT_SECRET and NEXTIDENTITY_REDIRECT_URL environment
// variables, the ones the example app reads. Prefer the variable for the
// secret: command lines are visible to other users of the machine.
//
// Every subcommand takes -h. The exit status is 0 on success, 1 when a check,
// the sign-in or the verification fails, and 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// Environment variables the tenant flags fall back to.
const (
	envIssuer       = "NEXTIDENTITY_ISSUER"
	envClientID     = "NEXTIDENTITY_CLIENT_ID"
	envClientSecret = "NEXTIDENTITY_CLIENT_SECRET"
	envRedirectURL  = "NEXTIDENTITY_REDIRECT_URL"
)

// defaultTimeout bounds every request the command makes.
const defaultTimeout = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command with its environment passed in, so tests can
// drive it. It returns the exit status.
func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newCLI(env, stdin, stdout, stderr).run(ctx, args)
}

// cli carries the command's environment. Tests replace the hooks.
type cli struct {
	env   func(string) string
	stdin io.Reader
	// stdout and stderr escape every control character but newline and
	// tab (see terminalWriter); rawStdout is stdout itself, for colours.
	stdout, stderr io.Writer
	rawStdout      io.Writer
	// color reports whether stdout gets ANSI colours.
	color bool
	// now is the clock for token checks.
	now func() time.Time
	// openBrowser shows url to the user (login).
	openBrowser func(ctx context.Context, url string) error
	// listen opens the fake's listener and login's loopback listener.
	listen func(network, addr string) (net.Listener, error)
}

func newCLI(env func(string) string, stdin io.Reader, stdout, stderr io.Writer) *cli {
	return &cli{
		env:         env,
		stdin:       stdin,
		stdout:      terminalWriter{stdout},
		stderr:      terminalWriter{stderr},
		rawStdout:   stdout,
		color:       colorAllowed(stdout, env),
		now:         time.Now,
		openBrowser: openSystemBrowser,
		listen:      net.Listen,
	}
}

const usage = `nextidentity: tools for Next Identity integrators

Usage:
  nextidentity fake    run the fake provider (package nextidentitytest) as a process
  nextidentity doctor  check a tenant's discovery, keys, clock, redirect URL and credentials
  nextidentity login   sign in from the terminal with a loopback redirect URL
  nextidentity verify  verify (or only decode) an ID token
  nextidentity invite  invite a user (API integration /pre-register)

Run "nextidentity COMMAND -h" for a command's flags. The tenant flags fall
back to NEXTIDENTITY_ISSUER, NEXTIDENTITY_CLIENT_ID, NEXTIDENTITY_CLIENT_SECRET
and NEXTIDENTITY_REDIRECT_URL.
`

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "fake":
		return c.fake(ctx, rest)
	case "doctor":
		return c.doctor(ctx, rest)
	case "login":
		return c.login(ctx, rest)
	case "verify":
		return c.verify(ctx, rest)
	case "invite":
		return c.invite(ctx, rest)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "nextidentity: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// newFlagSet returns a flag set for a subcommand whose usage starts with
// synopsis and explanation.
func (c *cli) newFlagSet(name, synopsis, explanation string) *flag.FlagSet {
	fs := flag.NewFlagSet("nextidentity "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: nextidentity %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(explanation))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args. When it returns false the command must return code:
// exitOK after -h, exitUsage after a bad flag.
func parse(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, exitOK
		}
		return false, exitUsage
	}
	return true, exitOK
}

// usageError reports a usage problem the flag package cannot see.
func (c *cli) usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s\nRun \"%s -h\" for help.\n", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
	return exitUsage
}

// tenant holds the flags that name a tenant and a client.
type tenant struct {
	issuer, clientID, clientSecret, redirectURL string
	timeout                                     time.Duration
}

// tenantFlags registers -issuer, -client-id, -client-secret, -timeout and,
// when withRedirect, -redirect-url. Call fill after parsing.
func tenantFlags(fs *flag.FlagSet, withRedirect bool, redirectHelp string) *tenant {
	t := &tenant{}
	fs.StringVar(&t.issuer, "issuer", "", "tenant issuer URL, exactly as in the tokens' \"iss\" (default $"+envIssuer+")")
	fs.StringVar(&t.clientID, "client-id", "", "OAuth client id (default $"+envClientID+")")
	fs.StringVar(&t.clientSecret, "client-secret", "", "client secret; empty for a public client (default $"+envClientSecret+"; prefer the variable)")
	if withRedirect {
		fs.StringVar(&t.redirectURL, "redirect-url", "", redirectHelp+" (default $"+envRedirectURL+")")
	}
	fs.DurationVar(&t.timeout, "timeout", defaultTimeout, "limit on each request to the provider")
	return t
}

// fill takes every empty value from the environment.
func (t *tenant) fill(env func(string) string) {
	for _, f := range []struct {
		v   *string
		key string
	}{
		{&t.issuer, envIssuer}, {&t.clientID, envClientID},
		{&t.clientSecret, envClientSecret}, {&t.redirectURL, envRedirectURL},
	} {
		if *f.v == "" {
			*f.v = env(f.key)
		}
	}
}

// authStyleFlag registers -auth-style for the commands that call the token
// endpoint.
func authStyleFlag(fs *flag.FlagSet) *string {
	return fs.String("auth-style", "basic", "client authentication at the token endpoint: basic (HTTP Basic, the library's default) or post (client_secret in the body, nextidentity.AuthStyleInParams)")
}

// parseAuthStyle reads an -auth-style value.
func parseAuthStyle(s string) (nextidentity.AuthStyle, error) {
	switch s {
	case "basic":
		return nextidentity.AuthStyleBasic, nil
	case "post":
		return nextidentity.AuthStyleInParams, nil
	}
	return 0, fmt.Errorf("-auth-style %q: want basic or post", s)
}

// require names the first missing value among issuer and client id.
func (t *tenant) require() error {
	switch {
	case t.issuer == "":
		return fmt.Errorf("-issuer (or $%s) is required", envIssuer)
	case t.clientID == "":
		return fmt.Errorf("-client-id (or $%s) is required", envClientID)
	case t.timeout <= 0:
		return errors.New("-timeout must be positive")
	}
	return nil
}
