package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity"
)

const loginHelp = `Signs in from the terminal with the authorization code flow: it listens on
the redirect URL's loopback port, opens the browser at the provider's
sign-in page (or prints the URL with -no-browser), redeems the code when the
browser comes back, verifies the ID token with the library, calls /userinfo,
and prints the ID token's claims and the userinfo response. Tokens are
masked unless -show-tokens.

The redirect URL must be a loopback http URL with an explicit port, for
example http://127.0.0.1:8765/callback, registered with the tenant for this
client.`

// defaultLoginWait bounds the wait for the browser to come back.
const defaultLoginWait = 5 * time.Minute

// loginReport is the -json output of login.
type loginReport struct {
	Subject       string          `json:"sub"`
	IDTokenClaims json.RawMessage `json:"id_token_claims"`
	UserInfo      json.RawMessage `json:"userinfo,omitempty"`
	UserInfoError string          `json:"userinfo_error,omitempty"`
	Tokens        loginTokens     `json:"tokens"`
	// Warnings are problems that did not stop the sign-in (also printed on
	// stderr).
	Warnings []string `json:"warnings,omitempty"`
}

// loginTokens are the tokens, masked unless -show-tokens.
type loginTokens struct {
	Masked       bool      `json:"masked"`
	TokenType    string    `json:"token_type,omitempty"`
	AccessToken  string    `json:"access_token"`
	IDToken      string    `json:"id_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scope        string    `json:"scope,omitempty"`
}

func (c *cli) login(ctx context.Context, args []string) int {
	fs := c.newFlagSet("login", "-issuer URL -client-id ID [-client-secret S] -redirect-url http://127.0.0.1:PORT/callback [-no-browser] [-show-tokens] [-json]", loginHelp)
	t := tenantFlags(fs, true, "loopback callback URL registered for the client, e.g. http://127.0.0.1:8765/callback")
	noBrowser := fs.Bool("no-browser", false, "print the sign-in URL instead of opening the browser")
	showTokens := fs.Bool("show-tokens", false, "print the tokens in full (they are secrets)")
	scopes := fs.String("scopes", "openid profile email", "space-separated scopes to request")
	offline := fs.Bool("offline", false, "ask for a refresh token (access_type=offline, and the offline_access scope when discovery lists it)")
	authStyle := authStyleFlag(fs)
	wait := fs.Duration("wait", defaultLoginWait, "how long to wait for the browser to come back")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return c.usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	t.fill(c.env)
	if err := t.require(); err != nil {
		return c.usageError(fs, "%v", err)
	}
	if *wait <= 0 {
		return c.usageError(fs, "-wait must be positive")
	}
	style, err := parseAuthStyle(*authStyle)
	if err != nil {
		return c.usageError(fs, "%v", err)
	}
	redirect, err := loopbackRedirect(t.redirectURL)
	if err != nil {
		return c.usageError(fs, "%v", err)
	}

	client, err := nextidentity.New(ctx, nextidentity.Config{
		Issuer:       t.issuer,
		ClientID:     t.clientID,
		ClientSecret: t.clientSecret,
		RedirectURL:  t.redirectURL,
		Scopes:       strings.Fields(*scopes),
		AuthStyle:    style,
		HTTPClient:   &http.Client{Timeout: t.timeout},
		Now:          c.now,
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "%v\n(run \"nextidentity doctor\" with the same settings to find out why)\n", err)
		return exitFail
	}
	defer client.Close()
	var opts []nextidentity.AuthOption
	if *offline {
		opts = append(opts, nextidentity.WithOfflineAccess())
	}
	req, err := client.AuthCodeURL(opts...)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return exitFail
	}

	ln, err := c.listen("tcp", redirect.Host)
	if err != nil {
		fmt.Fprintf(c.stderr, "nextidentity: login: cannot listen on the redirect URL's address: %v\n", err)
		return exitFail
	}
	callbacks := make(chan url.Values, 1)
	srv := &http.Server{
		Handler:           callbackHandler(redirect.Path, req.State, callbacks),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at Shutdown
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // best effort: the process is done with it
	}()

	if *noBrowser {
		fmt.Fprintf(c.stderr, "Open this URL in a browser to sign in:\n\n  %s\n\n", req.URL)
	} else if err := c.openBrowser(ctx, req.URL); err != nil {
		fmt.Fprintf(c.stderr, "Could not open a browser (%v). Open this URL to sign in:\n\n  %s\n\n", err, req.URL)
	} else {
		fmt.Fprintf(c.stderr, "Opened the browser to sign in. If nothing happened, open:\n\n  %s\n\n", req.URL)
	}
	fmt.Fprintf(c.stderr, "Waiting for the provider to redirect to %s ...\n", t.redirectURL)

	var q url.Values
	timer := time.NewTimer(*wait)
	defer timer.Stop()
	select {
	case q = <-callbacks:
	case <-timer.C:
		fmt.Fprintf(c.stderr, "nextidentity: login: the browser did not come back to %s within %s\n", t.redirectURL, *wait)
		return exitFail
	case <-ctx.Done():
		fmt.Fprintln(c.stderr, "nextidentity: login: interrupted")
		return exitFail
	}

	tok, err := client.Exchange(ctx, q, req)
	if err != nil {
		fmt.Fprintf(c.stderr, "nextidentity: login: sign-in failed: %v\n", err)
		return exitFail
	}
	rep := loginReport{Subject: tok.IDToken.Subject, Tokens: tokensFor(tok, *showTokens), Warnings: loginWarnings(*offline, tok)}
	for _, w := range rep.Warnings {
		fmt.Fprintln(c.stderr, "nextidentity: login: warning: "+w)
	}
	var claims map[string]any
	if err := tok.IDToken.Claims(&claims); err == nil {
		rep.IDTokenClaims, _ = json.Marshal(claims)
	}
	code := exitOK
	info, err := client.UserInfo(ctx, tok)
	if err != nil {
		rep.UserInfoError = err.Error()
		code = exitFail
	} else {
		var m map[string]any
		if err := info.Claims(&m); err == nil {
			rep.UserInfo, _ = json.Marshal(m)
		}
	}
	if *asJSON {
		if err := c.writeJSON(rep); err != nil {
			fmt.Fprintln(c.stderr, err)
			return exitFail
		}
		return code
	}
	c.printLogin(rep, tok)
	return code
}

// loginWarnings are the warnings about a successful sign-in: an -offline
// sign-in that brought no refresh token.
func loginWarnings(offline bool, tok *nextidentity.Token) []string {
	if offline && tok.RefreshToken == "" {
		return []string{"-offline asked for a refresh token and the provider sent none: check that the client may use " +
			"refresh tokens, and run `nextidentity doctor` (a standard provider wants the offline_access scope, " +
			"which is sent only when discovery lists it)"}
	}
	return nil
}

// loopbackRedirect checks that raw is an http URL on a loopback host with
// an explicit port, which login can listen on.
func loopbackRedirect(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("-redirect-url (or $%s) is required, e.g. http://127.0.0.1:8765/callback", envRedirectURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-redirect-url: %w", err)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme != "http" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return nil, fmt.Errorf("-redirect-url %q: login listens on it, so it must be http on a loopback host (127.0.0.1, [::1] or localhost)", raw)
	}
	if u.Port() == "" || u.Port() == "0" {
		return nil, fmt.Errorf("-redirect-url %q: needs an explicit port, the one registered with the tenant", raw)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

var callbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nextidentity login</title></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>
`))

