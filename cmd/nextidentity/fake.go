package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

const fakeHelp = `Runs the fake Next Identity provider of package nextidentitytest as a
process, for tests in other languages, front-end work and compose files. It
serves discovery, the JWKS, /authorize with a hosted sign-in page, /register,
/personal-details, /token, /userinfo and /endsession with the provider's
token formats and error bodies.

The -addr address becomes the issuer (http://ADDR), so pick one the apps and
the browser can reach. With -addr 127.0.0.1:0 a free port is chosen; read the
issuer from the first line of output (-json makes that line a JSON object).

With no -config it serves the package's defaults: client "test-client",
secret "test-secret", redirect URI http://127.0.0.1/callback (on any port, as
RFC 8252 asks for loopback redirect URIs; a real tenant wants the exact URL
registered), and the user
jane@example.com with password "password". The -config file (JSON) adds
users with custom claims, clients with their redirect URIs, the signing
algorithm and an issuer with a trailing slash; testdata/fake.json in the
module is a complete example.

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
