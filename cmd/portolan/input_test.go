package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateInputs checks what validate and --catalog read: regular
// files and standard input, never a device (/dev/zero grew to gigabytes
// when the size check trusted Stat; /dev/null stands for it here, as it
// fails fast before the fix).
func TestValidateInputs(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "demo.yaml")
	writeProfile(t, good, "demo", "443")
	devs := t.TempDir()
	if err := os.Symlink("/dev/null", filepath.Join(devs, "null.yaml")); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		output string
	}{
		{"device", []string{"validate", "/dev/null"}, "", 2, "/dev/null: is a character device, not a regular file"},
		{"catalog symlink to a device", []string{"--catalog", devs, "list"}, "", 2, "null.yaml: is a character device, not a regular file"},
		{"stdin", []string{"validate", "-"}, string(src), 0, "-: ok (service demo, 1 flows)"},
		{"stdin invalid", []string{"validate", "-"}, strings.Replace(string(src), "443", "0", 1), 1, "stdin:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.stdin != "" {
				f := filepath.Join(t.TempDir(), "stdin")
				if err := os.WriteFile(f, []byte(tt.stdin), 0o644); err != nil {
					t.Fatal(err)
				}
				in, err := os.Open(f)
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				saved := os.Stdin
				os.Stdin = in
				defer func() { os.Stdin = saved }()
			}
			out, errs, code := portolan(tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.output) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tt.code, tt.output, out, errs)
			}
		})
	}
}
