package pfsense_test

import (
	"testing"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/target"

	_ "github.com/portolan/portolan/target/opnsense"
	_ "github.com/portolan/portolan/target/pfsense"
)

// TestRegistered: both targets and both readers are registered, and the
// audit's detection tells the products, pfSense's area backups and the
// other formats apart.
func TestRegistered(t *testing.T) {
	for _, name := range []string{"pfsense", "opnsense"} {
		if _, err := target.Lookup(name); err != nil {
			t.Error(err)
		}
		if _, ok := ruleset.LookupReader(ruleset.Format(name)); !ok {
			t.Errorf("no reader %s", name)
		}
	}
	for _, c := range []struct {
		data string
		want ruleset.Format
	}{
		{"<?xml version=\"1.0\"?>\n<pfsense>\n<version>23.3</version></pfsense>", "pfsense"},
		{"<?xml version=\"1.0\"?>\n<opnsense>\n</opnsense>", "opnsense"},
		{"<?xml version=\"1.0\"?>\n<!-- portolan -->\n<filter>\n</filter>", "pfsense"},
		{"<nat><rule/></nat>", "pfsense"},
		{`<?xml version="1.0" encoding="utf-8"?><zone><service name="ssh"/></zone>`, ""},
		{`{"nftables": [{"metainfo": {}}]}`, "nft-json"},
		{"*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", "iptables-save"},
	} {
		got, _ := audit.Detect([]byte(c.data))
		if got != c.want {
			t.Errorf("%.40q: detected %q, want %q", c.data, got, c.want)
		}
	}
}
