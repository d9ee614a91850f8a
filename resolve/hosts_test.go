package resolve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadHostsRefusesNonRegular checks that a hosts file is read only
// from a regular file: a device, also through a symlink, is refused before
// it is read.
func TestLoadHostsRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "hosts")
	if err := os.Symlink("/dev/null", link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/null", link, dir} {
		if _, err := LoadHosts(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("LoadHosts(%s) = %v, want a refusal", path, err)
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", MaxHostsSize+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHosts(big); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("LoadHosts(too big) = %v", err)
	}
}

// TestHostsErrorsQuoteControl checks that hosts-file errors show the
// file's name and text with control characters escaped.
func TestHostsErrorsQuoteControl(t *testing.T) {
	tests := []struct{ name, file, text, want string }{
		{"file name", "h\x1b]0;x\x07", "nonsense name\n", `h\x1b]0;x\x07:1: address "nonsense"`},
		{"address", "hosts", "192.0.2.1\x1b[2J a.example\n", `hosts:1: address "192.0.2.1\x1b[2J"`},
		{"lone address", "h\u202e", "192.0.2.1\n", `h\u202e:1: address 192.0.2.1 has no name`},
		{"too large", "h\x1b", strings.Repeat("#", MaxHostsSize+1), `h\x1b: larger than`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHosts(tt.file, strings.NewReader(tt.text))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, r := range err.Error() {
				if r < 0x20 || r == 0x7f || r == '\u202e' {
					t.Fatalf("error holds %U raw: %q", r, err)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}
