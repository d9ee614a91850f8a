package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		fill    func(io.Writer) error
		want    string
		wantErr bool
	}{
		{"replaces", func(w io.Writer) error { _, err := fmt.Fprint(w, "new\n"); return err }, "new\n", false},
		{"failure keeps the old file", func(w io.Writer) error {
			fmt.Fprint(w, "half")
			return errors.New("boom")
		}, "new\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(path, 0o644, tt.fill)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tt.want {
				t.Errorf("content = %q, want %q", got, tt.want)
			}
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, want the old file's 0600", fi.Mode().Perm())
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("directory holds %d entries, want only the target (no temporary left)", len(ents))
			}
		})
	}
}

// TestWriteErrorNamesPath: a failure names the path the caller gave, never
// the hidden temporary file (issue 8 item 16).
func TestWriteErrorNamesPath(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string
		root bool // root writes into a 0500 directory all the same
	}{
		{"missing directory", filepath.Join(dir, "nftables.d", "x.nft"), "directory " + filepath.Join(dir, "nftables.d") + " does not exist", false},
		{"unwritable directory", filepath.Join(ro, "x.nft"), "permission denied", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() == 0 {
				t.Skip("root writes into any directory")
			}
			err := Write(tt.path, 0o644, func(w io.Writer) error { _, err := fmt.Fprint(w, "x\n"); return err })
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.path+":") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not name %s with %q", msg, tt.path, tt.want)
			}
			if strings.Contains(msg, ".tmp-") {
				t.Errorf("error %q names the temporary file", msg)
			}
		})
	}
}
