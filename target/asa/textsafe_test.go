package asa_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/asa"
	"github.com/portolan/portolan/target/targettest"
)

// evil is profile text that would be commands if a line break or a
// control character got through.
const evil = "EVIL\u202e\u200b \x1b[31mred?\nclear configure all\nno access-list x"

const evilProfile = `service: {slug: evil, name: "Evil` + "\\u202e" + `", vendor: v, document: "doc` + "\\nclear configure all" + `.txt", language: en}
roles:
  - {name: pbx, description: the PBX, address_param: pbx}
params:
  - {name: pbx, type: address, description: the PBX, example: 192.0.2.10}
hosts:
  - {name: web, description: web, entries: [evil.example.com, 198.51.100.7]}
flows:
  - id: web
    direction: outbound
    proto: [tcp]
    ports: [443, 8443]
    local: pbx
    remote: [web]
    necessity: required
    app: https
    purpose: {en: "EVIL\nclear configure all\n? help"}
    source: {quote: "q", line: 1}
  - id: sip-in
    direction: inbound
    proto: [udp]
    ports: [5060, 10000-10010]
    local: pbx
    remote: [web]
    necessity: required
    app: sip
    purpose: {en: "EVIL\nno access-list x"}
    source: {quote: "q", line: 2}
constraints:
  - {id: keep, kind: nat-timeout, proto: [udp], ports: [5060], min_timeout: 90s, purpose: {en: "EVIL\nclear configure all"}, source: {quote: q, line: 3}}
  - {id: alg, kind: alg-off, apps: [sip], purpose: {en: "EVIL\nclear configure all"}, source: {quote: q, line: 4}}
`

// TestTextIsSafe: texts from a profile, the command line and the resolver
// reach the configuration only as comments, remarks and descriptions, on
// one line of printable ASCII each, never as a command.
func TestTextIsSafe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "evil.yaml"), []byte(evilProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select([]string{"evil"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, resolve.Selection{Params: []string{"pbx=192.0.2.10"}})
	if err != nil {
		t.Fatal(err)
	}
	pins, _ := resolve.ParseHosts("pins", strings.NewReader("203.0.113.8 evil.example.com\n"))
	site := targettest.Site
	site.LANIf, site.WANIf = "inside", "outside"
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: pins, Site: site,
		Command: "portolan rules evil --param x='" + evil + "'", ResolverInfo: evil})
	if err != nil {
		t.Fatal(err)
	}
	in.Warnings = append(in.Warnings, resolve.Warning{Service: "evil", Flow: "web", Msg: evil})
	var b bytes.Buffer
	res, err := (asa.Target{}).Write(&b, in)
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkGrammar(t, "evil", out)
	for _, l := range strings.Split(out, "\n") {
		// The text may stand only after the comment marker, a remark's
		// or a description's keyword (a twice NAT line ends in one).
		text := l
		for _, k := range []string{" remark ", " description "} {
			if i := strings.Index(l, k); i >= 0 {
				text = l[:i]
			}
		}
		if strings.HasPrefix(strings.TrimLeft(l, " "), ":") {
			text = ""
		}
		for _, bad := range []string{"EVIL", "clear configure all", "no access-list x", "evil.txt"} {
			if strings.Contains(text, bad) {
				t.Errorf("profile text as a line of config: %q", l)
			}
		}
	}
	for _, n := range res.Notes {
		if strings.ContainsAny(n, "\n\r\x1b\u202e\u200b") {
			t.Errorf("note %q", n)
		}
	}
	// And it reads back.
	if _, err := asa.Parse("evil.cfg", b.Bytes()); err != nil {
		t.Fatal(err)
	}
}
