package target_test

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/iptables"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

var (
	// ruleComment finds a rule's comment: nftables' comment "…" at the end
	// of a rule, iptables' --comment "…".
	ruleComment = regexp.MustCompile(`(?:counter (?:accept|dnat .*)|-m comment --comment) "([^"]*)"`)
	indexedRE   = regexp.MustCompile(`^index ([0-9]+) \(([0-9]+) flows\): (.*)$`)
	entryRE     = regexp.MustCompile(`^index ([0-9]+) \([0-9]+ flows\):$`)
	setRE       = regexp.MustCompile(`^\tset (\S+)_v([46]) \{$`)
	ipv4RE      = regexp.MustCompile(`\b[0-9]{1,3}(\.[0-9]{1,3}){3}\b`)
	ipv6RE      = regexp.MustCompile(`\b[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}`)
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
	for _, m := range targettest.SyntaxMatrix(t) {
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
			for _, l := range lines {
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
				if ix == nil {
					continue
				}
				indexed++
				refs := entries[ix[1]]
				if n, _ := strconv.Atoi(ix[2]); n != len(refs) || n < 2 {
					t.Errorf("%s %s: comment %q, index entry %s lists %d flows: %q", m.Name, tg.Name(), c[1], ix[1], len(refs), refs)
					continue
				}
				named := strings.Split(strings.TrimSuffix(ix[3], "…"), ", ")
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
