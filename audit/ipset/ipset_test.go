package ipset

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "create docker-ext-bridges-v4 hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1\n" +
		"add docker-ext-bridges-v4 172.17.0.0/16\nadd docker-ext-bridges-v4 192.0.2.7\n" +
		"create v6 hash:ip family inet6 hashsize 1024 maxelem 65536\nadd v6 2001:db8::1\n" +
		"create dyn hash:ip family inet timeout 300\nadd dyn 192.0.2.1 timeout 10\n" +
		"create ports hash:ip,port family inet\nadd ports 192.0.2.1,udp:5060\n" +
		"create ex hash:net family inet\nadd ex 192.0.2.0/24\nadd ex 192.0.2.8/29 nomatch\n"
	if !Looks([]byte(in)) {
		t.Fatal("not recognised")
	}
	sets, err := Parse("sets", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	d := sets["docker-ext-bridges-v4"]
	if d.Why != "" || len(d.Addrs) != 2 || d.Addrs[0].Lo.String() != "172.17.0.0" || d.Addrs[0].Hi.String() != "172.17.255.255" {
		t.Errorf("docker set %+v", d)
	}
	if s := sets["v6"]; s.Family != 6 || len(s.Addrs) != 1 {
		t.Errorf("v6 %+v", s)
	}
	for _, n := range []string{"dyn", "ports", "ex"} {
		if sets[n].Why == "" || sets[n].Addrs != nil {
			t.Errorf("%s is followed: %+v", n, sets[n])
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"add x 192.0.2.1\n", "sets:1: x: set \"x\" is not created before"},
		{"create x hash:ip family inet\nadd x 2001:db8::1\n", "sets:2: 2001:db8::1: \"2001:db8::1\" is not an address of the set's family"},
		{"create x hash:ip\ncreate x hash:ip\n", "sets:2: x: set created twice (line 1)"},
		{"create x hash:ip\nflush x\n", "sets:2: flush: not a line of ipset save output"},
		{"\n", "sets: no set"},
	} {
		_, err := Parse("sets", []byte(tt.in))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %s", tt.in, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("create a hash:net family inet\nadd a 192.0.2.0/24\n"))
	f.Add([]byte("create b hash:ip family inet6 timeout 5\nadd b 2001:db8::1 timeout 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, err := Parse("fuzz", data)
		if err == nil && len(sets) == 0 {
			t.Fatal("no error and no set")
		}
	})
}
