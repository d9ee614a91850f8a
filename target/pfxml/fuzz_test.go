package pfxml_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/pfxml"
	"github.com/portolan/portolan/target/targettest"
)

var errLine = regexp.MustCompile(`^in\.xml: line [0-9]+: `)

func fuzzSeeds(f *testing.F) {
	for _, name := range []string{"pfsense-config.xml", "opnsense-config.xml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// The writers' own output: StarLeaf on a gateway, names kept.
	site := targettest.Site
	site.LANIf, site.WANIf = "lan", "wan"
	in := targettest.Prepare(f, []string{"starleaf"}, resolve.Selection{Params: []string{"company=acme"}}, "203.0.113.20 acme.call.sl\n2001:db8:3::20 acme.call.sl\n203.0.113.30 config.starleaf.com\n", site, target.Options{})
	for _, p := range products {
		doc, _, err := pfxml.Render(p, in, false)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(doc))
	}
	for _, s := range []string{
		`<filter><rule><interface>lan</interface><source><address>A</address></source><destination><any/><port>P</port></destination></rule></filter>`,
		`<pfsense><aliases><alias><name>A</name><type>host</type><address>B x.example.com 192.0.2.1-192.0.2.9</address></alias><alias><name>B</name><type>network</type><address>A</address></alias></aliases><filter><rule><source><address>A</address><not/></source></rule></filter></pfsense>`,
		`<nat><rule><interface>wan</interface><protocol>tcp</protocol><destination><network>wanip</network><port>10-20</port></destination><target>192.0.2.1</target><local-port>30</local-port><associated-rule-id>pass</associated-rule-id></rule></nat>`,
		`<opnsense><filter><rule><floating>yes</floating><direction>sideways</direction></rule></filter></opnsense>`,
		`<pfsense><interfaces><lan><ipaddr>192.0.2.1</ipaddr><subnet>99</subnet></lan></interfaces></pfsense>`,
		`<pfsense><filter><rule><ipprotocol>inet7</ipprotocol></rule></filter></pfsense>`,
		"<pfsense>\n<filter>\n<rule>\n</filter>",
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse feeds any bytes to both products' readers: a ruleset or an
// error naming the file and line, never a panic; the parser's limits
// bound the memory a document takes.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range products {
			rs, err := p.Read("in.xml", data)
			if err != nil {
				if !errLine.MatchString(err.Error()) {
					t.Fatalf("%s: error without file and line: %v", p.Name, err)
				}
				continue
			}
			for _, c := range rs.Chains {
				for _, r := range c.Rules {
					if r.Chain != c {
						t.Fatalf("%s: rule of chain %s points elsewhere", p.Name, c.Name)
					}
				}
			}
		}
	})
}

// FuzzLooks: detection never panics and claims no input of another
// format that starts differently.
func FuzzLooks(f *testing.F) {
	fuzzSeeds(f)
	f.Add([]byte(`<zone><service name="ssh"/></zone>`))
	f.Add([]byte(`{"nftables": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := pfxml.PfSense.Looks(data), pfxml.OPNsense.Looks(data)
		if a && b {
			t.Fatal("both products claim the input")
		}
		_ = pfxml.LooksSection(data)
	})
}

// TestReadErrors: broken input is an error naming the file, the line and
// what is wrong; other formats are not claimed.
func TestReadErrors(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{"<pfsense>\n<filter>\n<rule>\n</filter>", "in.xml: line 4: element <rule> closed by </filter>"},
		{"<pfsense>\n<filter><rule>\n<ipprotocol>inet7</ipprotocol></rule></filter></pfsense>", `in.xml: line 2: ipprotocol "inet7"`},
		{"<pfsense><interfaces>\n<lan><ipaddr>192.0.2.1</ipaddr><subnet>99</subnet></lan></interfaces></pfsense>", `in.xml: line 2: interface lan: subnet "99"`},
		{"<pfsense><aliases>\n<alias><type>host</type></alias></aliases></pfsense>", "in.xml: line 2: alias without a <name>"},
		{"<pfsense><aliases><alias><name>A</name></alias>\n<alias><name>A</name></alias></aliases></pfsense>", `in.xml: line 2: alias "A" defined twice`},
		{"<pfsense><filter>\n<rule><floating>yes</floating><direction>up</direction></rule></filter></pfsense>", `in.xml: line 2: direction "up"`},
		{"<zone/>", "in.xml: line 1: root element <zone>, want <pfsense>"},
		{"", "in.xml: line 1: no root element"},
		{strings.Repeat("<a>", pfxml.MaxDepth+1), "in.xml: line 1: elements nested deeper than"},
	} {
		_, err := pfxml.PfSense.Read("in.xml", []byte(c.data))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want %s…", c.data, err, c.want)
		}
	}
	for _, other := range []string{`<?xml version="1.0"?><zone/>`, `{"nftables":[]}`, "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", "<policy/>", "<opnsense/>"} {
		if pfxml.PfSense.Looks([]byte(other)) && other != "<opnsense/>" || pfxml.LooksSection([]byte(other)) {
			t.Errorf("pfsense claims %q", other)
		}
	}
	if !pfxml.OPNsense.Looks([]byte("<?xml version=\"1.0\"?>\n<!-- c -->\n<opnsense>")) || pfxml.PfSense.Looks([]byte("<opnsense>")) {
		t.Error("<opnsense> root: claimed by the wrong reader")
	}
	if !pfxml.LooksSection([]byte("<?xml version=\"1.0\"?>\n<filter>\n")) {
		t.Error("a <filter> area backup is not recognised")
	}
}
