package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Check statuses.
const (
	statusOK         = "ok"
	statusFail       = "fail"
	statusWarn       = "warn"
	statusSkipped    = "skipped"
	statusNotChecked = "not checked"
)

// check is the result of one check of doctor or verify.
type check struct {
	// Name is a short stable identifier, e.g. "discovery" or "signature".
	Name string `json:"name"`
	// Status is one of ok, fail, warn, skipped, "not checked".
	Status string `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail,omitempty"`
	// Hint says how to fix a failure.
	Hint string `json:"hint,omitempty"`
}

// colorAllowed reports whether w is a terminal and the environment does not
// ask for plain output (NO_COLOR, TERM=dumb).
func colorAllowed(w io.Writer, env func(string) string) bool {
	if env("NO_COLOR") != "" || env("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printCheck writes one check as one line (plus an indented fix hint).
func (c *cli) printCheck(ch check) {
	switch ch.Status {
	case statusOK:
		c.painted("32", "ok  ")
	case statusFail:
		c.painted("31", "FAIL")
	case statusWarn:
		c.painted("33", "WARN")
	case statusSkipped:
		io.WriteString(c.stdout, "skip") //nolint:errcheck // as fmt.Fprint
	case statusNotChecked:
		io.WriteString(c.stdout, "  - ") //nolint:errcheck // as fmt.Fprint
	default:
		io.WriteString(c.stdout, printable(strings.ToUpper(ch.Status))) //nolint:errcheck // as fmt.Fprint
	}
	line := fmt.Sprintf("  %-12s %s", printable(ch.Name), printable(ch.Detail))
	fmt.Fprintln(c.stdout, strings.TrimRight(line, " "))
	if ch.Hint != "" && (ch.Status == statusFail || ch.Status == statusWarn) {
		fmt.Fprintf(c.stdout, "      %-12s fix: %s\n", "", printable(ch.Hint))
	}
}

// writeJSON writes v as indented JSON to stdout.
func (c *cli) writeJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("nextidentity: writing JSON: %w", err)
	}
	return nil
}

// mask hides a token, keeping enough to tell tokens apart.
func mask(tok string) string {
	if tok == "" {
		return ""
	}
	if len(tok) <= 32 { // short opaque tokens: even a few characters say too much
		return fmt.Sprintf("***** (%d characters; -show-tokens to show)", len(tok))
	}
	return fmt.Sprintf("%s…%s (%d characters; -show-tokens to show)", tok[:4], tok[len(tok)-4:], len(tok))
}

// writeJSONLine writes v as one line of JSON to w.
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("nextidentity: writing JSON: %w", err)
	}
	return nil
}

// Terminal safety. Tokens, provider answers and config files are not ours:
// a claim value, an error_description or a user's email can carry escape
// sequences that recolour, retitle or rewrite the terminal, or a newline
// and carriage return that forge a line of our own. Every byte the command
// writes to stdout and stderr goes through a terminalWriter, which escapes
// every control character but the newline and tab the command lays its
// output out with; printable escapes those too, for values inside a line.
// Colours are the only escape sequences written, by painted, straight to
// the terminal.

// escapeRune reports whether r must not reach a terminal as itself: C0
// controls, DEL and C1 controls (which 8-bit terminals read as CSI and
// friends), Unicode format characters (bidirectional overrides, zero-width
// characters) and the line and paragraph separators.
func escapeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// appendPrintable appends s to dst with every character escapeRune names,
// and every byte that is not UTF-8, written as a \uXXXX escape (U+FFFD for
// a stray byte); with layout, newlines and tabs are kept. The escapes are
// JSON's, so JSON output stays valid JSON that decodes to the same text.
func appendPrintable(dst []byte, s string, layout bool) []byte {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, `\ufffd`...)
		case layout && (r == '\n' || r == '\t'):
			dst = append(dst, byte(r))
		case escapeRune(r):
			dst = fmt.Appendf(dst, `\u%04x`, r)
		default:
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

// printable returns s safe to print inside a line: every control and
// format character, newlines and tabs included, escaped.
func printable(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return string(appendPrintable(make([]byte, 0, len(s)+16), s, false))
		}
	}
	return s
}

// terminalWriter escapes what it writes as appendPrintable does with
// layout. It reports len(p) written when the whole escaped text was.
type terminalWriter struct{ w io.Writer }

func (t terminalWriter) Write(p []byte) (int, error) {
	if _, err := t.w.Write(appendPrintable(make([]byte, 0, len(p)+16), string(p), true)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// paintln is painted and a newline.
func (c *cli) paintln(code, s string) {
	c.painted(code, s)
	fmt.Fprintln(c.stdout)
}

// painted writes s in an ANSI colour when colours are allowed: the colour
// codes go to the terminal directly, s through stdout's escaping.
func (c *cli) painted(code, s string) {
	if c.color {
		io.WriteString(c.rawStdout, "\x1b["+code+"m") //nolint:errcheck // as fmt.Fprint to stdout
	}
	io.WriteString(c.stdout, s) //nolint:errcheck // as fmt.Fprint to stdout
	if c.color {
		io.WriteString(c.rawStdout, "\x1b[0m") //nolint:errcheck // as fmt.Fprint to stdout
	}
}
