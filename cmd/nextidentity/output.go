package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
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

// paint wraps s in an ANSI colour when colours are allowed.
func (c *cli) paint(code, s string) string {
	if !c.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// printCheck writes one check as one line (plus an indented fix hint).
func (c *cli) printCheck(ch check) {
	label := strings.ToUpper(ch.Status)
	switch ch.Status {
	case statusOK:
		label = c.paint("32", "ok  ")
	case statusFail:
		label = c.paint("31", "FAIL")
	case statusWarn:
		label = c.paint("33", "WARN")
	case statusSkipped:
		label = "skip"
	case statusNotChecked:
		label = "  - "
	}
	line := fmt.Sprintf("%s  %-12s %s", label, ch.Name, ch.Detail)
	fmt.Fprintln(c.stdout, strings.TrimRight(line, " "))
	if ch.Hint != "" && (ch.Status == statusFail || ch.Status == statusWarn) {
		fmt.Fprintf(c.stdout, "      %-12s fix: %s\n", "", ch.Hint)
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
