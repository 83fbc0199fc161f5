package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

const fakeHelp = `Runs the fake Next Identity provider of package nextidentitytest as a
process, for tests in other languages, front-end work and compose files. It
serves discovery, the JWKS, /authorize with a hosted sign-in page, /register,
/personal-details, /token, /userinfo and /endsession with the provider's
token formats and error bodies, and the API integration: the JSON endpoints
under /idp/v1/account (login, token, register, verify, resend-verification,
forgot-password, change-password, pre-register, profile, logout), the
one-time codes under /idp/v1/otp, the Adopt API and the hosted /activate and
/forgot-password screens. Every email or SMS the provider would send (PINs,
verification, activation and reset links, one-time codes) is printed on
standard output, one line per message (a JSON object with -json).

The -addr address becomes the issuer (http://ADDR), so pick one the apps and
the browser can reach. With -addr 127.0.0.1:0 a free port is chosen; read the
issuer from the first line of output (-json makes that line a JSON object).

With no -config it serves the package's defaults: client "test-client",
secret "test-secret", redirect URI http://127.0.0.1/callback (on any port, as
RFC 8252 asks for loopback redirect URIs; a real tenant wants the exact URL
registered), and the user
jane@example.com with password "password". The -config file (JSON) adds
users with custom claims, clients with their redirect URIs, the signing
algorithm and an issuer with a trailing slash, and the API integration's
settings (a client's integration "hosted", "api" or "both", its rate_limit
in requests per minute, passwordless, privileged; a user's legal_accepted,
true by default, and denied_clients; env_id and existing_invitee_status);
testdata/fake.json in the module is a complete example.

It stops cleanly on SIGINT (Ctrl-C) or SIGTERM, with exit status 0.`

// fakeInfo is what "nextidentity fake" prints once it is listening.
type fakeInfo struct {
	Issuer    string       `json:"issuer"`
	Discovery string       `json:"discovery"`
	Clients   []fakeClient `json:"clients"`
	Users     []fakeLogin  `json:"users"`
	// RevokeRefreshFamilyOnReuse says that reusing a rotated refresh token
	// revokes its whole grant (-revoke-refresh-family).
	RevokeRefreshFamilyOnReuse bool `json:"revoke_refresh_family_on_reuse,omitempty"`
}

// exposedWarning is printed when the fake listens on an address other
// hosts may reach.
const exposedWarning = `
WARNING: the fake provider listens on %s (%v), not a loopback address:
WARNING: it serves its well-known test credentials on every interface that
WARNING: address covers, so anyone who can reach this port can sign in and
WARNING: get tokens it signs. It is a test tool: use -addr 127.0.0.1:PORT
WARNING: unless a container network needs otherwise.

`

// loopbackListener reports whether ln accepts connections from this host
// only.
func loopbackListener(ln net.Listener) bool {
	a, ok := ln.Addr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// fakeLogin is a user's sign-in credentials.
type fakeLogin struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Subject  string `json:"sub,omitempty"` // empty: random, chosen at start
}

func (c *cli) fake(ctx context.Context, args []string) int {
	fs := c.newFlagSet("fake", "[-addr 127.0.0.1:9000] [-config fake.json] [-json]", fakeHelp)
	addr := fs.String("addr", "127.0.0.1:9000", "`host:port` to listen on; it becomes the issuer")
	config := fs.String("config", "", "JSON `file` with clients, users, signing_alg and issuer_trailing_slash")
	revokeFamily := fs.Bool("revoke-refresh-family", false, "revoke every token of a grant when a rotated refresh token is reused (RFC 9700 4.14.2)")
	asJSON := fs.Bool("json", false, "print the issuer, clients and users as one JSON line")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return c.usageError(fs, "unexpected argument %q", fs.Arg(0))
	}

	opts := nextidentitytest.Options{
		Clients: []nextidentitytest.Client{nextidentitytest.DefaultClient()},
		Users:   []nextidentitytest.User{nextidentitytest.DefaultUser()},
	}
	if *config != "" {
		var err error
		if opts, err = loadFakeConfig(*config); err != nil {
			fmt.Fprintln(c.stderr, err)
			return exitFail
		}
	}
	if *revokeFamily {
		opts.RevokeRefreshFamilyOnReuse = true
	}
	ln, err := c.listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(c.stderr, "nextidentity: fake: %v (is another server using it? choose another -addr)\n", err)
		return exitFail
	}
	if !loopbackListener(ln) {
		fmt.Fprintf(c.stderr, exposedWarning, *addr, ln.Addr())
	}
	opts.Listener = ln
	opts.OnMessage = c.printMessage(*asJSON)
	srv, err := newFakeServer(opts)
	if err != nil {
		ln.Close()
		fmt.Fprintln(c.stderr, err)
		return exitFail
	}
	defer srv.Close()

	info := fakeInfo{
		Issuer:                     srv.Issuer(),
		Discovery:                  srv.URL + string(nextidentitytest.EndpointDiscovery),
		RevokeRefreshFamilyOnReuse: opts.RevokeRefreshFamilyOnReuse,
	}
	for _, cl := range opts.Clients {
		info.Clients = append(info.Clients, fakeClient{
			ID: cl.ID, Secret: cl.Secret, RedirectURIs: cl.RedirectURIs, PostLogoutRedirectURIs: cl.PostLogoutRedirectURIs,
			Scopes: cl.Scopes, AccessTokenFormat: cl.AccessTokenFormat, BackChannelLogoutURI: cl.BackChannelLogoutURI,
			Integration: cl.Integration, RateLimit: cl.RateLimit, Passwordless: cl.Passwordless, Privileged: cl.Privileged,
		})
	}
	for _, u := range opts.Users {
		info.Users = append(info.Users, fakeLogin{Email: u.Email, Password: u.Password, Subject: u.Subject})
	}
	if *asJSON {
		// One line, so a test harness can read it with a line reader.
		if err := writeJSONLine(c.stdout, info); err != nil {
			fmt.Fprintln(c.stderr, err)
			return exitFail
		}
	} else {
		c.printFakeInfo(info)
	}

	<-ctx.Done()
	srv.Close()
	fmt.Fprintln(c.stderr, "nextidentity: fake provider stopped")
	return exitOK
}

