package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/resolve"
)

// A platform reader registered as the appliance packages register theirs.
func init() {
	ruleset.RegisterReader(ruleset.Reader{
		Format:   "test-platform",
		Describe: "a test platform's configuration",
		Looks:    func(data []byte) bool { return bytes.HasPrefix(data, []byte("#test-platform\n")) },
		Parse: func(name string, data []byte) (*ruleset.Ruleset, error) {
			c := &ruleset.Chain{Family: "inet", Table: "t", Name: "forward", Base: true, Type: "filter", Hook: "forward", Policy: ruleset.Drop}
			r := &ruleset.Rule{Chain: c, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Pos: ruleset.Pos{Line: 2, Text: "allow to sip.example.com"}}
			ruleset.MatchName(r, ruleset.DstAddr, "sip.example.com", false)
			c.Rules = []*ruleset.Rule{r}
			return &ruleset.Ruleset{Format: "test-platform", Chains: []*ruleset.Chain{c}, Families: []int{4, 6}}, nil
		},
	})
}

func TestPlatformReader(t *testing.T) {
	data := []byte("#test-platform\nallow to sip.example.com\n")
	if f, ok := Detect(data); !ok || f != "test-platform" {
		t.Fatalf("Detect = %q, %v", f, ok)
	}
	if err := CheckFormat("test-platform"); err != nil {
		t.Fatal(err)
	}
	if err := CheckFormat("nope"); err == nil || !strings.Contains(err.Error(), "test-platform") {
		t.Fatalf("CheckFormat(nope) = %v", err)
	}
	if _, err := Load("x", []byte("garbage"), FormatAuto); err == nil || !strings.Contains(err.Error(), "nor a configuration of test-platform") {
		t.Fatalf("Load(garbage) = %v", err)
	}
	rs, err := LoadAll([]Input{{Name: "cfg", Data: data}}, FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAll([]Input{{Name: "cfg", Data: data}, {Name: "cfg2", Data: data}}, FormatAuto); err == nil {
		t.Error("two platform configurations merged")
	}
	hosts, err := resolve.ParseHosts("pins", strings.NewReader("192.0.2.7 sip.example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	if notes := ResolveNames(context.Background(), rs, resolve.NoResolve{}); len(notes) != 1 {
		t.Fatalf("unresolved: notes %q", notes)
	}
	if len(rs.Chains[0].Rules[0].Unknown()) != 1 {
		t.Fatal("an unresolved name was bound")
	}
	if notes := ResolveNames(context.Background(), rs, hosts); len(notes) != 0 {
		t.Fatalf("notes %q", notes)
	}
	r := rs.Chains[0].Rules[0]
	if len(r.Unknown()) != 0 || len(r.Terms) != 1 {
		t.Fatalf("after resolving: unknown %q terms %d", r.Unknown(), len(r.Terms))
	}
}
