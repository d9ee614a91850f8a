package firewalld

import (
	"strings"
	"testing"
)

func fuzzConfig() *Config {
	c := &Config{Services: map[string]*XService{}, IPSets: map[string]*XIPSet{}, Zones: map[string]*XZone{}, Policies: map[string]*XPolicy{}, DefaultZone: "public"}
	_ = c.add("zones", "public", "zones/public.xml", []byte(`<zone><service name="ssh"/></zone>`))
	_ = c.add("services", "ssh", "services/ssh.xml", []byte(`<service><port port="22" protocol="tcp"/></service>`))
	_ = c.add("ipsets", "s", "ipsets/s.xml", []byte(`<ipset type="hash:net"><entry>192.0.2.0/24</entry></ipset>`))
	return c
}

// FuzzRead feeds any bytes to the reader as each kind of file, then to
// the check and the translation into chains: an error or a ruleset, never
// a panic.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		`<zone target="DROP"><interface name="eth0"/><source ipset="s"/><rule family="ipv4"><source address="192.0.2.0/24"/><service name="ssh"/><accept/></rule><forward-port port="5060" protocol="udp" to-addr="192.0.2.10"/></zone>`,
		`<policy priority="-3" target="REJECT"><ingress-zone name="public"/><egress-zone name="ANY"/><rule><forward-port port="1-2" protocol="tcp" to-port="9" to-addr="2001:db8::1"/></rule></policy>`,
		`<service><port port="5060" protocol="udp"/><helper name="sip"/><include service="ssh"/><source-port port="9" protocol="tcp"/></service>`,
		`<ipset type="hash:net"><option name="family" value="inet6"/><entry>2001:db8::/32</entry></ipset>`,
		`<zone><rule><port port="x" protocol="tcp"/><accept/></rule></zone>`,
		`<zone`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		for _, sub := range []string{"zones", "policies", "services", "ipsets"} {
			c := fuzzConfig()
			name := map[string]string{"zones": "public", "policies": "p", "services": "ssh", "ipsets": "s"}[sub]
			if err := c.add(sub, name, sub+"/"+name+".xml", []byte(data)); err != nil {
				if !strings.HasPrefix(err.Error(), sub+"/"+name+".xml: line ") {
					t.Fatalf("error without file and line: %v", err)
				}
				continue
			}
			if err := c.Check(); err != nil {
				continue
			}
			if _, err := c.Ruleset(); err != nil {
				continue
			}
		}
	})
}

// TestReadErrors: a broken file is an error naming the file and line.
func TestReadErrors(t *testing.T) {
	for _, c := range []struct{ sub, data, want string }{
		{"zones", "<zone>\n  <service name=\"ssh\">\n</zone>", "zones/z.xml: line 3:"},
		{"services", "<?xml version=\"1.0\"?>\n<zone/>", "services/z.xml: line 2: root element <zone>, want <service>"},
		{"ipsets", "", "ipsets/z.xml: line 1: EOF"},
	} {
		err := fuzzConfig().add(c.sub, "z", c.sub+"/z.xml", []byte(c.data))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s %q: %v, want %s…", c.sub, c.data, err, c.want)
		}
	}
	c := fuzzConfig()
	_ = c.add("ipsets", "bad", "ipsets/bad.xml", []byte("<ipset type=\"hash:net\">\n<entry>300.1.2.3</entry></ipset>"))
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), `ipsets/bad.xml: entry "300.1.2.3"`) {
		t.Errorf("bad ipset entry: %v", err)
	}
}
