package firewalld

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

func newTarget() *Target { return &Target{Zone: "public", LANZone: "internal", WANZone: "external"} }

// writeTree writes the target's tree for in under a new directory.
func writeTree(t testing.TB, tg *Target, in *target.Input) string {
	t.Helper()
	files, _, err := tg.WriteTree(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// offlineCmd is firewalld's own tool on a configuration directory, with
// the stock configuration as defaults.
func offlineCmd(t testing.TB, dir string, args ...string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("firewall-offline-cmd"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("firewall-offline-cmd is not installed (Debian package firewalld)")
		}
		t.Skip("firewall-offline-cmd is not installed")
	}
	if _, err := os.Stat(DefaultConfig); err != nil {
		t.Fatalf("firewalld's stock configuration: %v", err)
	}
	a := append([]string{"--system-config", dir, "--default-config", DefaultConfig}, args...)
	return exec.Command("firewall-offline-cmd", a...).CombinedOutput()
}

// checkConfig runs firewall-offline-cmd --check-config on dir: nil when
// firewalld accepts it.
func checkConfig(t testing.TB, dir string) error {
	t.Helper()
	out, err := offlineCmd(t, dir, "--check-config")
	if err != nil {
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && !strings.Contains(l, "firewalld.conf") && !strings.Contains(l, "fallback firewalld configuration") {
				lines = append(lines, l)
			}
		}
		return fmt.Errorf("%v: %s", err, strings.Join(lines, " | "))
	}
	return nil
}

