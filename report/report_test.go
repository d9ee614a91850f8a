package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

func TestConstraintSummary(t *testing.T) {
	tests := []struct {
		c    resolve.Constraint
		want string
	}{
		{resolve.Constraint{Kind: model.KindALGOff, Apps: []string{"sip"}, Purpose: "p"}, "turn the SIP ALG off — p"},
		{resolve.Constraint{Kind: model.KindNATTimeout, Proto: []string{"udp"}, Ports: []string{"5060-5080"}, MinTimeout: "90s", Keepalive: "30s", Purpose: "p"},
			"UDP bindings on udp 5060-5080 must live ≥ 90s (keep-alives every 30s) — p"},
		{resolve.Constraint{Kind: model.KindTLSMin, MinVersion: "1.2", Ports: []string{"5061"}, Purpose: "p"}, "TLS ≥ 1.2 on ports 5061 — p"},
		{resolve.Constraint{Kind: model.KindProxyAuth, Allowed: []string{"basic"}, Refused: []string{"ntlm"}, Purpose: "p"}, "proxy authentication: basic only (not ntlm) — p"},
		{resolve.Constraint{Kind: model.KindSSLInspectionOff, Hosts: []string{"*.librestream.com"}, Purpose: "p"}, "no SSL inspection for *.librestream.com — p"},
		{resolve.Constraint{Kind: model.KindPortPreservingNAT, Proto: []string{"udp"}, Ports: []string{"5060"}, Hosts: []string{"sip.vendor.example"}, Purpose: "p"},
			"NAT must keep source ports udp 5060 unchanged (static port mapping) towards sip.vendor.example — p"},
	}
	for _, tt := range tests {
		if got := ConstraintSummary(tt.c); got != tt.want {
			t.Errorf("ConstraintSummary(%s) = %q, want %q", tt.c.Kind, got, tt.want)
		}
	}
}

func TestShowTableGroupsAndHostSets(t *testing.T) {
	c, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := c.Select([]string{"onsight"})
	cs, err := resolve.Choose(svcs, resolve.Selection{Features: []string{"legacy"}})
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := cs[0].Flows(false)
	var buf bytes.Buffer
	if err := ShowTable(&buf, []ServiceView{{Choice: cs[0], Flows: flows, Constraints: cs[0].Constraints()}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Flows of no feature first, then features in profile order.
	iBase, iDirect, iLegacy, iPush := strings.Index(out, "\n  Flows\n"), strings.Index(out, "Feature direct-sip"), strings.Index(out, "Feature legacy"), strings.Index(out, "Feature push")
	if iBase < 0 || !(iBase < iDirect && iDirect < iLegacy && iLegacy < iPush) {
		t.Errorf("group order wrong: base %d direct-sip %d legacy %d push %d", iBase, iDirect, iLegacy, iPush)
	}
	// Long remote lists are named, and listed once under Host sets.
	if !strings.Contains(out, "<call-services>") || !strings.Contains(out, "52.142.34.48/28, 51.105.215.0/28, 52.253.84.80/28") {
		t.Errorf("host sets not listed:\n%s", out)
	}
	if !strings.Contains(out, "stun           out  udp    3478") {
		t.Errorf("stun row missing:\n%s", out)
	}
	if !strings.Contains(out, "Not shown, features off: china, custom-domains, p2p") {
		t.Errorf("off features not named")
	}
}
