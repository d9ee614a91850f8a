package asa

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

var errRE = regexp.MustCompile(`^cfg: (line \d+: )?`)

// FuzzParse feeds any text to the reader and the translation into
// chains: an error naming the file (and line), or a ruleset; never a
// panic. Groups are bounded in depth and expansion, so memory is too.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/branch.cfg"); err == nil {
		f.Add(string(data))
	}
	for _, s := range []string{
		"ASA Version 9.18(3)\ninterface G0/0\n nameif outside\n security-level 0\n ip address 198.51.100.1 255.255.255.0\naccess-list A extended permit udp any4 host 192.0.2.10 range sip 5061\naccess-group A in interface outside\n",
		"object network o\n fqdn v6 sip.example.com\n nat (inside,outside) static interface ipv6 service tcp 443 8443\nobject-group network g\n group-object g\naccess-list A extended permit ip object-group g any\naccess-group A global\n",
		"object service s\n service udp source range 10000 20000\nobject network h\n host 2001:db8::10\nnat (inside,outside) after-auto source static h interface ipv6 service s s description x\nnat (any,outside) source dynamic any interface\n",
		"object-group service p tcp-udp\n port-object eq domain\nobject-group protocol q\n protocol-object udp\naccess-list A extended deny object-group q any any6\naccess-list A extended permit tcp any object-group p any object-group p log 6 interval 30 time-range t inactive\naccess-list A standard permit host 192.0.2.1\naccess-group A out interface dmz\nsame-security-traffic permit inter-interface\n",
		"access-list A extended permit icmp any any echo-reply\naccess-list A extended permit tcp user u any interface outside eq 22\naccess-group A in interface inside control-plane\n",
		"names\nname 192.0.2.9 srv\naccess-list A extended permit tcp any host srv gt 1023\naccess-list A extended permit tcp any 192.0.2.0 255.255.0.255 lt 1\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		rs, err := Parse("cfg", []byte(data))
		if err != nil {
			if !errRE.MatchString(err.Error()) {
				t.Fatalf("error without file: %v", err)
			}
			return
		}
		if rs == nil {
			t.Fatal("no ruleset and no error")
		}
		_ = Looks([]byte(data))
	})
}

// TestParseErrors: broken input is an error naming the file, the line and
// what is wrong.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{"object network o\n host 300.1.2.3\n", "cfg: line 2: object network o: host \"300.1.2.3\""},
		{"object network o\n subnet 192.0.2.0 255.0.255.0\n", "cfg: line 2: object network o: subnet: mask 255.0.255.0: not contiguous"},
		{"access-list A extended permit tcp any object nope eq 80\n", "cfg: line 1: network object or group \"nope\" is not defined"},
		{"object-group network g\n group-object g\naccess-list A extended permit ip object-group g any\naccess-group A global\n", "cfg: line 2: object-group g contains itself"},
		{"access-list A extended permit tcp any any eq bogus\naccess-group A global\n", "cfg: line 1: access-list A: port \"bogus\""},
		{"access-group B in interface inside\n", "cfg: line 1: access-group B in interface inside: access list B is not defined"},
		{"interface G0\n security-level 101\n", "cfg: line 2: security-level \"101\""},
		{"object network o\n host 192.0.2.1\n nat (inside,outside) static interface service udp x 5060\n", "cfg: line 3: nat static service udp x 5060: not ports"},
	} {
		_, err := Parse("cfg", []byte(c.data))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want %s…", c.data, err, c.want)
		}
	}
	// Groups nested deeper than the bound.
	var b strings.Builder
	for i := 0; i < maxDepth+3; i++ {
		b.WriteString("object-group network g" + string(rune('a'+i)) + "\n")
		if i > 0 {
			b.WriteString(" group-object g" + string(rune('a'+i-1)) + "\n")
		} else {
			b.WriteString(" network-object host 192.0.2.1\n")
		}
	}
	b.WriteString("access-list A extended permit ip object-group g" + string(rune('a'+maxDepth+2)) + " any\naccess-group A global\n")
	if _, err := Parse("cfg", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: %v", err)
	}
}

// TestNATSections: twice NAT comes before object NAT, object NAT by
// fewer real addresses; identity NAT is left out; a twice NAT that
// translates the destination is unknown for the packets it takes only.
func TestNATSections(t *testing.T) {
	cfg := `interface G0/0
 nameif outside
 security-level 0
object network net
 subnet 192.0.2.0 255.255.255.0
 nat (inside,outside) static pubnet
object network pubnet
 subnet 198.51.100.0 255.255.255.0
object network pbx
 host 192.0.2.10
 nat (inside,outside) static interface service udp 5060 5062
object network pub
 host 198.51.100.77
object network far
 host 203.0.113.9
object network far-m
 host 192.0.2.99
nat (inside,outside) source static pbx pub destination static far-m far
nat (inside,outside) source static net net destination static far far
nat (inside,outside) after-auto source static pbx interface
`
	rs, err := Parse("cfg", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var nat []string
	for _, c := range rs.Chains {
		if c.Hook != "prerouting" {
			continue
		}
		for _, r := range c.Rules {
			nat = append(nat, r.Verdict.String()+" @"+strings.TrimSpace(strings.SplitN(r.Pos.Text, ":", 2)[0]))
		}
	}
	want := []string{
		"unknown (twice NAT that also translates the destination) @nat (inside,outside) source static pbx pub destination static far-m far",
		"dnat to 192.0.2.10:5060 @object network pbx",
		"dnat (static NAT of several addresses) @object network net",
		"dnat to 192.0.2.10 @nat (inside,outside) after-auto source static pbx interface",
	}
	if strings.Join(nat, "\n") != strings.Join(want, "\n") {
		t.Errorf("nat chain:\n%s\nwant:\n%s", strings.Join(nat, "\n"), strings.Join(want, "\n"))
	}
}

// TestSharedGroupMemory: a group of 5,000 addresses named by 2,000
// entries costs its size once, not once per entry (which would allocate
// some 800 MB).
func TestSharedGroupMemory(t *testing.T) {
	var b strings.Builder
	b.WriteString("object-group network big\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, " network-object host 2001:db8::%x\n", i)
	}
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "access-list A extended permit tcp any object-group big eq %d\n", 1000+i)
	}
	b.WriteString("access-group A in interface inside\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rs, err := Parse("cfg", []byte(b.String()))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rs.Chains); n == 0 {
		t.Fatal("no chains")
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 100<<20 {
		t.Errorf("%d MB allocated", got>>20)
	}
}
