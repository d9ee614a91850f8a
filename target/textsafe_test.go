package target_test

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
	"github.com/portolan/portolan/target/targettest"

	_ "github.com/portolan/portolan/target/domains"
	_ "github.com/portolan/portolan/target/iptables"
	_ "github.com/portolan/portolan/target/nftables"
	_ "github.com/portolan/portolan/target/squid"
)

// evil carries what must never reach a comment of generated config: a
// bidi override that makes a comment read backwards, zero-width
// characters, a terminal escape, and line breaks that would end the
// comment and start a line of config.
const evil = "EVIL\u202eelif\u200b\u200d\ufeff \x1b[31mred\x1b[0m\nACCEPT\r\n-A FORWARD -j ACCEPT\u2028drop"

// evilProfile is a small service whose texts carry evil: its name, a
// flow's purpose and quote, and a constraint's purpose.
const evilProfile = `service: {slug: evil, name: "Evil \u202eNAME\u200b", vendor: tests, document: evil.txt, language: en}
roles:
  - {name: endpoint, description: an endpoint}
hosts:
  - {name: web, description: a web host, entries: [evil.example.com, 203.0.113.7, "2001:db8::7"]}
flows:
  - id: web
    direction: outbound
    proto: [tcp, udp]
    ports: [443]
    local: endpoint
    remote: [web]
    necessity: required
    app: https
    purpose: {en: "` + `EVIL\u202eelif\u200b \x1b[31mred\nACCEPT\n-A FORWARD -j ACCEPT` + `"}
    source: {quote: "quote \u202e\u200b\x1b[0m next", line: 1}
constraints:
  - id: keep
    kind: nat-timeout
    proto: udp
    ports: [443]
    min_timeout: 90s
    flows: [web]
    purpose: {en: "` + `keep\u202e\u200b\x1b]0;title\x07\nflush ruleset` + `"}
    source: {quote: q, line: 2}
`

// TestCommentsAreSafe writes the evil service with every target and
// checks that no output holds a control character but newline and tab,
// a bidi control or a zero-width or other format character, and that no
// line of config comes from the profile's text: every line with the
// marker is a comment, or the marker sits inside a quoted comment.
func TestCommentsAreSafe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "evil.yaml"), []byte(evilProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(dir)
	var cs []*resolve.Choice
	if err == nil {
		svcs, _ := cat.Select([]string{"evil"})
		cs, err = resolve.Choose(svcs, resolve.Selection{})
	}
	if err != nil {
		t.Fatal(err)
	}
	pins, _ := resolve.ParseHosts("pins", strings.NewReader("203.0.113.8 evil.example.com\n"))
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: pins, Site: targettest.Site,
		Command: "portolan rules evil --param x='" + evil + "'", Sync: "portolan sync evil " + evil, ResolverInfo: evil})
	if err != nil {
		t.Fatal(err)
	}
	// Whatever a loader lets through, what reaches a target is made safe
	// by the target: texts from elsewhere (DNS errors, params) too.
	for i := range in.Flows {
		in.Flows[i].Purpose = evil
	}
	for i := range in.Constraints {
		in.Constraints[i].Purpose = evil
	}
	in.Warnings = append(in.Warnings, resolve.Warning{Service: "evil", Flow: "web", Msg: evil})
	for _, tg := range target.All() {
		var b bytes.Buffer
		res, err := tg.Write(&b, in)
		if err != nil {
			t.Errorf("%s: %v", tg.Name(), err)
			continue
		}
		out := b.String()
		for i, r := range out {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029') {
				t.Errorf("%s: %U at byte %d: %q", tg.Name(), r, i, out[max(0, i-40):min(len(out), i+40)])
				break
			}
		}
		for _, l := range strings.Split(out, "\n") {
			l = strings.TrimLeft(l, "\t ")
			if strings.Contains(l, "EVIL") || strings.Contains(l, "keep") && strings.Contains(l, "flush ruleset") {
				if !strings.HasPrefix(l, "#") && !strings.Contains(l, `comment "`) {
					t.Errorf("%s: profile text as a line of config: %q", tg.Name(), l)
				}
			}
			if strings.HasPrefix(l, "-A FORWARD -j ACCEPT") || strings.HasPrefix(l, "ACCEPT") || strings.HasPrefix(l, "flush ruleset") || strings.HasPrefix(l, "drop") {
				t.Errorf("%s: a line break in a text made a line of config: %q", tg.Name(), l)
			}
		}
		for _, n := range res.Notes {
			if strings.ContainsAny(n, "\n\r\x1b\u202e\u200b") {
				t.Errorf("%s: note %q", tg.Name(), n)
			}
		}
	}
}
