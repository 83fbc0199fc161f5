package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/httpx"
	"github.com/oidc-kit/nextidentity/internal/keys"
)

const verifyHelp = `Verifies an ID token against the tenant with the library's own checks
(nextidentity.Client.VerifyIDToken): the signature with a key from the
tenant's JWKS (or, for HS256, the -client-secret), then iss, aud/azp, sub,
exp and iat, and the nonce when -nonce is given. It prints each check's
result and the token's header and claims. Verification stops at the first
failing check, as the library does; the checks after it are "not checked".

TOKEN is the compact ID token, or "-" to read it from standard input.

-no-verify only decodes the token: nothing is checked, a warning goes to
standard error and the -json output says "verified": false.`

// maxTokenBytes bounds a token read from standard input.
const maxTokenBytes = 64 << 10

// noVerifyWarning is printed, and put in the JSON, with -no-verify.
const noVerifyWarning = "NOT VERIFIED: -no-verify only decoded the token; its signature and claims were not checked, so nothing in it can be trusted"

// verifyReport is the -json output of verify.
type verifyReport struct {
	// Verified is true only when every check passed.
	Verified bool `json:"verified"`
	// Warning is set when the token was not verified on purpose.
	Warning string `json:"warning,omitempty"`
	// Error is the verification error, when there is one.
	Error string `json:"error,omitempty"`
	// Issuer and ClientID are what the token was checked against.
	Issuer   string `json:"issuer,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	// Checks in the order the library makes them.
	Checks []check         `json:"checks,omitempty"`
	Header json.RawMessage `json:"header,omitempty"`
	Claims json.RawMessage `json:"claims,omitempty"`
}

// The checks of an ID token, in the order VerifyIDToken makes them.
const (
	checkFormat    = "format"
	checkSignature = "signature"
	checkIssuer    = "issuer"
	checkAudience  = "audience"
	checkSubject   = "subject"
	checkExpiry    = "expiry"
	checkIssuedAt  = "issued-at"
	checkNonce     = "nonce"
)

func (c *cli) verify(ctx context.Context, args []string) int {
	fs := c.newFlagSet("verify", "[-issuer URL -client-id ID] [-client-secret S] [-nonce N] [-no-verify] [-json] TOKEN|-", verifyHelp)
	t := tenantFlags(fs, false, "")
	nonce := fs.String("nonce", "", "the nonce the sign-in sent; when set, the token's must equal it")
	noVerify := fs.Bool("no-verify", false, "decode only: check nothing (says so loudly)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.usageError(fs, "want exactly one TOKEN argument (or - for standard input), got %d", fs.NArg())
	}
	t.fill(c.env)
	raw, err := c.readToken(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return exitFail
	}
	dec, decErr := decodeJWT(raw)

	if *noVerify {
		fmt.Fprintln(c.stderr, "WARNING: "+noVerifyWarning) // plain: colour is for a terminal stdout only
		if decErr != nil {
			fmt.Fprintf(c.stderr, "nextidentity: verify: %v\n", decErr)
			return exitFail
		}
		rep := verifyReport{Warning: noVerifyWarning, Header: dec.header, Claims: dec.claims}
		if *asJSON {
			if err := c.writeJSON(rep); err != nil {
				fmt.Fprintln(c.stderr, err)
				return exitFail
			}
			return exitOK
		}
		c.printToken(dec)
		c.paintln("1;31", noVerifyWarning)
		return exitOK
	}

	if err := t.require(); err != nil {
		return c.usageError(fs, "%v (or use -no-verify to decode only)", err)
	}
	rep := verifyReport{Issuer: t.issuer, ClientID: t.clientID}
	if decErr == nil {
		rep.Header, rep.Claims = dec.header, dec.claims
	}
	client, err := nextidentity.New(ctx, nextidentity.Config{
		Issuer:       t.issuer,
		ClientID:     t.clientID,
		ClientSecret: t.clientSecret,
		HTTPClient:   &http.Client{Timeout: t.timeout},
		Now:          c.now,
	})
	if err != nil {
		rep.Error = err.Error()
		rep.Checks = []check{{Name: "discovery", Status: statusFail, Detail: err.Error(),
			Hint: "run \"nextidentity doctor\" with the same -issuer and -client-id"}}
		return c.finishVerify(rep, dec, *asJSON)
	}
	defer client.Close()

	tok, verr := client.VerifyIDToken(ctx, raw, *nonce)
	if verr != nil {
		rep.Error = verr.Error()
	} else {
		rep.Verified = true
	}
	rep.Checks = idTokenChecks(tok, verr, dec, *nonce != "", c.now())
	return c.finishVerify(rep, dec, *asJSON)
}

func (c *cli) finishVerify(rep verifyReport, dec *decodedJWT, asJSON bool) int {
	code := exitOK
	if !rep.Verified {
		code = exitFail
	}
	if asJSON {
		if err := c.writeJSON(rep); err != nil {
			fmt.Fprintln(c.stderr, err)
			return exitFail
		}
		return code
	}
	for _, ch := range rep.Checks {
		c.printCheck(ch)
	}
	if dec != nil {
		fmt.Fprintln(c.stdout)
		c.printToken(dec)
	}
	if rep.Verified {
		c.paintln("32", fmt.Sprintf("verified: a valid ID token of %s for client %s", printable(rep.Issuer), printable(rep.ClientID)))
	} else {
		c.paintln("31", "NOT VERIFIED: "+printable(rep.Error))
	}
	return code
}

// readToken returns the token argument, or standard input for "-".
func (c *cli) readToken(arg string) (string, error) {
	if arg != "-" {
		return strings.TrimSpace(arg), nil
	}
	b, err := httpx.ReadAll(c.stdin, maxTokenBytes)
	if err != nil {
		return "", fmt.Errorf("nextidentity: verify: reading the token from standard input: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("nextidentity: verify: standard input is empty")
	}
	return tok, nil
}

// decodedJWT is a token's header and payload, decoded without any check.
type decodedJWT struct {
	header, claims json.RawMessage
}

// decodeJWT splits and decodes a compact JWS for display only.
func decodeJWT(raw string) (*decodedJWT, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("nextidentity: not a compact JWT: %d dot-separated parts, want 3", len(parts))
	}
	var d decodedJWT
	for i, dst := range []*json.RawMessage{&d.header, &d.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, fmt.Errorf("nextidentity: JWT part %d is not base64url: %w", i+1, err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("nextidentity: JWT part %d is not a JSON object: %w", i+1, err)
		}
		*dst = b
	}
	return &d, nil
}

// field returns a claim or header value as a string, for display.
func (d *decodedJWT) field(fromHeader bool, name string) (json.RawMessage, bool) {
	if d == nil {
		return nil, false
	}
	src := d.claims
	if fromHeader {
		src = d.header
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(src, &obj) != nil {
		return nil, false
	}
	v, ok := obj[name]
	return v, ok
}

func (d *decodedJWT) str(fromHeader bool, name string) string {
	v, ok := d.field(fromHeader, name)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// time returns a NumericDate claim.
func (d *decodedJWT) time(name string) (time.Time, bool) {
	v, ok := d.field(false, name)
	if !ok {
		return time.Time{}, false
	}
	var f float64
	if json.Unmarshal(v, &f) != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// printToken writes the header and the indented claims, with the time
// claims spelled out.
func (c *cli) printToken(d *decodedJWT) {
	fmt.Fprintf(c.stdout, "header: %s\n", compactJSON(d.header))
	var buf bytes.Buffer
	if json.Indent(&buf, d.claims, "", "  ") == nil {
		fmt.Fprintf(c.stdout, "claims: %s\n", buf.String())
	}
	for _, name := range []string{"iat", "auth_time", "exp"} {
		if t, ok := d.time(name); ok {
			fmt.Fprintf(c.stdout, "%-9s %s (%s)\n", name+":", t.Format(time.RFC3339), relative(t, c.now()))
		}
	}
}

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// relative says how far t is from now, e.g. "in 59m59s" or "2h0m0s ago".
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d == 0 {
		return "now"
	}
	if d > 0 {
		return "in " + d.String()
	}
	return (-d).String() + " ago"
}

// idTokenChecks turns VerifyIDToken's result into one line per check.
// VerifyIDToken stops at the first failure, so the checks before the
// failing one passed and the ones after it were not made.
func idTokenChecks(tok *nextidentity.IDToken, err error, d *decodedJWT, withNonce bool, now time.Time) []check {
	names := []string{checkFormat, checkSignature, checkIssuer, checkAudience, checkSubject, checkExpiry, checkIssuedAt}
	if withNonce {
		names = append(names, checkNonce)
	}
	failed := ""
	if err != nil {
		failed = failedCheck(err, d, now)
	}
	var out []check
	reached := true
	for _, name := range names {
		ch := check{Name: name, Detail: checkDetail(name, tok, d, now)}
		switch {
		case name == failed:
			ch.Status, ch.Detail, ch.Hint = statusFail, err.Error(), checkHint(name)
			reached = false
		case reached:
			ch.Status = statusOK
		default:
			ch.Status = statusNotChecked
		}
		out = append(out, ch)
	}
	return out
}

// failedCheck names the check err comes from: by its sentinel where the
// library has one, else from what the decoded token lacks.
func failedCheck(err error, d *decodedJWT, now time.Time) string {
	switch {
	case errors.Is(err, nextidentity.ErrInvalidSignature),
		errors.Is(err, keys.ErrFetch), errors.Is(err, nextidentity.ErrResponseTooLarge):
		return checkSignature
	case errors.Is(err, nextidentity.ErrIssuerMismatch):
		return checkIssuer
	case errors.Is(err, nextidentity.ErrAudienceMismatch):
		return checkAudience
	case errors.Is(err, nextidentity.ErrTokenExpired):
		return checkExpiry
	case errors.Is(err, nextidentity.ErrNonceMismatch):
		return checkNonce
	}
	if d == nil {
		return checkFormat
	}
	if d.str(false, "sub") == "" {
		return checkSubject
	}
	if _, ok := d.time("exp"); !ok {
		return checkExpiry
	}
	if iat, ok := d.time("iat"); !ok || iat.After(now) {
		return checkIssuedAt
	}
	// Left: a payload the library cannot read, e.g. a claim whose name
	// differs from a registered one only in case.
	return checkFormat
}

// checkDetail describes what a check looks at.
func checkDetail(name string, tok *nextidentity.IDToken, d *decodedJWT, now time.Time) string {
	if d == nil {
		return ""
	}
	switch name {
	case checkFormat:
		return "compact JWS with a JSON header and payload"
	case checkSignature:
		kid := d.str(true, "kid")
		if kid == "" {
			return d.str(true, "alg") + " (no kid)"
		}
		return fmt.Sprintf("%s, kid %q", d.str(true, "alg"), kid)
	case checkIssuer:
		return "iss " + d.str(false, "iss")
	case checkAudience:
		s := "aud " + d.str(false, "aud")
		if azp := d.str(false, "azp"); azp != "" {
			s += ", azp " + azp
		}
		return s
	case checkSubject:
		return "sub " + d.str(false, "sub")
	case checkExpiry:
		if t, ok := d.time("exp"); ok {
			return fmt.Sprintf("exp %s (%s)", t.Format(time.RFC3339), relative(t, now))
		}
		return "no exp"
	case checkIssuedAt:
		if t, ok := d.time("iat"); ok {
			return fmt.Sprintf("iat %s (%s)", t.Format(time.RFC3339), relative(t, now))
		}
		return "no iat"
	case checkNonce:
		return "nonce " + d.str(false, "nonce")
	}
	return ""
}

// checkHint says what usually causes a check to fail.
func checkHint(name string) string {
	switch name {
	case checkFormat:
		return "pass the whole ID token (three base64url parts separated by dots), not an access token"
	case checkSignature:
		return "check that the token comes from this tenant (its JWKS), or pass the client secret for HS256 tokens"
	case checkIssuer:
		return "-issuer must equal the token's iss exactly, trailing slash included"
	case checkAudience:
		return "-client-id must be the client the token was issued to (aud/azp)"
	case checkSubject:
		return "the provider issued a token without sub; this is not a valid ID token"
	case checkExpiry:
		return "get a new token by signing in again; if it should be valid, check this machine's clock"
	case checkIssuedAt:
		return "the token is issued in the future: check this machine's clock (nextidentity doctor shows the difference)"
	case checkNonce:
		return "-nonce must be the nonce of the sign-in that produced this token"
	}
	return ""
}
