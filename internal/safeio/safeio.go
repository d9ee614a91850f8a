// Package safeio reads what a user hands in — profiles, rulesets, hosts
// files, documents — with a bound on its size, and only from regular files
// or standard input: a path that names a device, a FIFO or a directory (also
// through a symlink) is refused before it is opened, since Stat says nothing
// of how much a device yields.
package safeio

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Stdin is the name that reads standard input.
const Stdin = "-"

// TooLargeError says that an input holds more than its limit.
type TooLargeError struct {
	Name  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than %s, the most portolan reads", e.Name, Size(e.Limit))
}

// NotRegularError says that a path names something other than a regular
// file.
type NotRegularError struct {
	Name string
	Kind string
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: is a %s, not a regular file", e.Name, e.Kind)
}

// Open opens path for reading when it is a regular file (symlinks followed).
func Open(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// The path may have been replaced between Stat and Open.
	if fi, err = f.Stat(); err != nil || regular(path, fi) != nil {
		f.Close()
		if err == nil {
			err = regular(path, fi)
		}
		return nil, err
	}
	return f, nil
}

// ReadFile reads the regular file path, or stdin when path is "-", and
// refuses more than limit bytes with a *TooLargeError.
func ReadFile(path string, limit int64, stdin io.Reader) ([]byte, error) {
	if path == Stdin {
		if stdin == nil {
			stdin = os.Stdin
		}
		return ReadAll(stdin, "stdin", limit)
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// A regular file says its size: read into one array of it, rather
	// than one grown by doubling (a 39 MB ruleset took 0.1 GB that way).
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	if size > limit {
		return nil, &TooLargeError{Name: path, Limit: limit}
	}
	return readAll(f, path, limit, size)
}

// ReadAll reads r to its end, refusing more than limit bytes; name is what
// the error calls the input.
func ReadAll(r io.Reader, name string, limit int64) ([]byte, error) {
	return readAll(r, name, limit, 0)
}

// readAll is ReadAll into an array of size+1 bytes at first (the one
// more sees the end without growing it), grown as needed.
func readAll(r io.Reader, name string, limit, size int64) ([]byte, error) {
	data := make([]byte, 0, max(size, 511)+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > limit {
			return nil, &TooLargeError{Name: name, Limit: limit}
		}
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
}

// Reader wraps r so that reading more than limit bytes fails with a
// *TooLargeError instead of going on: for inputs read as a stream.
func Reader(r io.Reader, name string, limit int64) io.Reader {
	return &limited{r: r, name: name, left: limit, limit: limit}
}

type limited struct {
	r           io.Reader
	name        string
	left, limit int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &TooLargeError{Name: l.name, Limit: l.limit}
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n - 1, &TooLargeError{Name: l.name, Limit: l.limit}
	}
	return n, err
}

// IsTooLarge reports whether err says an input was over its limit.
func IsTooLarge(err error) bool {
	var t *TooLargeError
	return errors.As(err, &t)
}

func regular(name string, fi os.FileInfo) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return &NotRegularError{name, "directory"}
	case m&os.ModeCharDevice != 0:
		return &NotRegularError{name, "character device"}
	case m&os.ModeDevice != 0:
		return &NotRegularError{name, "block device"}
	case m&os.ModeNamedPipe != 0:
		return &NotRegularError{name, "named pipe (FIFO); pipe it to standard input with - instead"}
	case m&os.ModeSocket != 0:
		return &NotRegularError{name, "socket"}
	}
	return &NotRegularError{name, "special file"}
}

// Size prints a byte count the way a person reads it (64 MiB, 512 KiB).
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
