// Package httpx holds the bounded body reader every provider response goes
// through.
package httpx

import (
	"errors"
	"io"
)

// ErrTooLarge is returned when a body is longer than the limit.
var ErrTooLarge = errors.New("httpx: body exceeds size limit")

// ReadAll reads r up to limit bytes. It returns ErrTooLarge, and stops
// reading, as soon as the body is longer than limit.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}