// callbackHandler hands the first request to path that carries state (the
// authorization request's) to callbacks and tells the browser to go back to
// the terminal. Any other request to path, which any web page the browser
// has open can send to a loopback port, is answered 400 and changes
// nothing: the command keeps waiting for the provider's redirect. The state
// is compared in constant time, so its timing does not tell a local page
// how much of a guess was right.
func callbackHandler(path, state string, callbacks chan<- url.Values) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		status := http.StatusOK
		// The code is redeemed and verified after this page is sent, so the
		// page does not claim success: the terminal has the result.
		title, msg := "Sign-in received", "Return to the terminal for the result; you can close this tab."
		switch {
		case len(q["state"]) != 1 || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			status = http.StatusBadRequest
			title, msg = "Not this sign-in", "This request does not carry the state of the sign-in the terminal is waiting for, so it was ignored. The terminal is still waiting."
		default:
			if e := q.Get("error"); e != "" {
				title, msg = "Sign-in failed", "The provider answered "+e+": "+q.Get("error_description")+". See the terminal."
			}
			select {
			case callbacks <- q:
			default:
				title, msg = "Already received", "This sign-in was already completed. Return to the terminal."
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		var buf bytes.Buffer
		if err := callbackPage.Execute(&buf, map[string]string{"Title": title, "Message": msg}); err != nil {
			http.Error(w, "nextidentity: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(status)
		w.Write(buf.Bytes()) //nolint:errcheck // the browser may have gone
	})
	return mux
}

func tokensFor(tok *nextidentity.Token, show bool) loginTokens {
	lt := loginTokens{
		Masked:       !show,
		TokenType:    tok.TokenType,
		AccessToken:  tok.AccessToken,
		IDToken:      tok.RawIDToken,
		RefreshToken: tok.RefreshToken,
		Expiry:       tok.Expiry,
		Scope:        tok.Scope,
	}
	if !show {
		lt.AccessToken, lt.IDToken, lt.RefreshToken = mask(lt.AccessToken), mask(lt.IDToken), mask(lt.RefreshToken)
	}
	return lt
}

func (c *cli) printLogin(rep loginReport, tok *nextidentity.Token) {
	who := printable(rep.Subject)
	if tok.IDToken.Email != "" {
		who += " (" + printable(tok.IDToken.Email) + ")"
	}
	c.paintln("32", "Signed in as "+who+"; the ID token verified.")
	fmt.Fprintf(c.stdout, "\nID token claims: %s\n", indentJSON(rep.IDTokenClaims))
	if rep.UserInfoError != "" {
		c.paintln("31", "\n/userinfo failed: "+printable(rep.UserInfoError))
	} else {
		fmt.Fprintf(c.stdout, "\n/userinfo: %s\n", indentJSON(rep.UserInfo))
	}
	fmt.Fprintln(c.stdout, "\nTokens:")
	fmt.Fprintf(c.stdout, "  access_token:  %s\n", rep.Tokens.AccessToken)
	if rep.Tokens.RefreshToken != "" {
		fmt.Fprintf(c.stdout, "  refresh_token: %s\n", rep.Tokens.RefreshToken)
	}
	fmt.Fprintf(c.stdout, "  id_token:      %s\n", rep.Tokens.IDToken)
	if !rep.Tokens.Expiry.IsZero() {
		fmt.Fprintf(c.stdout, "  expiry:        %s (%s)\n", rep.Tokens.Expiry.UTC().Format(time.RFC3339), relative(rep.Tokens.Expiry, c.now()))
	}
	if rep.Tokens.Scope != "" {
		fmt.Fprintf(c.stdout, "  scope:         %s\n", rep.Tokens.Scope)
	}
}

func indentJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}

// openSystemBrowser opens url with the desktop's handler. The opener is not
// tied to a context: the browser it starts must outlive the command.
func openSystemBrowser(_ context.Context, url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("nextidentity: opening a browser: %w", err)
	}
	go cmd.Wait() //nolint:errcheck // the opener's status says nothing about the sign-in
	return nil
}
