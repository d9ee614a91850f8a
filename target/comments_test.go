package target_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

var (
	// ruleComment finds a rule's comment: nftables' comment "…" at the end
	// of a rule, iptables' --comment "…".
	ruleComment = regexp.MustCompile(`(?:counter (?:accept|dnat [^"]*) comment|-m comment --comment) "([^"]*)"`)
	indexedRE   = regexp.MustCompile(`^index ([0-9]+) \(([0-9]+) flows\): (.*)$`)
	entryRE     = regexp.MustCompile(`^index ([0-9]+) \([0-9]+ flows\):$`)
	setRE       = regexp.MustCompile(`^\tset (\S+)_v([46]) \{$`)
	ipv4RE      = regexp.MustCompile(`\b[0-9]{1,3}(\.[0-9]{1,3}){3}\b`)
	ipv6RE      = regexp.MustCompile(`\b[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}`)
	flowRefRE   = regexp.MustCompile(`^[a-z0-9-]+/[a-z0-9-]+ `)
	timeRE      = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z`)
)

// TestRuleCommentsTrue checks, over the syntax matrix and for nftables,
// iptables and ip6tables, that comments say what the rules hold: a rule's
// comment names every flow it stands for or the entry of the header's
// index that does (never "+N more"), that entry lists as many flows as
// the comment says, and a set of one family lists no address of the other
// in its comments.
func TestRuleCommentsTrue(t *testing.T) {
	indexed := 0
	for _, m := range append(targettest.SyntaxMatrix(t), targettest.Matrix{Name: "two-sets", In: twoSets(t)}) {
		for _, tg := range []target.Target{nftables.Target{}, iptables.Target{Family: 4}, iptables.Target{Family: 6}} {
			var b bytes.Buffer
			if _, err := tg.Write(&b, m.In); err != nil {
				t.Fatalf("%s %s: %v", m.Name, tg.Name(), err)
			}
			lines := strings.Split(b.String(), "\n")
			// The header's index: "#   index N (K flows):", then a line per flow.
			entries := map[string][]string{}
			inIndex, last := false, ""
			for _, l := range lines {
				switch {
				case strings.HasPrefix(l, "# Index of the rules"):
					inIndex = true
				case inIndex && strings.HasPrefix(l, "#     "):
					entries[last] = append(entries[last], strings.TrimPrefix(l, "#     "))
				case inIndex && strings.HasPrefix(l, "#   index "):
					e := entryRE.FindStringSubmatch(strings.TrimPrefix(l, "#   "))
					if e == nil {
						t.Fatalf("%s %s: index line %q", m.Name, tg.Name(), l)
					}
					last = e[1]
				default:
					inIndex = false
				}
			}
			fam := ""
			var block, above []string // the comment lines being read, and those above the rules now
			for _, l := range lines {
				if t := strings.TrimSpace(l); strings.HasPrefix(t, "#") {
					block = append(block, t)
				} else if len(block) > 0 {
					above, block = block, nil
				}
				if s := setRE.FindStringSubmatch(l); s != nil {
					fam = s[2]
				}
				if fam != "" && (strings.HasPrefix(l, "\t\tcomment ") || strings.HasPrefix(l, "\t# ") && strings.Contains(l, " host set ")) {
					if w := timeRE.ReplaceAllString(l, ""); fam == "4" && ipv6RE.MatchString(w) || fam == "6" && ipv4RE.MatchString(w) {
						t.Errorf("%s %s: IPv%s set's comment lists an address of the other family: %s", m.Name, tg.Name(), fam, l)
					}
				}
				if l == "\t}" {
					fam = ""
				}
				if strings.HasPrefix(strings.TrimSpace(l), "#") {
					continue
				}
				c := ruleComment.FindStringSubmatch(l)
				if c == nil {
					continue
				}
				if strings.Contains(c[1], " more") {
					t.Errorf("%s %s: a comment hides flows: %s", m.Name, tg.Name(), l)
				}
				ix := indexedRE.FindStringSubmatch(c[1])
				if ix == nil && !flowRefRE.MatchString(c[1]) {
					continue // not a flow's rule: replies, loopback, ICMPv6
				}
				flows := strings.Split(c[1], ", ")
				if ix != nil {
					flows = entries[ix[1]]
				}
				// The comment block above the rule describes every flow it
				// stands for.
				for _, f := range flows {
					f, _, _ = strings.Cut(f, " ")
					if !slices.ContainsFunc(above, func(a string) bool { return strings.HasPrefix(a, "# "+f+" (") }) {
						t.Errorf("%s %s: the comments above the rule do not describe %s: %s\n%s", m.Name, tg.Name(), f, l, strings.Join(above, "\n"))
					}
				}
				if ix == nil {
					continue
				}
				indexed++
				refs := entries[ix[1]]
				if n, _ := strconv.Atoi(ix[2]); n != len(refs) || n < 2 {
					t.Errorf("%s %s: comment %q, index entry %s lists %d flows: %q", m.Name, tg.Name(), c[1], ix[1], len(refs), refs)
					continue
				}
				named := strings.Split(strings.TrimSuffix(strings.TrimSuffix(ix[3], "…"), ","), ", ")
				for i, f := range named {
					if ref, _, _ := strings.Cut(refs[i], " "); ref != f && !(i == len(named)-1 && strings.HasPrefix(ref, f)) {
						t.Errorf("%s %s: comment %q names %s where the index has %s", m.Name, tg.Name(), c[1], f, refs[i])
					}
				}
			}
		}
	}
	if indexed == 0 {
		t.Error("no rule of the matrix stands for more flows than its comment holds: the index is not tested")
	}
}

// twoSets is a flow to two host sets and a flow to the second only, with
// other ports: nftables writes the first flow's rules one per set, and
// the second flow's rule joins the first flow's rule of the second set.
func twoSets(t *testing.T) *target.Input {
	const profile = `service: {slug: two, name: Two, vendor: tests, document: two.txt, language: en}
roles:
  - {name: endpoint, description: an endpoint}
hosts:
  - {name: one, description: one, entries: [203.0.113.1]}
  - {name: two, description: two, entries: [203.0.113.2]}
flows:
  - {id: both, direction: outbound, proto: [tcp], ports: [443], local: endpoint, remote: [one, two], necessity: required, app: https, purpose: {en: to both}, source: {quote: q, line: 1}}
  - {id: second, direction: outbound, proto: [tcp], ports: [8443], local: endpoint, remote: [two], necessity: required, app: https, purpose: {en: to the second}, source: {quote: q, line: 2}}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "two.yaml"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select([]string{"two"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, resolve.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Site: targettest.Site})
	if err != nil {
		t.Fatal(err)
	}
	return in
}
