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

var ruleComment = regexp.MustCompile(`-m comment --comment "` + ref + `(, ` + ref + `)*(, \+[0-9]+ more)?" -j (ACCEPT|DNAT)`)

// ref is a flow's reference in a comment: service/flow document:line.
const ref = `[a-z0-9-]+/[a-z0-9-]+ [^",]+\.txt:[0-9]+`

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
		return
	}
	t.Fatal("no starface/all-features/gateway in the matrix")
}