// newFakeServer starts the server, turning a panic on options the checks
// missed into an error.
func newFakeServer(opts nextidentitytest.Options) (srv *nextidentitytest.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("nextidentity: fake: %v", r)
		}
	}()
	return nextidentitytest.NewServer(opts), nil
}

func (c *cli) printFakeInfo(info fakeInfo) {
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "issuer:\t%s\n", printable(info.Issuer))
	fmt.Fprintf(w, "discovery:\t%s\n", printable(info.Discovery))
	for _, cl := range info.Clients {
		secret := cl.Secret
		if secret == "" {
			secret = "(public client: PKCE only)"
		}
		fmt.Fprintf(w, "client:\t%s\tsecret: %s\n", printable(cl.ID), printable(secret))
		for _, u := range cl.RedirectURIs {
			fmt.Fprintf(w, "\tredirect: %s\n", printable(u))
		}
		if len(cl.Scopes) > 0 {
			fmt.Fprintf(w, "\tclient credentials scopes: %s\n", printable(strings.Join(cl.Scopes, " ")))
		}
	}
	for _, u := range info.Users {
		sub := u.Subject
		if sub == "" {
			sub = "random"
		}
		fmt.Fprintf(w, "user:\t%s\tpassword: %s\tsub: %s\n", printable(u.Email), printable(u.Password), printable(sub))
	}
	if info.RevokeRefreshFamilyOnReuse {
		fmt.Fprintf(w, "refresh token reuse:\trevokes the whole grant (RFC 9700 4.14.2)\n")
	}
	w.Flush()
	first := info.Clients[0]
	fmt.Fprintf(c.stdout, "\nFor the example app and the other subcommands:\n")
	fmt.Fprintf(c.stdout, "  export %s=%s %s=%s", envIssuer, printable(info.Issuer), envClientID, printable(first.ID))
	if first.Secret != "" {
		fmt.Fprintf(c.stdout, " %s=%s", envClientSecret, printable(first.Secret))
	}
	if len(first.RedirectURIs) > 0 {
		fmt.Fprintf(c.stdout, " %s=%s", envRedirectURL, printable(usableRedirect(first.RedirectURIs[0])))
	}
	fmt.Fprintln(c.stdout)
	fmt.Fprintf(c.stdout, "\nServing; stop with Ctrl-C.\n")
}

// exampleAppPort is the port the example app (go run ./examples/webapp)
// listens on by default; login listens on whatever port it is given.
const exampleAppPort = "8080"

// usableRedirect is the redirect URL to print for the apps and the other
// subcommands: a loopback redirect URI registered without a port (the fake
// accepts any) gets the example app's port, since they listen on it.
func usableRedirect(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.Port() != "" {
		return uri
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return uri
	}
	u.Host = net.JoinHostPort(u.Hostname(), exampleAppPort)
	return u.String()
}

// fakeMessage is one message of the fake's outbox as the command prints it.
type fakeMessage struct {
	Message  string    `json:"message"` // the kind: "verification", "invite", ...
	AuthType string    `json:"auth_type"`
	To       string    `json:"to"`
	ClientID string    `json:"client_id"`
	UUID     string    `json:"uuid"`
	PIN      string    `json:"pin,omitempty"`
	Link     string    `json:"link,omitempty"`
	Text     string    `json:"text,omitempty"`
	At       time.Time `json:"at"`
}

// printMessage returns the fake's OnMessage: each message the provider
// would have sent, as a line on standard output, so that tests in other
// languages can read PINs and links. They are test values of a fake
// provider, printed on purpose.
func (c *cli) printMessage(asJSON bool) func(nextidentitytest.Message) {
	return func(m nextidentitytest.Message) {
		fm := fakeMessage{
			Message: string(m.Kind), AuthType: m.AuthType, To: m.To, ClientID: m.ClientID,
			UUID: m.UUID, PIN: m.PIN, Link: m.Link, Text: m.Text, At: m.At.UTC(),
		}
		if asJSON {
			if err := writeJSONLine(c.stdout, fm); err != nil {
				fmt.Fprintln(c.stderr, err)
			}
			return
		}
		line := fmt.Sprintf("message: %s to %s (%s, client %s)", fm.Message, fm.To, fm.AuthType, fm.ClientID)
		if fm.PIN != "" {
			line += " pin " + fm.PIN
		}
		if fm.Link != "" {
			line += " link " + fm.Link
		}
		fmt.Fprintln(c.stdout, line)
	}
}
