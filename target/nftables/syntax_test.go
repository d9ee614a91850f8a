package nftables_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target/nftables"
	"github.com/portolan/portolan/target/targettest"
)

var ruleComment = regexp.MustCompile(`comment "(` + ref + `(, ` + ref + `)*|` + indexed + `)"$`)

// ref is a flow's reference in a comment: service/flow document:line.
const ref = `[a-z0-9-]+/[a-z0-9-]+ [^",]+\.txt:[0-9]+`

// indexed is the comment of a rule whose flows the header's index lists.
const indexed = `index [0-9]+ \([0-9]+ flows\): [a-z0-9-]+/[a-z0-9-]+(, [a-z0-9-]+/[a-z0-9-]+)*(,? ?[a-z0-9/-]*…)?`

// TestSyntax has nft check (nft -c, in a namespace of its own) every
// output of the syntax matrix, and checks that every rule that accepts or
// forwards carries its flow's comment.
func TestSyntax(t *testing.T) {
	l := netlab.New(t)
	matrix := targettest.SyntaxMatrix(t)
	rules := 0
	for _, m := range matrix {
		var b bytes.Buffer
		res, err := (nftables.Target{}).Write(&b, m.In)
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		text := b.String()
		if out, err := l.Router.RunInput([]byte(text), "nft", "-c", "-f", "-"); err != nil {
			t.Errorf("%s: nft -c: %v\n%s", m.Name, err, out)
			continue
		}
		n := 0
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "#") || !(strings.HasSuffix(line, "\"") && (strings.Contains(line, " accept comment") || strings.Contains(line, " dnat "))) {
				continue
			}
			if strings.HasPrefix(line, "ct state") || strings.HasPrefix(line, "icmpv6") {
				continue
			}
			n++
			if !ruleComment.MatchString(line) {
				t.Errorf("%s: rule without its flow's comment: %s", m.Name, line)
			}
		}
		if n != res.Stats.Rules {
			t.Errorf("%s: %d rules in the text, stats say %d", m.Name, n, res.Stats.Rules)
		}
		rules += n
	}
	t.Logf("%d rulesets, %d flow rules, all accepted by nft -c", len(matrix), rules)
}

// TestSyntaxTables checks --chain-only into tables of one family.
func TestSyntaxTables(t *testing.T) {
	l := netlab.New(t)
	for _, m := range targettest.SyntaxMatrix(t) {
		if !strings.HasSuffix(m.Name, "/all-features/gateway/chain-only") && !strings.HasSuffix(m.Name, "/all-features/host/chain-only") {
			continue
		}
		for _, table := range []string{"ip filter", "ip6 fw6", "inet my-table"} {
			in := *m.In
			in.Options.Table = table
			var b bytes.Buffer
			if _, err := (nftables.Target{}).Write(&b, &in); err != nil {
				t.Fatalf("%s %s: %v", m.Name, table, err)
			}
			if out, err := l.Router.RunInput(b.Bytes(), "nft", "-c", "-f", "-"); err != nil {
				t.Errorf("%s %s: nft -c: %v\n%s", m.Name, table, err, out)
			}
			fam := strings.Fields(table)[0]
			if fam == "ip" && strings.Contains(b.String(), "ip6 daddr") || fam == "ip6" && strings.Contains(b.String(), "ip daddr") {
				t.Errorf("%s %s: a rule of the other family", m.Name, table)
			}
		}
	}
}
