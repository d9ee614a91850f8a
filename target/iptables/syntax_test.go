package iptables_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/targettest"
)

var ruleComment = regexp.MustCompile(`-m comment --comment "(` + ref + `(, ` + ref + `)*|` + indexed + `)" -j (ACCEPT|DNAT)`)

// ref is a flow's reference in a comment: service/flow document:line.
const ref = `[a-z0-9-]+/[a-z0-9-]+ [^",]+\.txt:[0-9]+`

// indexed is the comment of a rule whose flows the header's index lists.
const indexed = `index [0-9]+ \([0-9]+ flows\): [a-z0-9-]+/[a-z0-9-]+(, [a-z0-9-]+/[a-z0-9-]+)*(,? ?[a-z0-9/-]*…)?`

var multiport = regexp.MustCompile(`--[ds]ports ([0-9:,]+)`)

// TestSyntax has iptables-restore --test and ip6tables-restore --test (in
// a namespace of their own) check every output of the syntax matrix.
func TestSyntax(t *testing.T) {
	l := netlab.New(t)
	matrix := targettest.SyntaxMatrix(t)
	total := 0
	for _, m := range matrix {
		for _, fam := range []int{4, 6} {
			tg := iptables.Target{Family: fam}
			var b bytes.Buffer
			res, err := tg.Write(&b, m.In)
			if err != nil {
				t.Errorf("%s %s: %v", m.Name, tg.Name(), err)
				continue
			}
			if out, err := l.Router.RunInput(b.Bytes(), tg.Name()+"-restore", "--test", "--noflush"); err != nil {
				t.Errorf("%s: %s-restore --test: %v\n%s", m.Name, tg.Name(), err, out)
				continue
			}
			n := 0
			for _, line := range strings.Split(b.String(), "\n") {
				if !strings.HasPrefix(line, "-A PORTOLAN-") || strings.Contains(line, "--ctstate") || strings.Contains(line, "icmp") || strings.HasSuffix(line, "-i lo -j ACCEPT") || strings.HasSuffix(line, "-o lo -j ACCEPT") {
					continue
				}
				n++
				if !ruleComment.MatchString(line) {
					t.Errorf("%s %s: rule without its flow's comment: %s", m.Name, tg.Name(), line)
				}
				for _, mp := range multiport.FindAllStringSubmatch(line, -1) {
					w := 0
					for _, p := range strings.Split(mp[1], ",") {
						w++
						if strings.Contains(p, ":") {
							w++
						}
					}
					if w > iptables.MultiportMax {
						t.Errorf("%s: multiport list of %d ports: %s", m.Name, w, line)
					}
				}
			}
			if n != res.Stats.Rules {
				t.Errorf("%s %s: %d rules in the text, stats say %d", m.Name, tg.Name(), n, res.Stats.Rules)
			}
			total += n
		}
	}
	t.Logf("%d inputs, %d rules, all accepted by iptables-restore --test and ip6tables-restore --test", len(matrix), total)
}

