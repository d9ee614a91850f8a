package ufw_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/ufw"
)

// generate writes the script of in.
func generate(t testing.TB, in *target.Input) (string, target.Result) {
	t.Helper()
	var b bytes.Buffer
	res, err := ufw.Target{}.Write(&b, in)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), res
}

// root is a ufw configuration of the test's own: ROOT/ufw takes the place
// of /etc/ufw (fresh from the package's templates in /usr/share/ufw, an
// empty sysctl.conf) and ROOT/default of /etc/default (ufw's defaults
// file, copied from the system's, IPT_SYSCTL pointing into the copy).
type root string

func newRoot(t testing.TB) root {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "ufw needs root")
	}
	if _, err := exec.LookPath("ufw"); err != nil {
		testenv.SkipOrFail(t, "ufw is not installed")
	}
	dir := t.TempDir()
	etc := filepath.Join(dir, "ufw")
	if err := os.MkdirAll(filepath.Join(etc, "applications.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "default"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"before.rules", "before6.rules", "after.rules", "after6.rules", "user.rules", "user6.rules"} {
		copyFile(t, filepath.Join("/usr/share/ufw/iptables", f), filepath.Join(etc, f))
	}
	copyFile(t, "/usr/share/ufw/ufw.conf", filepath.Join(etc, "ufw.conf"))
	if err := os.WriteFile(filepath.Join(etc, "sysctl.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile("/etc/default/ufw")
	if err != nil {
		testenv.SkipOrFail(t, "ufw defaults: %v", err)
	}
	var out []string
	for _, l := range strings.Split(string(def), "\n") {
		switch {
		case strings.HasPrefix(l, "IPT_SYSCTL="):
			l = "IPT_SYSCTL=/etc/ufw/sysctl.conf"
		case strings.HasPrefix(l, "IPT_MODULES="):
			// As Ubuntu ships it, so that the ALG edit has something to remove.
			l = `IPT_MODULES="nf_conntrack_ftp nf_nat_ftp nf_conntrack_sip nf_nat_sip"`
		}
		out = append(out, l)
	}
	if err := os.WriteFile(filepath.Join(dir, "default", "ufw"), []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return root(dir)
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		testenv.SkipOrFail(t, "ufw templates: %v", err)
	}
	if err := os.WriteFile(to, data, 0o640); err != nil {
		t.Fatal(err)
	}
}

// wrapper runs its arguments in a mount namespace of their own where
// /etc/ufw and /etc/default are the root's and /run (ufw's lock) is empty.
const wrapper = `set -e
mount --bind "$ROOT/ufw" /etc/ufw
mount --bind "$ROOT/default" /etc/default
mount -t tmpfs portolan-run /run
exec "$@"`

// run runs args (a command line of ufw or sh) with the root's
// configuration: in ns, or in a network namespace of its own when ns is
// nil, so that ufw never touches the machine's firewall.
func (r root) run(ns *netlab.NS, args ...string) (string, error) {
	inner := append([]string{"-m", "sh", "-c", wrapper, "sh"}, args...)
	var cmd *exec.Cmd
	if ns == nil {
		cmd = exec.Command("unshare", append([]string{"-n"}, inner...)...)
	} else {
		cmd = ns.Command("unshare", inner...)
	}
	cmd.Env = append(os.Environ(), "ROOT="+string(r))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// apply writes the script into the root and runs it with args.
func (r root) apply(t testing.TB, ns *netlab.NS, script string, args ...string) string {
	t.Helper()
	path := filepath.Join(string(r), "portolan-ufw.sh")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := r.run(ns, append([]string{"sh", path}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (r root) file(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(string(r), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Tuple is one rule as ufw stores it in user.rules or user6.rules
// ("### tuple ### ACTION PROTO DPORT DST SPORT SRC DAPP SAPP DIR[ comment=HEX]").
type Tuple struct {
	Family        int
	Action, Proto string
	DPort, SPort  string
	Dst, Src      string
	DApp, SApp    string
	Dir, IIf, OIf string
	Comment       string
}

// tuples reads the rules ufw stores in the root.
func (r root) tuples(t testing.TB) []Tuple {
	t.Helper()
	var out []Tuple
	for fam, name := range map[int]string{4: "ufw/user.rules", 6: "ufw/user6.rules"} {
		sc := bufio.NewScanner(strings.NewReader(r.file(t, name)))
		for sc.Scan() {
			l, ok := strings.CutPrefix(sc.Text(), "### tuple ### ")
			if !ok {
				continue
			}
			f := strings.Fields(l)
			if len(f) < 9 {
				t.Fatalf("%s: tuple %q", name, l)
			}
			tp := Tuple{Family: fam, Action: f[0], Proto: f[1], DPort: f[2], Dst: f[3], SPort: f[4], Src: f[5], DApp: f[6], SApp: f[7], Dir: f[8]}
			for _, part := range strings.Split(f[8], "!") {
				switch {
				case strings.HasPrefix(part, "in_"):
					tp.Dir, tp.IIf = "in", part[3:]
				case strings.HasPrefix(part, "out_"):
					tp.OIf = part[4:]
					if tp.IIf == "" {
						tp.Dir = "out"
					}
				}
			}
			if len(f) > 9 {
				h, _ := strings.CutPrefix(f[9], "comment=")
				c, err := hex.DecodeString(h)
				if err != nil {
					t.Fatalf("%s: comment of %q: %v", name, l, err)
				}
				tp.Comment = string(c)
			}
			out = append(out, tp)
		}
	}
	return out
}

// ports parses a ufw port list ("443,8000:8010").
func ports(t testing.TB, s string) model.PortSet {
	t.Helper()
	var ps model.PortSet
	for _, p := range strings.Split(s, ",") {
		r, err := model.ParsePortRange(strings.Replace(p, ":", "-", 1))
		if err != nil {
			t.Fatalf("port %q: %v", p, err)
		}
		ps = ps.Add(r)
	}
	return ps
}

// prefix parses a ufw address; "" for any.
func prefix(t testing.TB, s string) string {
	t.Helper()
	if s == "0.0.0.0/0" || s == "::/0" {
		return "any"
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			t.Fatalf("address %q: %v", s, err)
		}
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatalf("prefix %q: %v", s, err)
	}
	return p.Masked().String()
}
