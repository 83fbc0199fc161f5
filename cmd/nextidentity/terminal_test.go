package main

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// hostile is text that would drive a terminal if printed raw: a colour and
// a screen clear, a window title (OSC ... BEL), a carriage return and
// newline that forge a line of our own, DEL, the C1 CSI as a character and
// as a lone byte, and a bidirectional override.
const hostile = "x\x1b[31mred\x1b[2J\x1b]0;pwned\x07\r\nok    signature    forged\x7f\u009b31m\x9b\u202e\x00"

// requireTerminalSafe checks that out holds no character that drives a
// terminal: no C0 control but newline, no DEL, no C1 control (as a
// character or as a byte outside UTF-8), no format character, and no line
// the command did not write.
func requireTerminalSafe(t *testing.T, out string) {
	t.Helper()
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRuneInString(out[i:])
		require.False(t, r == utf8.RuneError && n == 1, "a byte that is not UTF-8 (%#x) at %d in %q", out[i], i, out)
		require.True(t, r == '\n' || !escapeRune(r), "character %U at %d in %q", r, i, out)
		i += n
	}
	for _, line := range strings.Split(out, "\n") {
		require.False(t, strings.HasPrefix(line, "ok    signature    forged"), "a forged line in %q", out)
	}
}

// verify prints an unverified token's values in its check lines, its
// claims and its error; none of it reaches the terminal raw, in any mode.
func TestVerifyHostileTokenWritesNoControlCharacter(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	signed := sign(t, srv, claimsFor(srv, map[string]any{"iss": hostile, "sub": hostile, "name": hostile, hostile: hostile}))
	parts := strings.Split(signed, ".")
	// The header and payload raw, with bytes JSON allows unescaped.
	rawHeader := `{"alg":"RS256","kid":"x\u001b[2J\r\n` + "\x7f\u009b\x9b\u202e" + `","typ":"JWT"}`
	rawPayload := `{"iss":"i","sub":"` + "\x7f\u009b\x9b\u202e" + `","aud":"a"}`
	unsigned := b64url([]byte(rawHeader)) + "." + b64url([]byte(rawPayload)) + "." + parts[2]
	for _, tok := range []string{signed, unsigned} {
		for _, args := range [][]string{
			{"verify", tok},
			{"verify", "-json", tok},
			{"verify", "-no-verify", tok},
			{"verify", "-no-verify", "-json", tok},
			{"verify", "-nonce", hostile, tok},
		} {
			code, stdout, stderr := runCmd(t, tenantEnv(srv), "", args...)
			require.Equal(t, map[bool]int{true: exitOK, false: exitFail}[args[1] == "-no-verify"], code, stderr)
			requireTerminalSafe(t, stdout)
			requireTerminalSafe(t, stderr)
			if args[1] == "-json" || len(args) > 2 && args[2] == "-json" {
				var rep map[string]any
				require.NoError(t, json.Unmarshal([]byte(stdout), &rep), "escaped JSON is still JSON: %q", stdout)
			}
		}
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want, layout string }{
		{"plain text, é ü 日本", "plain text, é ü 日本", "plain text, é ü 日本"},
		{"a\nb\tc", `a\u000ab\u0009c`, "a\nb\tc"},
		{"\x1b[31mred\x1b[0m", `\u001b[31mred\u001b[0m`, `\u001b[31mred\u001b[0m`},
		{"bell\x07 del\x7f nul\x00 cr\r", `bell\u0007 del\u007f nul\u0000 cr\u000d`, `bell\u0007 del\u007f nul\u0000 cr\u000d`},
		{"csi\u009b byte\x9b", `csi\u009b byte\ufffd`, `csi\u009b byte\ufffd`},
		{"rlo\u202e zwsp\u200b ls\u2028", `rlo\u202e zwsp\u200b ls\u2028`, `rlo\u202e zwsp\u200b ls\u2028`},
	} {
		require.Equal(t, tc.want, printable(tc.in), "%q", tc.in)
		require.Equal(t, tc.layout, string(appendPrintable(nil, tc.in, true)), "%q", tc.in)
	}
}

// login prints the provider's sub, email and claims: none of it raw.
func TestLoginHostileClaimsWriteNoControlCharacter(t *testing.T) {
	u := nextidentitytest.DefaultUser()
	u.Subject = "sub-" + hostile
	u.Name = hostile
	u.Claims = map[string]any{"membership": hostile}
	s := newLoginSetup(t, nextidentitytest.Options{Users: []nextidentitytest.User{u}})
	c := s.cli(t, s.fakeBrowser(t, u.Email, u.Password))
	code := c.run(t.Context(), []string{"login", "-wait", "30s"})
	require.Equal(t, exitOK, code, c.errOut.String())
	requireTerminalSafe(t, c.out.String())
	requireTerminalSafe(t, c.errOut.String())
	require.Contains(t, c.out.String(), `Signed in as sub-x\u001b[31mred`)
}
