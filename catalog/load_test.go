package catalog

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/portolan/portolan/model"
)

// minimal is a valid profile; the error cases below each break one thing.
const minimal = `service:
  slug: demo
  name: Demo
  vendor: Demo Inc.
  document: demo.txt
  language: de
params:
  - name: company
    type: dns-label
    description: the company label
roles:
  - name: endpoint
    description: an endpoint
hosts:
  - name: cloud
    entries: [198.51.100.0/24, "{company}.demo.example", "*.demo.example"]
    description: the cloud
flows:
  - id: https
    direction: outbound
    proto: tcp
    ports: [443]
    local: endpoint
    remote: [cloud]
    necessity: required
    app: https
    purpose: {en: web, de: Web}
    source: {quote: TCP 443, line: 3}
  - id: media
    direction: outbound
    proto: [udp, tcp]
    ports: [10000-20000, 3478]
    local: endpoint
    remote: [cloud]
    necessity: recommended
    app: rtp
    purpose: {en: media, de: Medien}
    source: {quote: UDP}
`

func TestLoadMinimal(t *testing.T) {
	svc, err := Load("demo.yaml", []byte(minimal))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if svc.Slug() != "demo" || len(svc.Flows) != 2 {
		t.Fatalf("got slug %q with %d flows", svc.Slug(), len(svc.Flows))
	}
	if got := svc.Flows[0].Proto; len(got) != 1 || got[0] != "tcp" {
		t.Errorf("scalar proto = %v, want [tcp]", got)
	}
	if got := svc.Flows[1].Ports; strings.Join(got, ",") != "10000-20000,3478" {
		t.Errorf("ports = %v", got)
	}
}

// TestLoadErrors checks each kind of error with the line, column and field
// it names. Each case replaces one line of the minimal profile.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old by new in minimal
		line     int
		field    string
		msg      string
	}{
		{"unknown key", "    necessity: required\n", "    necessity: required\n    nesessity: x\n", 26, "flows[0].nesessity", `unknown field "nesessity"; did you mean "necessity"?`},
		{"unknown top key", "roles:\n", "rolls: []\nroles:\n", 11, "rolls", `unknown field "rolls"; did you mean "roles"?`},
		{"port zero", "    ports: [443]\n", "    ports: [0]\n", 22, "flows[0].ports[0]", "port 0 is not a port"},
		{"port above 65535", "    ports: [443]\n", "    ports: [65536]\n", 22, "flows[0].ports[0]", "port 65536 is above 65535"},
		{"reversed range", "ports: [10000-20000, 3478]", "ports: [20000-10000, 3478]", 32, "flows[1].ports[0]", "reversed range"},
		{"port not a number", "    ports: [443]\n", "    ports: [https]\n", 22, "flows[0].ports[0]", `port "https" is not a number`},
		{"bad address", "entries: [198.51.100.0/24,", "entries: [198.51.100.300,", 16, "hosts[0].entries[0]", "bad address"},
		{"bad CIDR", "entries: [198.51.100.0/24,", "entries: [198.51.100.0/33,", 16, "hosts[0].entries[0]", "bad CIDR"},
		{"CIDR host bits", "entries: [198.51.100.0/24,", "entries: [198.51.100.1/24,", 16, "hosts[0].entries[0]", "host bits set (the block is 198.51.100.0/24)"},
		{"bad IPv6", "entries: [198.51.100.0/24,", "entries: [\"2001:db8::g\",", 16, "hosts[0].entries[0]", "bad address"},
		{"bad name", `"*.demo.example"]`, `"Demo.Example"]`, 16, "hosts[0].entries[2]", "not lower-case"},
		{"undefined host set", "    remote: [cloud]\n    necessity: required\n", "    remote: [clouds]\n    necessity: required\n", 24, "flows[0].remote[0]", `undefined host set "clouds" (defined: cloud)`},
		{"duplicate flow id", "  - id: media\n", "  - id: https\n", 29, "flows[1].id", `duplicate flow id "https"`},
		{"undefined param in name", `"{company}.demo.example"`, `"{firm}.demo.example"`, 16, "hosts[0].entries[1]", `undefined param "firm"`},
		{"undefined role", "    local: endpoint\n    remote: [cloud]\n    necessity: required\n", "    local: phone\n    remote: [cloud]\n    necessity: required\n", 23, "flows[0].local", `undefined role "phone"`},
		{"bad direction", "    direction: outbound\n    proto: tcp\n", "    direction: sideways\n    proto: tcp\n", 20, "flows[0].direction", `unknown direction "sideways"`},
		{"bad proto", "    proto: tcp\n", "    proto: sctp\n", 21, "flows[0].proto[0]", `unknown protocol "sctp"`},
		{"bad necessity", "    necessity: required\n", "    necessity: must\n", 25, "flows[0].necessity", `unknown necessity "must"`},
		{"missing English", "purpose: {en: web, de: Web}", "purpose: {de: Web}", 27, "flows[0].purpose", "an English text (en) is required"},
		{"missing document language", "purpose: {en: web, de: Web}", "purpose: {en: web}", 27, "flows[0].purpose", "the document's own language (de)"},
		{"empty quote", "source: {quote: TCP 443, line: 3}", "source: {quote: \"\", line: 3}", 28, "flows[0].source.quote", "needs the quoted words"},
		{"missing required", "    app: https\n", "", 19, "flows[0].app", "required field is missing"},
		{"type error", "    necessity: required\n", "    necessity: [required]\n", 25, "flows[0].necessity", "cannot unmarshal"},
		{"yaml syntax", "    app: https\n", "    app: [https\n", 25, "", "did not find expected"},
		{"undefined feature", "    app: rtp\n", "    app: rtp\n    feature: nope\n", 37, "flows[1].feature", `undefined feature "nope" (the profile defines none)`},
		{"one_of needs two", "    app: https\n", "    app: https\n    one_of: true\n", 27, "flows[0].one_of", "at least two ports"},
		{"fallback to itself", "    app: https\n", "    app: https\n    fallback: [https]\n", 27, "flows[0].fallback[0]", "itself"},
		{"duplicate host set", "flows:\n", "  - name: cloud\n    entries: [any]\n    description: again\nflows:\n", 18, "hosts[1].name", `duplicate host set "cloud"`},
		{"bad feature name", "roles:\n", "features:\n  - name: Web_RTC\n    description: x\nroles:\n", 12, "features[0].name", `feature name "Web_RTC" must be lower-case letters, digits and hyphens`},
		{"bad param type", "    type: dns-label\n", "    type: label\n", 9, "params[0].type", `unknown param type "label"`},
		{"inbound needs address", "    direction: outbound\n    proto: tcp\n", "    direction: inbound\n    proto: tcp\n", 23, "flows[0].local", "needs an address_param"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(minimal, tt.old) {
				t.Fatalf("test case: %q is not in the minimal profile", tt.old)
			}
			src := strings.Replace(minimal, tt.old, tt.new, 1)
			_, err := Load("demo.yaml", []byte(src))
			if err == nil {
				t.Fatal("Load accepted the broken profile")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			if len(es) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(es), err)
			}
			e := es[0]
			if e.File != "demo.yaml" || e.Line != tt.line || e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %s (line %d, field %q)\nwant line %d, field %q, message containing %q", e, e.Line, e.Field, tt.line, tt.field, tt.msg)
			}
			if !strings.HasPrefix(e.Error(), "demo.yaml:") {
				t.Errorf("Error() = %q does not start with the file name", e.Error())
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct{ name, src, msg string }{
		{"empty", "", "empty profile"},
		{"not a mapping", "- a\n- b\n", "a profile is a mapping"},
		{"two documents", minimal + "---\nservice: {}\n", "one YAML document"},
		{"too big", strings.Repeat("#", MaxProfileSize+1), "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("x.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want one containing %q", err, tt.msg)
			}
		})
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	src := strings.Replace(minimal, "    ports: [443]\n", "    ports: [0, 70000]\n", 1)
	src = strings.Replace(src, "    remote: [cloud]\n    necessity: recommended\n", "    remote: [nowhere]\n    necessity: recommended\n", 1)
	_, err := Load("demo.yaml", []byte(src))
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
}

