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
