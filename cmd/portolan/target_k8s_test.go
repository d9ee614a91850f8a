package main

import (
	"strings"
	"testing"
)

// TestKubernetesTargetsCLI runs rules with --target kubernetes and
// cilium: both take the same --selector and --namespace (registered once,
// owned by both), another target refuses them, and gateway mode is a
// usage error.
func TestKubernetesTargetsCLI(t *testing.T) {
	pins := writeFile(t, "pins", starleafPins)
	base := []string{"rules", "starleaf", "--param", "company=acme", "--hosts", pins}
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stdout, or in stderr when code != 0
	}{
		{"kubernetes", []string{"--target", "kubernetes", "--mode", "host", "--selector", "app=pbx,tier in (sip)", "--namespace", "voip"}, 0,
			[]string{"kind: NetworkPolicy", "name: portolan-starleaf", "namespace: voip", "app: pbx", "key: tier", "cidr: 203.0.113.20/32", "cidr: 2001:db8:3::20/128", "port: 24704", "protocol: UDP"}},
		{"cilium", []string{"--target", "cilium", "--mode", "host", "--selector", "app=pbx,tier in (sip)", "--namespace", "voip"}, 0,
			[]string{"kind: CiliumNetworkPolicy", "name: portolan-starleaf", "namespace: voip", "app: pbx", "key: tier", "matchName: acme.call.sl", "matchPattern: '*'"}},
		{"selector with nftables", []string{"--target", "nftables", "--selector", "app=pbx"}, 2,
			[]string{"--selector is a flag of --target cilium and kubernetes, not of nftables"}},
		{"gateway mode", []string{"--target", "kubernetes", "--selector", "app=pbx"}, 2, []string{"give --mode host"}},
		{"no selector", []string{"--target", "cilium", "--mode", "host"}, 2, []string{"--selector is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := portolan(append(append([]string{}, base...), tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, tt.code, errs)
			}
			where := out
			if code != 0 {
				where = errs
				if out != "" {
					t.Errorf("output despite the error:\n%.300s", out)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(where, w) {
					t.Errorf("no %q in\n%s", w, where)
				}
			}
		})
	}
}
