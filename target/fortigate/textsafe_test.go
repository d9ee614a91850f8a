package fortigate_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/fortigate"
	"github.com/portolan/portolan/target/targettest"
)

// An inbound and an outbound flow whose texts carry what must never become
// a line of FortiOS configuration: line breaks, quotes and backslashes that
// would end a quoted comment, bidi and zero-width characters.
const evilProfile = `service: {slug: evil, name: "Evil \u202eNAME", vendor: tests, document: evil.txt, language: en}
params:
  - {name: pbx_address, type: address, description: the PBX, example: 192.0.2.10}
roles:
  - {name: pbx, description: the PBX, address_param: pbx_address}
hosts:
  - {name: web, description: a web host, entries: [evil.example.com, 203.0.113.7]}
flows:
  - {id: web, direction: outbound, proto: [tcp], ports: [443], local: pbx, remote: [web], necessity: required, app: https,
     purpose: {en: "EVIL\" \\\\ \u202e\u200b\nend\nconfig firewall policy\n    edit 1\r\nset action accept"}, source: {quote: q, line: 1}}
  - {id: sip, direction: inbound, proto: [udp], ports: [5060], local: pbx, remote: [web], necessity: required, app: sip,
     purpose: {en: "EVIL\"\nnext\nend"}, source: {quote: q, line: 2}}
constraints:
  - {id: keep, kind: nat-timeout, proto: udp, ports: [5060], min_timeout: 90s, flows: [sip], purpose: {en: "EVIL\nconfig system global\nset admin-port 1"}, source: {quote: q, line: 3}}
`

func TestCommentsAreSafe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "evil.yaml"), []byte(evilProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := cat.Select([]string{"evil"})
	cs, err := resolve.Choose(svcs, resolve.Selection{Params: []string{"pbx_address=192.0.2.10"}})
	if err != nil {
		t.Fatal(err)
	}
	pins, _ := resolve.ParseHosts("pins", strings.NewReader("203.0.113.8 evil.example.com\n"))
	site := targettest.Site
	site.LANIf, site.WANIf = "port1", "wan1"
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: pins, Site: site,
		Command: "portolan rules evil --param x='EVIL\nend'", ResolverInfo: "EVIL\nend"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := (&fortigate.Target{}).Write(&b, in); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for i, r := range out {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			t.Fatalf("%U at byte %d", r, i)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "EVIL") && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "set comment") {
			t.Errorf("profile text as a line of config: %q", l)
		}
	}
	// The script still parses as the configuration it is: the texts stay
	// inside their quotes.
	rs, err := fortigate.Read("evil.conf", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "\n    edit ") == 0 || len(rs.Chains[0].Rules) < 3 {
		t.Errorf("%d rules read back", len(rs.Chains[0].Rules))
	}
}