func TestEmbedded(t *testing.T) {
	c, err := Embedded()
	if err != nil {
		t.Fatalf("embedded catalog: %v", err)
	}
	want := []string{"starleaf", "starface", "tw-solutions", "pexip", "onsight"}
	if got := strings.Join(c.Slugs(), ","); got != strings.Join(want, ",") {
		t.Errorf("slugs = %s, want %s", got, strings.Join(want, ","))
	}
	// The params later commands rely on, with exactly these names.
	for slug, params := range map[string][]string{
		"starleaf": {"company"},
		"pexip":    {"sbc_address", "sbc_media_ports"},
		"starface": {"pbx_address"},
	} {
		svc, err := c.Get(slug)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range params {
			if svc.Param(p) == nil {
				t.Errorf("%s has no param %s", slug, p)
			}
		}
	}
	if _, err := c.Get("nope"); err == nil || !strings.Contains(err.Error(), "starleaf") {
		t.Errorf("Get(nope) = %v, want an error listing the services", err)
	}
}

func TestOpenOverlay(t *testing.T) {
	dir := t.TempDir()
	over := strings.Replace(minimal, "slug: demo", "slug: starleaf", 1)
	writeFile(t, dir+"/starleaf.yaml", over)
	writeFile(t, dir+"/demo.yml", minimal)
	writeFile(t, dir+"/README.md", "not a profile")
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Services()); got != 6 {
		t.Errorf("overlay has %d services, want 5 embedded with one replaced, plus demo", got)
	}
	s, _ := c.Get("starleaf")
	if s.Info.Name != "Demo" {
		t.Errorf("starleaf was not replaced by the user's profile")
	}

	bad := t.TempDir()
	writeFile(t, bad+"/broken.yaml", strings.Replace(minimal, "ports: [443]", "ports: [0]", 1))
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), "broken.yaml:22") {
		t.Errorf("Open(broken) = %v, want an error naming broken.yaml:22", err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("Open(empty dir) succeeded")
	}
}

// TestIndexAsWritten: the positions named in errors are made only when an
// error is named, after checkKeys made lists of scalars ("proto: tcp"),
// and are still those of the file as written; a valid profile never makes
// them.
func TestIndexAsWritten(t *testing.T) {
	parse := func() *yaml.Node {
		root, err := parseNode("demo.yaml", []byte(minimal))
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	want := newIndex("demo.yaml", parse()).positions()
	if _, ok := want["flows[0].proto"]; !ok {
		t.Fatalf("no flows[0].proto in %v", want)
	}
	root := parse()
	idx := newIndex("demo.yaml", root)
	var errs Errors
	checkKeys(root, reflect.TypeOf(model.Service{}), "", idx, &errs)
	var svc model.Service
	if err := root.Decode(&svc); err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	if errs := validate(&svc, idx); len(errs) > 0 || idx.pos != nil {
		t.Fatalf("a valid profile: errors %v, index made: %v", errs, idx.pos != nil)
	}
	if got := idx.positions(); !reflect.DeepEqual(got, want) {
		t.Errorf("positions after checkKeys:\n%v\nas written:\n%v", got, want)
	}
}
