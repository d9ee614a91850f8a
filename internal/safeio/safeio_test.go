package safeio

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/portolan/portolan/internal/testenv"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("hello"), 0o644)
	link := filepath.Join(dir, "link-to-null")
	os.Symlink("/dev/zero", link)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		limit      int64
		stdin      string
		want       string
		err        string
	}{
		{"regular", small, 5, "", "hello", ""},
		{"over the limit", small, 4, "", "", "larger than 4 bytes"},
		{"device", "/dev/zero", 1 << 20, "", "", "is a character device, not a regular file"},
		{"symlink to a device", link, 1 << 20, "", "", "link-to-null: is a character device"},
		{"fifo", fifo, 1 << 20, "", "", "named pipe"},
		{"directory", dir, 1 << 20, "", "", "is a directory"},
		{"stdin", "-", 3, "abc", "abc", ""},
		{"stdin over", "-", 3, "abcd", "", "stdin: larger than 3 bytes"},
		{"missing", filepath.Join(dir, "nope"), 3, "", "", "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadFile(c.path, c.limit, strings.NewReader(c.stdin))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// A regular file is read into one array of its size: the bytes
// allocated are about the file's, not the twice and more of an array
// grown by doubling; inputs of any size read whole, from a file or stdin.
func TestReadFileOnce(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 1 << 20} {
		data := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var got []byte
		total, _ := testenv.Allocs(func() any {
			var err error
			if got, err = ReadFile(path, 1<<30, nil); err != nil {
				t.Fatal(err)
			}
			return got
		})
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read %d different ones", n, len(got))
		}
		if total > uint64(n+n/4+8192) {
			t.Errorf("%d bytes: %d allocated reading them", n, total)
		}
		if got, err := ReadFile(Stdin, 1<<30, bytes.NewReader(data)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes from stdin: %d read, %v", n, len(got), err)
		}
	}
}

func TestReader(t *testing.T) {
	for _, c := range []struct {
		in    string
		limit int64
		over  bool
	}{{"", 0, false}, {"abc", 3, false}, {"abcd", 3, true}, {strings.Repeat("x", 100000), 65536, true}} {
		got, err := io.ReadAll(Reader(strings.NewReader(c.in), "in", c.limit))
		if c.over {
			if !IsTooLarge(err) || int64(len(got)) > c.limit {
				t.Errorf("%d bytes, limit %d: got %d bytes, %v", len(c.in), c.limit, len(got), err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, []byte(c.in)) {
			t.Errorf("%q: got %q, %v", c.in, got, err)
		}
	}
	var nr *NotRegularError
	_, err := Open("/dev/null")
	if !errors.As(err, &nr) {
		t.Errorf("Open(/dev/null) = %v", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64 MiB", 512 << 10: "512 KiB", 1 << 30: "1 GiB", 1000: "1000 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
