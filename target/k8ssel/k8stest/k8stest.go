// Package k8stest holds what the tests of the Kubernetes and Cilium
// targets share: the seed services' inputs in host mode, the shared
// --selector and --namespace, and the check that every field a target
// writes is in its table of documented fields.
package k8stest

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/k8ssel"
	"github.com/portolan/portolan/target/targettest"
)

// LAN is the site's networks in the tests.
var LAN = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}

// Seeds are the seed services.
var Seeds = []string{"starleaf", "pexip", "starface", "tw-solutions", "onsight"}

// SeedInput is one seed service with every feature, its example params,
// optional flows in, names pinned to documentation addresses, host mode.
func SeedInput(t *testing.T, slug string) *target.Input {
	t.Helper()
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := cat.Select([]string{slug})
	if err != nil {
		t.Fatal(err)
	}
	sel := resolve.Selection{AllFeatures: true, Params: targettest.ExampleParams(svcs...)}
	cs, err := resolve.Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	return targettest.Prepare(t, []string{slug}, sel, targettest.Pins(t, cs), policy.Site{Mode: policy.Host, LAN: LAN},
		target.Options{Options: policy.Options{Optional: true}})
}

// SetFlags sets --selector and --namespace for the test.
func SetFlags(t *testing.T, selector, namespace string) {
	t.Helper()
	old := k8ssel.Shared
	k8ssel.Shared = k8ssel.Values{Selector: selector, Namespace: namespace}
	t.Cleanup(func() { k8ssel.Shared = old })
}

// Write writes in with tg.
func Write(t *testing.T, tg target.Target, in *target.Input) (string, target.Result) {
	t.Helper()
	var b bytes.Buffer
	res, err := tg.Write(&b, in)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), res
}

// Docs splits a YAML stream into its documents.
func Docs(out string) []string { return strings.Split(out, "\n---\n") }

// CheckFieldsDocumented writes every seed service with tg and checks every
// field path it writes ("spec.egress[].ports[].port") against fields, the
// table of documented fields, and the table against what is written: a
// field no seed writes, or documented elsewhere than at one of vendors'
// addresses, is an error too.
func CheckFieldsDocumented(t *testing.T, tg target.Target, fields map[string]string, vendors ...string) {
	t.Helper()
	SetFlags(t, "app=pbx,tier in (sip,media)", "voip")
	used := map[string]bool{}
	for _, slug := range Seeds {
		out, _ := Write(t, tg, SeedInput(t, slug))
		for _, d := range Docs(out) {
			j, err := yaml.YAMLToJSON([]byte(d))
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(j, &v); err != nil {
				t.Fatal(err)
			}
			paths("", v, used)
		}
	}
	for p := range used {
		if fields[p] == "" {
			t.Errorf("field %s is written but not in the table of documented fields", p)
		}
	}
	for p, url := range fields {
		if !used[p] {
			t.Errorf("field %s (%s) is in the table but no seed service writes it", p, url)
		}
		vendor := false
		for _, v := range vendors {
			vendor = vendor || strings.HasPrefix(url, v)
		}
		if !vendor {
			t.Errorf("field %s: %s is not the vendor's documentation", p, url)
		}
	}
}

// paths collects the field paths of a decoded JSON value; a map's keys
// below labels, annotations and matchLabels are data, not fields.
func paths(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if strings.HasSuffix(prefix, "labels") || strings.HasSuffix(prefix, "annotations") || strings.HasSuffix(prefix, "matchLabels") {
			out[prefix] = true
			return
		}
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			paths(p, e, out)
		}
	case []any:
		for _, e := range x {
			paths(prefix+"[]", e, out)
		}
	default:
		out[prefix] = true
	}
}