func TestPortChunks(t *testing.T) {
	ps := func(rs ...model.PortRange) model.PortSet { return model.NewPortSet(rs...) }
	var many []model.PortRange
	for p := uint16(1000); p < 1040; p += 2 {
		many = append(many, model.PortRange{Lo: p, Hi: p})
	}
	tests := []struct {
		name string
		in   model.PortSet
		want string
	}{
		{"one", ps(model.PortRange{Lo: 443, Hi: 443}), "443"},
		{"range", ps(model.PortRange{Lo: 10000, Hi: 20000}), "10000:20000"},
		{"mixed", ps(model.PortRange{Lo: 443, Hi: 443}, model.PortRange{Lo: 5228, Hi: 5230}), "443,5228:5230"},
		{"twenty singles", ps(many...), "1000,1002,1004,1006,1008,1010,1012,1014,1016,1018,1020,1022,1024,1026,1028|1030,1032,1034,1036,1038"},
		{"ranges count twice", ps(model.PortRange{Lo: 1, Hi: 2}, model.PortRange{Lo: 4, Hi: 5}, model.PortRange{Lo: 7, Hi: 8}, model.PortRange{Lo: 10, Hi: 11},
			model.PortRange{Lo: 13, Hi: 14}, model.PortRange{Lo: 16, Hi: 17}, model.PortRange{Lo: 19, Hi: 20}, model.PortRange{Lo: 22, Hi: 23}), "1:2,4:5,7:8,10:11,13:14,16:17,19:20|22:23"},
	}
	for _, tt := range tests {
		var parts []string
		for _, c := range iptables.PortChunks(tt.in, iptables.MultiportMax) {
			parts = append(parts, strings.Join(c, ","))
		}
		if got := strings.Join(parts, "|"); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestPortsMerged: rules that differ only in destination ports are one
// rule with a multiport list naming every flow, and no match is written
// twice.
func TestPortsMerged(t *testing.T) {
	for _, m := range targettest.SyntaxMatrix(t) {
		if m.Name != "starface/all-features/gateway" {
			continue
		}
		var b bytes.Buffer
		if _, err := (iptables.Target{Family: 4}).Write(&b, m.In); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, l := range strings.Split(b.String(), "\n") {
			if !strings.HasPrefix(l, "-A PORTOLAN-") {
				continue
			}
			key := regexp.MustCompile(`-m comment --comment "[^"]*" `).ReplaceAllString(l, "")
			if seen[key] {
				t.Errorf("written twice: %s", key)
			}
			seen[key] = true
		}
		if !regexp.MustCompile(`-p tcp -m multiport --dports 80,443,8383 -m comment --comment "starface/license-http [^"]*, starface/license-https [^"]*, starface/license-8383 [^"]*" -j ACCEPT`).MatchString(b.String()) {
			t.Errorf("the license server's ports are not one rule:\n%s", b.String())
		}
		// Each flow's comment block stands whole above its rule.
		for i := range m.In.Rules {
			r := &m.In.Rules[i]
			if r.Match.Family != 4 {
				continue
			}
			block := m.In.FlowComments(r)
			if !strings.Contains("\n"+b.String(), "\n"+strings.Join(block, "\n")+"\n") {
				t.Errorf("the comments of %s are not whole:\n%s", r.Flow.ID, strings.Join(block, "\n"))
			}
		}
		return
	}
	t.Fatal("no starface/all-features/gateway in the matrix")
}

// TestAdvice: what iptables cannot say itself goes into comments and
// notes that an administrator can act on: the conntrack timeout of TW
// Solutions' SIP with the raw chain and family of the mode, and where the
// other family's rules are.
func TestAdvice(t *testing.T) {
	want := map[string][]string{
		"tw-solutions/defaults/gateway": {
			"nfct add timeout portolan-nat-keepalive inet udp unreplied 90 replied 180, then iptables -t raw -A PREROUTING -p udp -m multiport --dports 5060:5080 -j CT --timeout portolan-nat-keepalive",
			"sysctl -w net.netfilter.nf_conntrack_udp_timeout=90 net.netfilter.nf_conntrack_udp_timeout_stream=180",
			"Keep-alives every 30s.",
			"of the plan's rules are of that family; --target ip6tables writes them",
		},
		"tw-solutions/defaults/host": {
			"nfct add timeout portolan-nat-keepalive inet6 udp unreplied 90 replied 180, then ip6tables -t raw -A OUTPUT -p udp -m multiport --dports 5060:5080 -j CT --timeout portolan-nat-keepalive",
		},
	}
	found := 0
	for _, m := range targettest.SyntaxMatrix(t) {
		lines, ok := want[m.Name]
		if !ok {
			continue
		}
		found++
		fam := 4
		if strings.HasSuffix(m.Name, "/host") {
			fam = 6
		}
		var b bytes.Buffer
		res, err := (iptables.Target{Family: fam}).Write(&b, m.In)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(strings.ReplaceAll(b.String(), "#", " ")), " ") + " " + strings.Join(res.Notes, " ")
		for _, w := range lines {
			if !strings.Contains(text, w) {
				t.Errorf("%s: IPv%d output lacks %q", m.Name, fam, w)
			}
		}
	}
	if found != len(want) {
		t.Fatalf("%d of %d inputs in the matrix", found, len(want))
	}
}
