package nextidentity_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeSnippetsCompile extracts every ```go block of README.md and of
// every page under docs/, and builds them against this module, so the
// documentation cannot drift from the API. Each page's blocks form one
// package of their own.
//
// A block that starts with a declaration (func, type, var, const) is a
// complete file and must stand alone. Any other block is the body of a
// function that returns an error and is given these variables, which the
// pages' prose takes for granted:
//
//	ctx          context.Context
//	key          []byte                     // nihttp sealing key
//	w            http.ResponseWriter        // inside a handler
//	r            *http.Request
//	mux          *http.ServeMux
//	client       *nextidentity.Client       // also service, api: other apps' clients
//	req          *nextidentity.AuthRequest  // a pending sign-in; also reqA, reqB
//	queue        interface{ Add(context.Context, any) error } // the app's job queue
//	listOrders   http.Handler               // an app's handler
//	srv          *nextidentitytest.Server   // a fake provider
//	browser      *nextidentitytest.Browser  // one of its browsers
//
// Variables a body declares and never reads (an example showing what a call
// returns) are not an error. Imports are added for the packages a block
// names. Compiler errors point at the page's lines.
func TestReadmeSnippetsCompile(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the snippets")

	pages := docPages(t)
	// A directory inside the module, so the module's packages and its
	// go.mod requirements resolve; "_" keeps it out of ./... patterns.
	dir, err := os.MkdirTemp(".", "_readme_snippets_")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	total := 0
	var pkgs []string
	for p, page := range pages {
		snippets := readmeSnippets(t, page)
		total += len(snippets)
		abs, err := filepath.Abs(page)
		require.NoError(t, err)
		if len(snippets) == 0 {
			continue
		}
		pkg := filepath.Join(dir, fmt.Sprintf("page%d", p))
		require.NoError(t, os.Mkdir(pkg, 0o755))
		// Named one by one: a "..." pattern skips directories whose
		// names start with "_", and would match nothing.
		pkgs = append(pkgs, "./"+filepath.ToSlash(pkg))
		for i, s := range snippets {
			src := snippetFile(t, i, s, abs)
			require.NoError(t, os.WriteFile(filepath.Join(pkg, fmt.Sprintf("snippet%d.go", i)), src, 0o644))
		}
	}
	require.NotZero(t, total)
	cmd := exec.Command(goBin, append([]string{"build"}, pkgs...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "documentation snippets do not compile:\n%s", out)
}

// docPages are README.md and the pages under docs/.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	return append([]string{"README.md"}, pages...)
}

// TestReadmeLinksEveryDocPage: the README is the map; a page under docs/
// that it does not link is a page nobody finds.
func TestReadmeLinksEveryDocPage(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, page := range docPages(t)[1:] {
		require.Contains(t, string(readme), "]("+filepath.ToSlash(page)+")", "README.md links %s", page)
	}
}

// readmeSnippet is one ```go block and the README line of its first line.
type readmeSnippet struct {
	line int
	code string
}

func readmeSnippets(t *testing.T, path string) []readmeSnippet {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []readmeSnippet
	var cur *readmeSnippet
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &readmeSnippet{line: n + 1}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "unterminated ```go block")
	return out
}

// snippetImports maps the package names README blocks use to their paths.
var snippetImports = map[string]string{
	"context":          "context",
	"errors":           "errors",
	"fmt":              "fmt",
	"http":             "net/http",
	"json":             "encoding/json",
	"log":              "log",
	"os":               "os",
	"slog":             "log/slog",
	"testing":          "testing",
	"time":             "time",
	"url":              "net/url",
	"require":          "github.com/stretchr/testify/require",
	"nextidentity":     "github.com/oidc-kit/nextidentity",
	"nextidentitytest": "github.com/oidc-kit/nextidentity/nextidentitytest",
	"nihttp":           "github.com/oidc-kit/nextidentity/nihttp",
	"redisstore":       "github.com/oidc-kit/nextidentity/nihttp/redisstore",
	"redis":            "github.com/redis/go-redis/v9",
	"events":           "github.com/oidc-kit/nextidentity/events",
	"oauth2":           "golang.org/x/oauth2",
	"httptest":         "net/http/httptest",
	"signal":           "os/signal",
	"account":          "github.com/oidc-kit/nextidentity/account",
	"cookiejar":        "net/http/cookiejar",
	"hex":              "encoding/hex",
	"io":               "io",
	"strings":          "strings",
}

var declStart = regexp.MustCompile(`^(func|type|var|const)\b`)

// snippetFile is the Go file that builds snippet i.
func snippetFile(t *testing.T, i int, s readmeSnippet, readme string) []byte {
	t.Helper()
	topLevel := declStart.MatchString(strings.TrimLeft(s.code, " \t\n"))
	used := map[string]bool{}
	for name := range snippetImports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(s.code) {
			used[name] = true
		}
	}
	if !topLevel { // the given variables' types
		used["context"], used["http"], used["nextidentity"], used["nextidentitytest"] = true, true, true, true
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by TestReadmeSnippetsCompile. DO NOT EDIT.\n\npackage readmesnippets\n\nimport (\n")
	names := make([]string, 0, len(used))
	for name := range used {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "\t%s %q\n", name, snippetImports[name])
	}
	b.WriteString(")\n\n")
	if topLevel {
		fmt.Fprintf(&b, "//line %s:%d\n%s", readme, s.line, s.code)
		return b.Bytes()
	}
	fmt.Fprintf(&b, "func snippet%d(ctx context.Context, key []byte, w http.ResponseWriter, r *http.Request, "+
		"mux *http.ServeMux, client, service, api *nextidentity.Client, req, reqA, reqB *nextidentity.AuthRequest, "+
		"queue interface{ Add(context.Context, any) error }, listOrders http.Handler, "+
		"srv *nextidentitytest.Server, browser *nextidentitytest.Browser) error {\n\t{\n", i)
	fmt.Fprintf(&b, "//line %s:%d\n%s", readme, s.line, s.code)
	for _, name := range declaredNames(t, s) {
		fmt.Fprintf(&b, "\t\t_ = %s\n", name)
	}
	b.WriteString("\t}\n\treturn nil\n}\n")
	return b.Bytes()
}

// declaredNames lists the variables a function-body snippet declares at its
// top level, so that showing a result without reading it still compiles.
func declaredNames(t *testing.T, s readmeSnippet) []string {
	t.Helper()
	src := "package p\nfunc _() {\n" + s.code + "\n}\n"
	f, err := parser.ParseFile(token.NewFileSet(), "", src, 0)
	require.NoError(t, err, "line %d: block does not parse as a function body", s.line)
	var names []string
	add := func(id *ast.Ident) {
		if id.Name != "_" && !slices.Contains(names, id.Name) {
			names = append(names, id.Name)
		}
	}
	for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok == token.DEFINE {
				for _, e := range st.Lhs {
					add(e.(*ast.Ident))
				}
			}
		case *ast.DeclStmt:
			if gd, ok := st.Decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, spec := range gd.Specs {
					for _, id := range spec.(*ast.ValueSpec).Names {
						add(id)
					}
				}
			}
		}
	}
	return names
}