// TestCheckConfig: firewalld's own check accepts the tree of every input
// of the syntax matrix (each service, each feature, gateway and host,
// names pinned and unresolved, one-of groups preferred and all).
func TestCheckConfig(t *testing.T) {
	var cases []targettest.Matrix
	for _, m := range targettest.SyntaxMatrix(t) {
		if !m.In.Options.ChainOnly { // firewalld has no chain-only form
			cases = append(cases, m)
		}
	}
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for _, m := range cases {
		dir := writeTree(t, newTarget(), m.In)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := checkConfig(t, dir)
			if err == nil {
				var cfg *Config
				if cfg, err = Read(dir, DefaultConfig); err == nil {
					err = cfg.Check()
				}
			}
			if err != nil {
				mu.Lock()
				failed = append(failed, m.Name+": "+err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(failed)
	for _, f := range failed {
		t.Error(f)
	}
	t.Logf("%d trees checked", len(cases))
}

// TestCheckConfigRejectsBroken: the checks the tests rely on refuse a
// tree broken in each of the ways a writer could break it; a check that
// accepted everything would prove nothing. firewall-offline-cmd
// --check-config leaves rich rules' service and ipset names and ipset
// entries to the running daemon (firewalld 1.3): Config.Check finds
// those, and TestCheckConfig runs it too.
func TestCheckConfigRejectsBroken(t *testing.T) {
	in, _ := targettest.GatewayCases[0].Input(t, targettest.LabCatalog(t))
	for _, c := range []struct {
		name string
		file string // under the tree, a glob
		from string
		to   string
		// daemonOnly: firewall-offline-cmd does not see it, Check does.
		daemonOnly bool
	}{
		{"port out of range", "services/portolan-*.xml", `port="`, `port="70000`, false},
		{"service not defined", "policies/portolan-fwd.xml", `<service name="`, `<service name="missing-`, true},
		{"ipset not defined", "policies/portolan-fwd.xml", `ipset="`, `ipset="missing-`, true},
		{"zone not defined", "policies/portolan-fwd.xml", `<egress-zone name="`, `<egress-zone name="nowhere`, false},
		{"bad ipset entry", "ipsets/portolan-*.xml", `<entry>`, `<entry>300.1.`, true},
		{"bad policy target", "policies/portolan-fwd.xml", `target="CONTINUE"`, `target="MAYBE"`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTree(t, newTarget(), in)
			if err := checkConfig(t, dir); err != nil {
				t.Fatalf("the unbroken tree: %v", err)
			}
			if cfg, err := Read(dir, DefaultConfig); err != nil || cfg.Check() != nil {
				t.Fatalf("the unbroken tree: %v %v", err, cfg.Check())
			}
			paths, _ := filepath.Glob(filepath.Join(dir, c.file))
			if len(paths) == 0 {
				t.Fatalf("no file %s", c.file)
			}
			data, _ := os.ReadFile(paths[0])
			if !bytes.Contains(data, []byte(c.from)) {
				t.Fatalf("%s holds no %q", paths[0], c.from)
			}
			if err := os.WriteFile(paths[0], bytes.Replace(data, []byte(c.from), []byte(c.to), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			offline := checkConfig(t, dir)
			cfg, err := Read(dir, DefaultConfig)
			if err == nil {
				err = cfg.Check()
			}
			switch {
			case err == nil:
				t.Errorf("Check accepts %s", c.name)
			case !c.daemonOnly && offline == nil:
				t.Errorf("firewall-offline-cmd --check-config accepts %s", c.name)
			case c.daemonOnly && offline != nil:
				t.Logf("firewall-offline-cmd now finds %s too: %v", c.name, offline)
			}
		})
	}
}

// opening is what one rule of a tree opens, in plain values.
type opening struct {
	policy string
	family int
	proto  string
	ports  model.PortSet
	src    []netip.Prefix // nil: any
	dst    []netip.Prefix // nil: any
	to     netip.Addr     // port forward
}

func (o opening) String() string {
	s := fmt.Sprintf("%s ipv%d %s %s from %s to %s", o.policy, o.family, o.proto, o.ports, prefixes(o.src), prefixes(o.dst))
	if o.to.IsValid() {
		s += " forward to " + o.to.String()
	}
	return s
}

func prefixes(ps []netip.Prefix) string {
	if ps == nil {
		return "any"
	}
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	set, _ := b.IPSet()
	var out []string
	for _, p := range set.Prefixes() {
		out = append(out, p.String())
	}
	return strings.Join(out, ",")
}

// treeOpens reads the tree back and says what its portolan policies
// open, one line per rule and protocol.
func treeOpens(t testing.TB, dir string) []string {
	t.Helper()
	c, err := Read(dir, DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, p := range c.Policies {
		if !strings.HasPrefix(name, Prefix) {
			continue
		}
		for _, r := range p.Rules {
			fam := 4
			if r.Family == "ipv6" {
				fam = 6
			}
			src, err := c.Addrs(r.Source)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := c.Addrs(r.Destination)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case r.ForwardPort != nil:
				pr, err := ParsePortRange(r.ForwardPort.Port)
				if err != nil {
					t.Fatal(err)
				}
				to, err := netip.ParseAddr(r.ForwardPort.ToAddr)
				if err != nil {
					t.Fatal(err)
				}
				if r.ForwardPort.ToPort != "" {
					t.Errorf("%s: forward-port changes the port to %s", name, r.ForwardPort.ToPort)
				}
				out = append(out, opening{name, fam, r.ForwardPort.Protocol, model.NewPortSet(pr), src, dst, to}.String())
			case r.Service != nil && r.Action() == "accept":
				ports, err := c.ServicePorts(r.Service.Name)
				if err != nil {
					t.Fatal(err)
				}
				svc := c.Services[r.Service.Name]
				if len(svc.Helpers) > 0 || len(svc.SourcePorts) > 0 || len(svc.Protocols) > 0 {
					t.Errorf("service %s carries helpers, source ports or protocols", svc.Name)
				}
				for proto, ps := range ports {
					out = append(out, opening{name, fam, proto, ps, src, dst, netip.Addr{}}.String())
				}
			case r.ICMPType != nil && name == PolicyOut && r.Family == "ipv6" && r.Action() == "accept":
				// neighbour discovery, which every IPv6 host sends
			default:
				t.Errorf("%s: a rule portolan does not write: %+v", name, r)
			}
		}
	}
	sort.Strings(out)
	return out
}

// planOpens is the plan's reading of the same, as the target maps hooks
// to policies: an inbound flow's forward rule is what firewalld accepts
// as DNATed, so it is the port forward's.
func planOpens(in *target.Input) []string {
	var out []string
	for _, r := range in.Rules {
		m := r.Match
		var src, dst []netip.Prefix
		if !m.AnySrc() {
			src = m.SrcAddrs()
		}
		if !m.AnyDst() {
			dst = m.DstAddrs()
		}
		if (!m.AnySrc() && len(src) == 0) || (!m.AnyDst() && len(dst) == 0) {
			continue // names without an address of this family: noted, not written
		}
		o := opening{family: m.Family, proto: m.Proto, src: src, dst: dst}
		switch r.Hook {
		case policy.Prerouting:
			o.policy, o.to = PolicyDNAT, r.DNAT
			for _, pr := range m.DstPorts.Ranges() {
				o.ports = model.NewPortSet(pr)
				out = append(out, o.String())
			}
			continue
		case policy.Forward:
			if r.Flow.Direction == model.Inbound {
				continue
			}
			o.policy = PolicyFwd
		case policy.Input:
			o.policy = PolicyIn
		case policy.Output:
			o.policy = PolicyOut
		}
		o.ports = m.DstPorts
		out = append(out, o.String())
	}
	sort.Strings(out)
	return out
}

// summary merges the lines of an opening list by policy, family and
// protocol: the ports, the remote side's prefixes ("any" when one rule
// takes any address) and where port forwards go, in plain values.
func summary(lines []string) []string {
	type key struct{ pol, fam, proto string }
	type val struct {
		ports  model.PortSet
		remote []netip.Prefix
		any    bool
		to     []string
	}
	vals := map[key]*val{}
	var keys []key
	for _, l := range lines {
		f := strings.Fields(l) // POL ipvN PROTO PORTS from SRC to DST [forward to ADDR]
		k := key{f[0], f[1], f[2]}
		v, ok := vals[k]
		if !ok {
			v = &val{}
			vals[k] = v
			keys = append(keys, k)
		}
		rs, _ := model.ParsePortList(f[3])
		for _, r := range rs {
			v.ports = v.ports.Add(r)
		}
		remote := f[7]
		if k.pol == PolicyIn || k.pol == PolicyDNAT {
			remote = f[5]
		}
		if remote == "any" {
			v.any = true
		} else {
			for _, p := range strings.Split(remote, ",") {
				v.remote = append(v.remote, netip.MustParsePrefix(p))
			}
		}
		if len(f) > 10 && !slices.Contains(v.to, f[10]) {
			v.to = append(v.to, f[10])
		}
	}
	var out []string
	for _, k := range keys {
		v := vals[k]
		r := prefixes(v.remote)
		if v.any {
			r = "any"
		}
		s := fmt.Sprintf("%s %s %s %s remote %s", k.pol, k.fam, k.proto, v.ports, r)
		if len(v.to) > 0 {
			sort.Strings(v.to)
			s += " to " + strings.Join(v.to, ",")
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestOpensEqualPlan states, for each seed service, which ports each
// policy of the tree opens, read back from the files firewalld reads; and
// that the tree's rules, prefix by prefix, are the plan's.
func TestOpensEqualPlan(t *testing.T) {
	lab := targettest.LabCatalog(t)
	want := map[string][]string{
		"starleaf": {
			"portolan-fwd ipv4 tcp 443 remote 203.0.113.200/31",
			"portolan-fwd ipv4 udp 24704 remote 203.0.113.200/32",
			"portolan-fwd ipv6 tcp 443 remote 2001:db8:3::200/127",
			"portolan-fwd ipv6 udp 24704 remote 2001:db8:3::200/128",
		},
		"starface-all": {
			"portolan-dnat ipv4 tcp 443,3090,5061,5222,50080-50081 remote any to 192.0.2.10",
			"portolan-dnat ipv4 udp 3090,5060,10000-20000 remote any to 192.0.2.10",
			"portolan-fwd ipv4 tcp 1-65535 remote any",
			"portolan-fwd ipv4 udp 1-65535 remote any",
			"portolan-fwd ipv6 tcp 443 remote 2001:db8:3::201/128",
		},
		"starface-scenario1-v6": {
			"portolan-dnat ipv6 tcp 5061 remote 2001:db8:2::/64 to 2001:db8:1::10",
			"portolan-dnat ipv6 udp 5060,10000-20000 remote any to 2001:db8:1::10",
			"portolan-fwd ipv6 tcp 53,80,443,5060-5061,8383 remote any",
			"portolan-fwd ipv6 udp 53,123,1025-65535 remote any",
		},
		"tw-solutions": {
			"portolan-fwd ipv4 tcp 80,443,5938 remote any",
			"portolan-fwd ipv4 udp 123,5060-5080,5938,10000-60000 remote any",
			"portolan-fwd ipv6 tcp 80,443,5938 remote any",
			"portolan-fwd ipv6 udp 123,5938,10000-60000 remote any",
		},
		"pexip-sbc-h323": {
			"portolan-dnat ipv4 tcp 5061 remote 198.51.100.0/24 to 192.0.2.20",
			"portolan-dnat ipv4 udp 36000-59999 remote 198.51.100.0/24 to 192.0.2.20",
			"portolan-fwd ipv4 tcp 443,1720,5061 remote 198.51.100.0/24,203.0.113.166/32,203.0.113.200/32",
			"portolan-fwd ipv4 udp 40000-49999 remote 198.51.100.0/24,203.0.113.166/32",
			"portolan-fwd ipv6 tcp 443,1720 remote 2001:db8:2::/64,2001:db8:3::200/128",
			"portolan-fwd ipv6 udp 40000-49999 remote 2001:db8:2::/64",
		},
		"onsight-all": {
			"portolan-fwd ipv4 tcp 80,443,2197,5060-5061,5223,5228-5230 remote any",
			"portolan-fwd ipv4 udp 3478,6000-6199,15000-65000 remote any",
			"portolan-fwd ipv6 tcp 443,5060-5061,5228-5230 remote any",
			"portolan-fwd ipv6 udp 3478,6000-6199,58024,58523 remote any",
		},
		"forward-order": {
			"portolan-dnat ipv4 tcp 5060-5061 remote any to 192.0.2.10,192.0.2.20",
			"portolan-dnat ipv4 udp 5060-5061 remote any to 192.0.2.10,192.0.2.20",
		},
	}
	for _, c := range targettest.GatewayCases {
		w, ok := want[c.Name]
		if !ok {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			in, _ := c.Input(t, lab)
			dir := writeTree(t, newTarget(), in)
			got, plan := treeOpens(t, dir), planOpens(in)
			if !slices.Equal(got, plan) {
				t.Errorf("the tree opens\n  %s\nthe plan\n  %s", strings.Join(got, "\n  "), strings.Join(plan, "\n  "))
			}
			if s := summary(got); !slices.Equal(s, w) {
				t.Errorf("opens, by policy and protocol:\n\t\t%q", s)
			}
		})
	}
}

// TestHostOpensEqualPlan is the same for host mode: StarLeaf on the
// endpoint itself, both families.
func TestHostOpensEqualPlan(t *testing.T) {
	in, _ := targettest.HostCase(t)
	dir := writeTree(t, newTarget(), in)
	got, plan := treeOpens(t, dir), planOpens(in)
	if !slices.Equal(got, plan) {
		t.Errorf("the tree opens\n  %s\nthe plan\n  %s", strings.Join(got, "\n  "), strings.Join(plan, "\n  "))
	}
	want := []string{
		"portolan-out ipv4 tcp 443 remote 203.0.113.20/32,203.0.113.30/32",
		"portolan-out ipv4 udp 24704 remote 203.0.113.20/32",
		"portolan-out ipv6 tcp 443 remote 2001:db8:3::20/128",
		"portolan-out ipv6 udp 24704 remote 2001:db8:3::20/128",
	}
	if s := summary(got); !slices.Equal(s, want) {
		t.Errorf("opens, by policy and protocol:\n\t\t%q", s)
	}
}

// TestCommandsMakeTheTree: the firewall-cmd --permanent script that
// rules prints without -o, run against an empty configuration directory
// (firewall-cmd played by firewall-offline-cmd on it), makes a tree that
// firewalld accepts and that opens what the -o tree opens; run a second
// time, it replaces its own objects instead of failing on them.
func TestCommandsMakeTheTree(t *testing.T) {
	lab := targettest.LabCatalog(t)
	// StarLeaf alone: firewall-offline-cmd takes a third of a second a
	// command.
	for _, name := range []string{"starleaf"} {
		t.Run(name, func(t *testing.T) {
			var in *target.Input
			if name == "host" {
				in, _ = targettest.HostCase(t)
			} else {
				for _, c := range targettest.GatewayCases {
					if c.Name == name {
						in, _ = c.Input(t, lab)
					}
				}
			}
			var script bytes.Buffer
			if _, err := newTarget().Write(&script, in); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if _, err := offlineCmd(t, dir, "--check-config"); err != nil {
				t.Fatalf("empty directory: %v", err)
			}
			bin := t.TempDir()
			shim := "#!/bin/sh\n" +
				"case $1 in --reload) exit 0;; --permanent) shift;; esac\n" +
				"exec firewall-offline-cmd --system-config \"$DIR\" --default-config " + DefaultConfig + " \"$@\" 2>>\"$DIR.log\"\n"
			if err := os.WriteFile(filepath.Join(bin, "firewall-cmd"), []byte(shim), 0o755); err != nil {
				t.Fatal(err)
			}
			for run := 1; run <= 2; run++ {
				cmd := exec.Command("sh", "-c", script.String())
				cmd.Env = append(os.Environ(), "DIR="+dir, "PATH="+bin+":"+os.Getenv("PATH"))
				if out, err := cmd.CombinedOutput(); err != nil {
					log, _ := os.ReadFile(dir + ".log")
					t.Fatalf("run %d: %v: %s%s", run, err, out, log)
				}
			}
			if err := checkConfig(t, dir); err != nil {
				t.Fatal(err)
			}
			got, want := treeOpens(t, dir), treeOpens(t, writeTree(t, newTarget(), in))
			if !slices.Equal(got, want) {
				t.Errorf("the commands' tree opens\n  %s\nthe -o tree\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// TestHostileText: a flow's purpose with quotes, XML markup, an XML
// comment's end, a newline, an escape sequence and a bidi override ends
// up as one safe line: the tree still parses (and firewalld accepts it),
// and the script, run with a firewall-cmd that only records its
// arguments, runs no other command and passes the text as one argument.
func TestHostileText(t *testing.T) {
	const evil = "it's \"x\" <b>&amp; --> <!-- \n$(touch /tmp/pwned) `id` \x1b[31mred\u202e EVIL"
	in, _ := targettest.HostCase(t)
	for i := range in.Flows {
		in.Flows[i].Purpose = evil
	}
	in.Command = "portolan rules x --param y='" + evil + "'"
	dir := writeTree(t, newTarget(), in)
	c, err := Read(dir, DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if err := checkConfig(t, dir); err != nil {
		t.Fatal(err)
	}
	for n, s := range c.Services {
		if strings.HasPrefix(n, Prefix) && (!strings.Contains(s.Description, "EVIL") || strings.ContainsAny(s.Description, "\n\x1b\u202e")) {
			t.Errorf("service %s: description %q", n, s.Description)
		}
	}
	var script bytes.Buffer
	if _, err := newTarget().Write(&script, in); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "log")
	shim := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> " + log + "; done\nprintf '=\\n' >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "firewall-cmd"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", script.String())
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Fatal("the script ran a command from the text")
	}
	data, _ := os.ReadFile(log)
	descs := 0
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "--set-description=") && strings.Contains(l, "EVIL") {
			descs++
			if strings.ContainsAny(l, "\x1b\u202e") {
				t.Errorf("description argument %q", l)
			}
		}
	}
	if descs == 0 {
		t.Errorf("no description argument carries the text: %s", data)
	}
}
