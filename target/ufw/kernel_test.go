package ufw_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

// forwards returns the header's lines for before.rules and before6.rules,
// as the header says to add them.
func forwards(script string) map[string]string {
	out := map[string]string{}
	file := ""
	for _, l := range strings.Split(script, "\n") {
		if f, ok := strings.CutPrefix(l, "#   /etc/ufw/"); ok && strings.HasSuffix(f, ".rules:") {
			file = strings.TrimSuffix(f, ":")
			continue
		}
		body, ok := strings.CutPrefix(l, "#     ")
		if file == "" || !ok {
			file = ""
			continue
		}
		out[file] += body + "\n"
	}
	return out
}

// enable does what the header and README tell an administrator: the port
// forwards' lines at the top of before.rules and before6.rules, sh FILE,
// then ufw enable — with a ufw configuration of the test's own, in ns.
func enable(t testing.TB, ns *netlab.NS, in *target.Input) root {
	t.Helper()
	script, _ := generate(t, in)
	r := newRoot(t)
	for file, lines := range forwards(script) {
		path := filepath.Join(string(r), "ufw", file)
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append([]byte(lines), old...), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	r.apply(t, ns, script)
	if out, err := r.run(ns, "ufw", "--force", "enable"); err != nil {
		t.Fatalf("ufw enable: %v\n%s", err, out)
	}
	return r
}

// TestKernelGateway is nftables' kernel test for ufw: the same cases and
// probes, the script run and ufw enabled on the lab's router, the port
// forwards added to before.rules as the header says.
func TestKernelGateway(t *testing.T) {
	targettest.KernelGateway(t, func(t testing.TB, l *netlab.Lab, in *target.Input) { enable(t, l.Router, in) })
}

// TestKernelHost is the host-mode test: StarLeaf's script run and ufw
// enabled on the endpoint (ufw default deny incoming and outgoing).
func TestKernelHost(t *testing.T) {
	in, probes := targettest.HostCase(t)
	l := netlab.New(t)
	rf := targettest.NewReferee(t, l, probes)
	enable(t, l.LAN, in)
	targettest.FlushNeighbours(t, l)
	targettest.Check(t, rf, probes)
}

// TestConstraints: what ufw has a setting for becomes that setting. TW
// Solutions' 90 s NAT binding: the conntrack UDP timeouts in
// /etc/ufw/sysctl.conf, which ufw enable applies (the router's kernel
// shows 90 and 180); its SIP ALG off: nf_conntrack_sip and nf_nat_sip
// leave IPT_MODULES, other modules stay. Undo removes the sysctl block.
func TestConstraints(t *testing.T) {
	dir := targettest.LabCatalog(t)
	var c targettest.Case
	for _, gc := range targettest.GatewayCases {
		if gc.Name == "tw-solutions" {
			c = gc
		}
	}
	in, _ := c.Input(t, dir)
	script, res := generate(t, in)
	l := netlab.New(t)
	r := enable(t, l.Router, in)
	def := r.file(t, "default/ufw")
	if !strings.Contains(def, `IPT_MODULES="nf_conntrack_ftp nf_nat_ftp"`) {
		t.Errorf("IPT_MODULES after the script:\n%s", def)
	}
	sc := r.file(t, "ufw/sysctl.conf")
	for _, w := range []string{"net/netfilter/nf_conntrack_udp_timeout=90", "net/netfilter/nf_conntrack_udp_timeout_stream=180", "net/ipv4/ip_forward=1"} {
		if !strings.Contains(sc, w+"\n") {
			t.Errorf("sysctl.conf lacks %s:\n%s", w, sc)
		}
	}
	for k, w := range map[string]string{"net.netfilter.nf_conntrack_udp_timeout": "90", "net.netfilter.nf_conntrack_udp_timeout_stream": "180"} {
		out, err := l.Router.Run("sysctl", "-n", k)
		if err != nil || strings.TrimSpace(out) != w {
			t.Errorf("after ufw enable, %s = %q (%v), want %s", k, strings.TrimSpace(out), err, w)
		}
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "ufw has no ALG setting") || !strings.Contains(script, "# ufw has no ALG setting") && !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(script, "#", " ")), " "), "ufw has no ALG setting") {
		t.Errorf("no word on the ALG in notes and header:\n%s", notes)
	}
	r.apply(t, l.Router, script, "undo")
	if sc := r.file(t, "ufw/sysctl.conf"); strings.Contains(sc, "portolan") {
		t.Errorf("after undo, sysctl.conf:\n%s", sc)
	}
	if tp := r.tuples(t); len(tp) != 0 {
		t.Errorf("after undo ufw still holds %d route rules: %+v", len(tp), tp[0])
	}
}
