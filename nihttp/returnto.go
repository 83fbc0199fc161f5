package nihttp

import (
	"path"
	"strings"
)

// maxReturnTo bounds a return path.
const maxReturnTo = 2048

// localPath returns s as a path on this site that stays on it whatever
// normalises it later (http.Redirect's path.Clean, a browser reading "\" as
// "/" and dropping tabs and newlines), and false when s is not one.
//
// The rule: s is an absolute path ("/x", never "//x") made only of printable ASCII
// without "\" (so no byte can be read as another one), its path is cleaned
// here exactly as http.Redirect would clean it, and the cleaned result must
// still begin with one "/" followed by something other than "/". What is
// returned is the cleaned form, so nothing downstream changes it again.
func localPath(s string) (string, bool) {
	if len(s) < 1 || len(s) > maxReturnTo || s[0] != '/' || len(s) > 1 && s[1] == '/' {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "", false
		}
	}
	p, rest := s, ""
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		p, rest = s[:i], s[i:]
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if len(clean) > 1 && clean[1] == '/' {
		return "", false
	}
	return clean + rest, true
}
