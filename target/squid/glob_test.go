package squid_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/peers"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

// TestGlobWidened checks that a host-name pattern (issue 8 item 24) goes
// into dstdomain as its domain (.vendor.example), with a note naming the
// flow, and that squid reads the fragment.
func TestGlobWidened(t *testing.T) {
	peers.Need(t, "squid")
	cat, err := catalog.Open("../../catalog/testdata/model")
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := cat.Select([]string{"8x8"})
	cs, err := resolve.Choose(svcs, resolve.Selection{Params: []string{"sbc_address=192.0.2.10", "calls=50"}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: resolve.NoResolve{}, AllowUnresolved: true, Site: targettest.Site})
	if err != nil {
		t.Fatal(err)
	}
	frag, res := write(t, in)
	if !strings.Contains(frag, "dstdomain -n .vendor.example\n") {
		t.Errorf("no widened dstdomain in\n%s", frag)
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "widened: 8x8/router-https: router*.vendor.example is allowed as .vendor.example") || !strings.Contains(frag, "router*.vendor.example is allowed as") {
		t.Errorf("no widening note in %q or the fragment", notes)
	}
	dir := t.TempDir()
	fp := peers.WriteFile(t, dir, "portolan.conf", []byte(frag))
	conf := peers.WriteFile(t, dir, "squid.conf", []byte(fmt.Sprintf("http_port 127.0.0.1:3128\ninclude %[1]s\nhttp_access deny all\npid_filename %[2]s/squid.pid\ncache_log %[2]s/cache.log\npinger_enable off\n", fp, dir)))
	out, err := exec.Command("squid", "-k", "parse", "-f", conf).CombinedOutput()
	if err != nil || strings.Contains(string(out), "ERROR") || strings.Contains(string(out), "WARNING") {
		t.Errorf("squid -k parse: %v\n%s\n%s", err, lastLines(out), frag)
	}
}
