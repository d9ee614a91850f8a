package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/model"
)

// readmeReflect returns the portolan reflect command of the README's
// probe section, continuation lines joined.
func readmeReflect(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "<!-- section: probe -->"), strings.Index(s, "<!-- end: probe -->")
	if i < 0 || j < i {
		t.Fatal("README.md: no probe section")
	}
	text := strings.ReplaceAll(s[i:j], "\\\n", " ")
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "portolan reflect ") {
			return l
		}
	}
	t.Fatal("README.md: no portolan reflect command in the probe section")
	return ""
}

// TestReadmeReflectExample: the README's reflect example takes its token
// from a file a probe can be given too, and serves every port a flow of
// the seed services sends to the reflector (UDP flows, and TCP flows to
// any address or to an address block), all features on — but those
// opening every port, and parameters left to the site.
func TestReadmeReflectExample(t *testing.T) {
	cmd := readmeReflect(t)
	if !strings.Contains(cmd, "--token-file ") {
		t.Errorf("README reflect example without --token-file: %s", cmd)
	}
	ports := func(flag string) model.PortSet {
		m := regexp.MustCompile(flag + `[ =](\S+)`).FindStringSubmatch(cmd)
		if m == nil {
			t.Fatalf("README reflect example without %s: %s", flag, cmd)
		}
		rs, err := model.ParsePortList(m[1])
		if err != nil {
			t.Fatalf("%s %s: %v", flag, m[1], err)
		}
		return model.NewPortSet(rs...)
	}
	served := map[string]model.PortSet{"udp": ports("--udp-ports"), "tcp": ports("--tcp-ports")}

	out, errs, code := portolan("show", "all", "--all-features", "--output", "json")
	if code != 0 {
		t.Fatalf("show all: exit %d: %s", code, errs)
	}
	var flows []struct {
		Service, ID, Direction, Proto string
		Ports, Dest                   []string
	}
	if err := json.Unmarshal([]byte(out), &flows); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range flows {
		if f.Direction != "outbound" || len(f.Ports) == 1 && f.Ports[0] == "1-65535" || strings.Contains(strings.Join(f.Ports, ","), "{") {
			continue
		}
		reflected := f.Proto == "udp"
		for _, d := range f.Dest {
			if p, err := netip.ParsePrefix(d); d == "any" || err == nil && !p.IsSingleIP() {
				reflected = true
			}
			if d == "lan" {
				reflected = false
			}
		}
		if !reflected {
			continue
		}
		rs, err := model.ParsePortList(strings.Join(f.Ports, ","))
		if err != nil {
			t.Fatalf("%s/%s ports %v: %v", f.Service, f.ID, f.Ports, err)
		}
		checked++
		if need := model.NewPortSet(rs...); !need.Intersect(served[f.Proto]).Equal(need) {
			t.Errorf("%s/%s needs %s %s; the README's reflect example serves %s", f.Service, f.ID, f.Proto, need, served[f.Proto])
		}
	}
	if checked < 20 {
		t.Errorf("only %d flows checked", checked)
	}
}
