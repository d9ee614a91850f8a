package fortigate

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/portolan/portolan/target/targettest"
)

// FuzzParse feeds any bytes to the reader: a ruleset or an error that
// names the file, never a panic. The seeds are the hand-written fixture,
// a generated script and broken pieces of both.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/branch-office.conf"); err == nil {
		f.Add(string(data))
	}
	lab := targettest.LabCatalog(f)
	in, _ := targettest.GatewayCases[3].InputOn(f, lab, "port1", "wan1")
	var b bytes.Buffer
	if _, err := (&Target{WANIP6: "2001:db8:2::1"}).Write(&b, in); err == nil {
		f.Add(b.String())
	}
	for _, s := range []string{
		"config firewall policy\n    edit 1\n        set srcintf \"any\"\n        set dstintf \"any\"\n        set srcaddr \"g\"\n        set dstaddr \"all\"\n        set service \"ALL\"\n        set action accept\n    next\nend\n",
		"config firewall addrgrp\n    edit \"g\"\n        set member \"g\"\n    next\nend\n",
		"config firewall vip\n    edit \"v\"\n        set mappedip \"192.0.2.1-192.0.2.9\"\n        set portforward enable\n        set extport 1-2\n        set mappedport 3-4\n    next\nend\n",
		"config firewall service custom\n    edit \"s\"\n        set tcp-portrange 0:1-2 5-4\n    next\nend\n",
		"config vdom\nedit root\nconfig firewall policy\nedit 1\nnext\nend\nnext\nend\n",
		"config firewall address\n    edit \"a\n",
		"#config-version=FGT\nconfig system settings\n    set default-voip-alg-mode kernel-helper-based\nend\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		rs, err := Read("fuzz.conf", []byte(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.conf: ") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		if len(rs.Chains) != 2 {
			t.Fatalf("%d chains", len(rs.Chains))
		}
	})
}

// TestReadErrors: broken input is an error naming file, line and what is
// wrong.
func TestReadErrors(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{"config firewall address\n    edit \"a\"\n        set subnet 192.0.2.1 255.0.255.0\n    next\nend\n", `x.conf: line 3: address "a": subnet`},
		{"config firewall policy\n    edit 1\n        set srcaddr \"nope\"\n        set dstaddr \"all\"\n        set service \"ALL\"\n    next\nend\n", `x.conf: line 3: address "nope" is not defined`},
		{"config firewall addrgrp\n    edit \"g\"\n        set member \"h\"\n    next\n    edit \"h\"\n        set member \"g\" \"x\"\n    next\nend\nconfig firewall policy\n    edit 1\n        set srcaddr \"g\"\n        set dstaddr \"all\"\n        set service \"ALL\"\n    next\nend\n", `x.conf: line 11: address "x" is not defined`},
		{"config firewall service custom\n    edit \"s\"\n        set udp-portrange 9-3\n    next\nend\n", `x.conf: line 3: service "s": udp-portrange "9-3"`},
		{"config firewall policy\n    edit 1\n", `x.conf: line 1: config "firewall policy" is not closed`},
		{"config firewall policy\n    edit 1\n    edit 2\n", `x.conf: line 3: edit "2" inside edit "1"`},
		{"    set name x\n", `x.conf: line 1: set outside a config block`},
		{"config firewall address\n    edit \"a\n", `x.conf: line 2: a quoted string is not closed`},
		{"config firewall vip\n    edit \"v\"\n        set mappedip \"nope\"\n    next\nend\n", `x.conf: line 3: vip "v": mappedip`},
	} {
		_, err := Read("x.conf", []byte(c.data))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want %s…", c.data, err, c.want)
		}
	}
}

// TestGroupCycle: groups that contain each other are read once each, not
// forever; depth beyond MaxGroupDepth is an error.
func TestGroupCycle(t *testing.T) {
	var b strings.Builder
	b.WriteString("config firewall addrgrp\n")
	for i := 0; i <= MaxGroupDepth+1; i++ {
		b.WriteString("    edit \"g" + string(rune('a'+i)) + "\"\n        set member \"g" + string(rune('a'+i+1)) + "\"\n    next\n")
	}
	b.WriteString("end\nconfig firewall policy\n    edit 1\n        set srcaddr \"ga\"\n        set dstaddr \"all\"\n        set service \"ALL\"\n    next\nend\n")
	if _, err := Read("deep.conf", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep groups: %v", err)
	}
	cyc := "config firewall address\n    edit \"a\"\n        set subnet 192.0.2.0 255.255.255.0\n    next\nend\n" +
		"config firewall addrgrp\n    edit \"g\"\n        set member \"h\" \"a\"\n    next\n    edit \"h\"\n        set member \"g\"\n    next\nend\n" +
		"config firewall policy\n    edit 1\n        set srcintf \"port1\"\n        set dstintf \"wan1\"\n        set srcaddr \"g\"\n        set dstaddr \"all\"\n        set service \"ALL\"\n        set action accept\n    next\nend\n"
	rs, err := Read("cycle.conf", []byte(cyc))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs.Chains[0].Rules {
		if r.Pos.Line == 15 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("policy 1 read as %d rules", n)
	}
}

// TestMultilineQuoted: a backup's certificate runs over several lines in
// one quoted value; the lines after it keep their numbers.
func TestMultilineQuoted(t *testing.T) {
	conf := "config vpn certificate local\n    edit \"c\"\n        set comment it's\n        set certificate \"-----BEGIN CERTIFICATE-----\nMIIB\nAB'CD\n-----END CERTIFICATE-----\"\n    next\nend\nconfig firewall policy\n    edit 7\n        set srcaddr \"all\"\n        set dstaddr \"all\"\n        set service \"ALL\"\n        set action accept\n    next\nend\n"
	tr, err := Parse("m.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Find("vpn certificate local")[0].Entries[0].One("certificate"); !strings.Contains(got, "\nMIIB\nAB'CD\n") {
		t.Errorf("certificate %q", got)
	}
	if e := tr.Find("firewall policy")[0].Entries[0]; e.Line != 11 {
		t.Errorf("policy 7 at line %d, want 11", e.Line)
	}
	if _, err := Parse("m.conf", []byte("config a\n    edit \"x\n")); err == nil || !strings.Contains(err.Error(), "m.conf: line 2: a quoted string is not closed") {
		t.Errorf("unclosed: %v", err)
	}
}
