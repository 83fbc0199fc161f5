package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/internal/httpx"
)

const inviteHelp = `Invites a user with the API integration's /pre-register (package account):
the provider creates the account with the profile given here and sends an
activation email (or, with -sms, a text message); the user sets a password and
accepts the terms on the hosted activation screens, then signs in.

USER is the invitee's email address (or mobile number with -sms). Profile
fields, by the provider's names, come from -profile (a JSON object, or
@FILE, or - for standard input) and from -field NAME=VALUE flags, which win.
Inviting the same user again is safe: -resend sends the activation message
again under the same UUID; without it the provider answers with the
existing account's UUID (or, on some tenants, refuses: "already exists").

The call authenticates with the client ID and secret (HTTP Basic), so the
secret is required; -redirect-url is where the activation ends.`

// maxProfileBytes bounds a -profile document.
const maxProfileBytes = 64 << 10

// inviteReport is the -json output of invite.
type inviteReport struct {
	UserID   string `json:"user_id"`
	UUID     string `json:"uuid"`
	Existing bool   `json:"existing"`
	Resent   bool   `json:"resent"`
}

// fieldFlags collects repeated -field NAME=VALUE flags.
type fieldFlags map[string]string

func (f fieldFlags) String() string { return "" }

func (f fieldFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, not %q", v)
	}
	f[name] = value
	return nil
}

func (c *cli) invite(ctx context.Context, args []string) int {
	fs := c.newFlagSet("invite", "-issuer URL -client-id ID -client-secret S -redirect-url URL [-sms] [-resend] [-profile JSON|@FILE|-] [-field NAME=VALUE]... [-json] USER", inviteHelp)
	t := tenantFlags(fs, true, "where the activation ends, registered for the client")
	sms := fs.Bool("sms", false, "USER is a mobile number: the activation goes by text message")
	resend := fs.Bool("resend", false, "send the activation message again (same UUID)")
	profile := fs.String("profile", "", "profile fields as a JSON object, @FILE, or - for standard input")
	locale := fs.String("locale", "", "language of the activation message, e.g. en-US")
	fields := fieldFlags{}
	fs.Var(fields, "field", "a profile field, NAME=VALUE (repeatable), e.g. -field firstName=Ada")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.usageError(fs, "want exactly one USER (an email address, or a mobile number with -sms)")
	}
	userID := fs.Arg(0)
	t.fill(c.env)
	if err := t.require(); err != nil {
		return c.usageError(fs, "%v", err)
	}
	if t.clientSecret == "" {
		return c.usageError(fs, "-client-secret (or $%s) is required: invites authenticate with the client's secret", envClientSecret)
	}
	if t.redirectURL == "" {
		return c.usageError(fs, "-redirect-url (or $%s) is required: the activation ends there", envRedirectURL)
	}
	fieldsFrom, err := c.profileFields(*profile)
	if err != nil {
		return c.usageError(fs, "-profile: %v", err)
	}
	for k, v := range fields {
		fieldsFrom[k] = v
	}

	client, err := nextidentity.New(ctx, nextidentity.Config{
		Issuer:       t.issuer,
		ClientID:     t.clientID,
		ClientSecret: t.clientSecret,
		RedirectURL:  t.redirectURL,
		HTTPClient:   &http.Client{Timeout: t.timeout},
		Now:          c.now,
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "%s\n(run \"nextidentity doctor\" with the same settings to find out why)\n", printable(err.Error()))
		return exitFail
	}
	defer client.Close()
	inv := account.Invitation{AuthType: account.Email, UserID: userID, Profile: fieldsFrom, Resend: *resend, Locale: *locale}
	if *sms {
		inv.AuthType = account.SMS
	}
	res, err := account.New(client).Invite(ctx, inv)
	if err != nil {
		fmt.Fprintf(c.stderr, "nextidentity: invite: %s\n", printable(inviteFailure(err)))
		return exitFail
	}
	rep := inviteReport{UserID: userID, UUID: res.UUID, Existing: res.Existing, Resent: *resend}
	if *asJSON {
		if err := c.writeJSON(rep); err != nil {
			fmt.Fprintln(c.stderr, err)
			return exitFail
		}
		return exitOK
	}
	switch {
	case rep.Resent:
		c.paintln("32", fmt.Sprintf("Sent the activation to %s again (uuid %s).", printable(userID), printable(res.UUID)))
	case rep.Existing:
		c.paintln("32", fmt.Sprintf("%s already had an account; it is now linked to client %s (uuid %s). Its profile was not changed.",
			printable(userID), printable(t.clientID), printable(res.UUID)))
	default:
		c.paintln("32", fmt.Sprintf("Invited %s (uuid %s): the activation is on its way.", printable(userID), printable(res.UUID)))
	}
	return exitOK
}

// profileFields reads -profile: a JSON object, @FILE or - (standard input).
func (c *cli) profileFields(v string) (map[string]any, error) {
	fields := map[string]any{}
	if v == "" {
		return fields, nil
	}
	var r io.Reader
	switch {
	case v == "-":
		r = c.stdin
	case strings.HasPrefix(v, "@"):
		f, err := os.Open(v[1:])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	default:
		r = strings.NewReader(v)
	}
	b, err := httpx.ReadAll(r, maxProfileBytes)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		return nil, errors.New("want a JSON object of profile fields, such as {\"firstName\":\"Ada\"}")
	}
	return fields, nil
}

// inviteFailure explains a refused invitation in the terms of the fix.
func inviteFailure(err error) string {
	switch {
	case errors.Is(err, account.ErrUserExists):
		return "the user already has an account (" + err.Error() + "); use -resend to send the activation again"
	case errors.Is(err, nextidentity.ErrUnauthorized):
		return "the provider refused the client ID and secret (" + err.Error() + ")"
	case errors.Is(err, account.ErrForbidden):
		return "the client may not invite users (" + err.Error() + "): check its integration type and features in the Console"
	case errors.Is(err, account.ErrRateLimited):
		return "rate limited (" + err.Error() + "); try again later"
	}
	return err.Error()
}
