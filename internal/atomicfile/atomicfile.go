// Package atomicfile writes a file whole or not at all: the content goes to
// a temporary file in the same directory, which is renamed over the target
// only when every byte is written and synced.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what fill writes. When fill or any
// step fails, path is left as it was and the temporary file is removed.
// perm applies to a new file; an existing file keeps its mode. Errors of
// the file system name path, never the temporary file.
func Write(path string, perm os.FileMode, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if fi, statErr := os.Stat(path); statErr == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &fs.PathError{Op: "write", Path: path, Err: fmt.Errorf("directory %s does not exist", dir)}
		}
		return named(path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err = fill(bw); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == tmp.Name() {
			return named(path, err)
		}
		return err
	}
	if err = bw.Flush(); err != nil {
		return named(path, err)
	}
	if err = tmp.Chmod(perm); err != nil {
		return named(path, err)
	}
	if err = tmp.Sync(); err != nil {
		return named(path, err)
	}
	if err = tmp.Close(); err != nil {
		return named(path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return named(path, err)
	}
	return nil
}

// named returns err of an operation on the temporary file as an error about
// path, the file the caller asked for.
func named(path string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return &fs.PathError{Op: "write", Path: path, Err: pe.Err}
	case errors.As(err, &le):
		return &fs.PathError{Op: "write", Path: path, Err: le.Err}
	}
	return &fs.PathError{Op: "write", Path: path, Err: err}
}
