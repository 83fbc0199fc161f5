package nihttp

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The cookie store compresses a session before sealing it when that makes
// it smaller: custom claims (entitlements, roles, groups) repeat a lot, and
// a smaller session means smaller Cookie headers on every request and more
// room under the browsers' per-cookie limit.
//
// Compressing before encrypting leaks the plaintext through the length
// only when an attacker can put chosen data into the same compressed
// message as a secret and watch the length (CRIME, BREACH). A session
// cookie holds one user's own data, sealed by the server and never mixed
// with another user's or with request data an attacker controls, so its
// length tells nothing about anyone else's data.

// errInflate is what inflate wraps for a stream it refuses.
var errInflate = errors.New("nihttp: bad compressed session")

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestCompression) // never fails for a valid level
	return w
}}

// inflater is a pooled DEFLATE reader with its source, so that opening a
// cookie allocates neither (flate's decompressor holds a 32 KB window).
type inflater struct {
	src bytes.Reader
	r   io.ReadCloser
}

var inflaters = sync.Pool{New: func() any {
	f := new(inflater)
	f.r = flate.NewReader(&f.src)
	return f
}}

// appendDeflate appends the uncompressed length (uvarint) of b and b
// compressed with DEFLATE (RFC 1951) to dst.
func appendDeflate(dst, b []byte) []byte {
	buf := bytes.NewBuffer(binary.AppendUvarint(dst, uint64(len(b))))
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(buf)
	w.Write(b) // a bytes.Buffer never fails
	w.Close()
	return buf.Bytes()
}

// inflate reverses appendDeflate, refusing a stream that claims or
// produces more than max bytes (a "zip bomb": a few hundred bytes inflate
// to megabytes) or that does not end where it should.
func inflate(b []byte, max int) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(max) {
		return nil, fmt.Errorf("%w: bad or too large length", errInflate)
	}
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.src.Reset(b[k:])
	if err := f.r.(flate.Resetter).Reset(&f.src, nil); err != nil {
		return nil, fmt.Errorf("%w: %w", errInflate, err)
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(f.r, out); err != nil {
		return nil, fmt.Errorf("%w: %w", errInflate, err)
	}
	// The stream must end here: no more data, and nothing after it.
	var one [1]byte
	if m, err := f.r.Read(one[:]); m != 0 || err != io.EOF || f.src.Len() != 0 {
		return nil, fmt.Errorf("%w: longer than its stated length", errInflate)
	}
	return out, nil
}
