package catalog

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/portolan/portolan/model"
)

// modelCase is one change to the minimal profile and the error it must
// give (field and words), for the fields of issue 8 items 23-29.
type modelCase struct {
	name     string
	old, new string
	field    string // "" when the profile must load
	msg      string
}

func runModelCases(t *testing.T, tests []modelCase) {
	t.Helper()
	s := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(minimal, tt.old) {
				t.Fatalf("test case: %q is not in the minimal profile", tt.old)
			}
			src := strings.Replace(minimal, tt.old, tt.new, 1)
			_, err := Load("demo.yaml", []byte(src))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if err := s.Validate(yamlInstance(t, []byte(src))); err != nil {
					t.Errorf("schema: %v", err)
				}
				return
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			for _, e := range es {
				if e.Field == tt.field && strings.Contains(e.Msg, tt.msg) && e.Line > 0 {
					return
				}
			}
			t.Errorf("got %v\nwant field %q, message containing %q", err, tt.field, tt.msg)
		})
	}
}

// TestLoadTestdataModel loads the test profiles that exercise the fields
// of issue 8 items 23-29; each must load and satisfy the JSON Schema, and
// together they must use every one of those fields.
func TestLoadTestdataModel(t *testing.T) {
	files, err := ProfileFiles("testdata/model")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test profiles: %v", err)
	}
	s := compileSchema(t)
	used := map[string]bool{}
	for _, f := range files {
		svc, err := LoadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		data, _ := os.ReadFile(f)
		if err := s.Validate(yamlInstance(t, data)); err != nil {
			t.Errorf("%s: schema: %v", f, err)
		}
		used["digit slug"] = used["digit slug"] || svc.Slug()[0] >= '0' && svc.Slug()[0] <= '9'
		used["platforms"] = used["platforms"] || len(svc.Platforms) > 0
		for _, fl := range svc.Flows {
			used["several local roles"] = used["several local roles"] || len(fl.Local) > 1
			used["remote_roles"] = used["remote_roles"] || len(fl.RemoteRoles) > 0
			used["local_src_ports"] = used["local_src_ports"] || fl.LocalSrcPorts != nil
			used["platforms only"] = used["platforms only"] || fl.Platforms != nil && len(fl.Platforms.Only) > 0
			used["platforms except"] = used["platforms except"] || fl.Platforms != nil && len(fl.Platforms.Except) > 0
			for _, p := range fl.Ports {
				used["port expression"] = used["port expression"] || model.IsPortExpr(p)
			}
		}
		for _, h := range svc.Hosts {
			for _, e := range h.Entries {
				pe, _ := model.ParseEntry(e)
				used["host-name pattern"] = used["host-name pattern"] || pe.Kind == model.EntryGlob
			}
		}
		for _, c := range svc.Constraints {
			used["port-preserving-nat"] = used["port-preserving-nat"] || c.Kind == model.KindPortPreservingNAT
		}
	}
	for _, f := range []string{"digit slug", "platforms", "several local roles", "remote_roles", "local_src_ports", "platforms only", "platforms except", "port expression", "host-name pattern", "port-preserving-nat"} {
		if !used[f] {
			t.Errorf("no test profile uses %s", f)
		}
	}
	if _, err := Open("testdata/model"); err != nil {
		t.Errorf("Open: %v", err)
	}
}

// TestSlugs checks which service slugs load: a leading digit is fine (8x8).
func TestSlugs(t *testing.T) {
	s := compileSchema(t)
	for _, tt := range []struct {
		slug string
		ok   bool
	}{
		{"demo", true}, {"8x8", true}, {"3cx", true}, {"x-1", true},
		{"Demo", false}, {"-demo", false}, {"8x8_", false}, {"8 x 8", false},
	} {
		src := strings.Replace(minimal, "slug: demo", "slug: \""+tt.slug+"\"", 1)
		_, err := Load("x.yaml", []byte(src))
		if (err == nil) != tt.ok {
			t.Errorf("slug %q: loader err = %v, want ok=%v", tt.slug, err, tt.ok)
		}
		if serr := s.Validate(yamlInstance(t, []byte(src))); (serr == nil) != tt.ok {
			t.Errorf("slug %q: schema err = %v, want ok=%v", tt.slug, serr, tt.ok)
		}
	}
}

// TestPortPreservingNAT checks the port-preserving-nat constraint kind
// (issue 8 item 26): proto and ports needed, checked like any ports.
func TestPortPreservingNAT(t *testing.T) {
	const c = "constraints:\n  - id: trunk-nat\n    kind: port-preserving-nat\n"
	const tail = "    purpose: {en: static port mapping, de: statisches Port-Mapping}\n    source: {quote: UDP}\n"
	runModelCases(t, []modelCase{
		{"ok", "    source: {quote: UDP}\n", "    source: {quote: UDP}\n" + c + "    proto: udp\n    ports: [5060]\n    hosts: [cloud]\n    flows: [media]\n" + tail, "", ""},
		{"no ports", "    source: {quote: UDP}\n", "    source: {quote: UDP}\n" + c + "    proto: udp\n" + tail, "constraints[0].ports", "a port-preserving-nat constraint needs ports"},
		{"no proto", "    source: {quote: UDP}\n", "    source: {quote: UDP}\n" + c + "    ports: [5060]\n" + tail, "constraints[0].proto", "needs proto"},
		{"bad port", "    source: {quote: UDP}\n", "    source: {quote: UDP}\n" + c + "    proto: udp\n    ports: [\"5060 - 5062\"]\n" + tail, "constraints[0].ports[0]", "has a space"},
	})
}

// TestLocalSrcPorts checks local_src_ports (issue 8 item 29): ports in the
// one grammar, and a source.
func TestLocalSrcPorts(t *testing.T) {
	const at = "    ports: [443]\n"
	runModelCases(t, []modelCase{
		{"ok", at, at + "    local_src_ports: {ports: [6000-6200], source: {quote: TCP 443, line: 3}}\n", "", ""},
		{"no ports", at, at + "    local_src_ports: {ports: [], source: {quote: TCP 443}}\n", "flows[0].local_src_ports.ports", "at least one port"},
		{"bad range", at, at + "    local_src_ports: {ports: [6200-6000], source: {quote: TCP 443}}\n", "flows[0].local_src_ports.ports[0]", "reversed range"},
		{"no quote", at, at + "    local_src_ports: {ports: [6000-6200], source: {line: 3}}\n", "flows[0].local_src_ports.source.quote", "quoted words"},
		{"unknown key", at, at + "    local_src_ports: {port: [6000], source: {quote: x}}\n", "flows[0].local_src_ports.port", "unknown field"},
	})
}

// TestPortExprs checks ranges sized by a number param (issue 8 item 28):
// the param must exist and be a number, and its default and example must
// give a range within 1..65535. Each case starts from the minimal profile
// with a number param calls (example 50) and the https flow on
// 10000+2*{calls}.
func TestPortExprs(t *testing.T) {
	base := strings.Replace(minimal, "roles:\n", "  - name: calls\n    type: number\n    description: concurrent calls\n    example: \"50\"\nroles:\n", 1)
	base = strings.Replace(base, "ports: [443]", `ports: ["10000+2*{calls}"]`, 1)
	tests := []modelCase{
		{"count form ok", "", "", "", ""},
		{"last-port form ok", `ports: ["10000+2*{calls}"]`, `ports: ["10-{calls}"]`, "", ""},
		{"undefined param", "{calls}", "{callz}", "flows[0].ports[0]", `undefined param "callz"`},
		{"wrong type", "{calls}", "{company}", "flows[0].ports[0]", `param "company" is of type dns-label; a port expression takes a param of type number`},
		{"spaces", "10000+2*", "10000 + 2*", "flows[0].ports[0]", "write LO-{param}"},
		{"example too large", `example: "50"`, `example: "30000"`, "flows[0].ports[0]", "calls=30000: 10000+2*{calls} would end at port 69999, above 65535"},
		{"example reversed", `ports: ["10000+2*{calls}"]`, `ports: ["10000-{calls}"]`, "flows[0].ports[0]", "calls=50: 10000-{calls} is a reversed range"},
		{"bad number", `example: "50"`, `example: "-5"`, "params[1].example", "not a whole number"},
		{"in local_src_ports", "    app: https\n", "    app: https\n    local_src_ports: {ports: [\"65500+{calls}\"], source: {quote: x}}\n", "flows[0].local_src_ports.ports[0]", "calls=50"},
	}
	s := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("test case: %q not in the profile", tt.old)
			}
			src := strings.Replace(base, tt.old, tt.new, 1)
			_, err := Load("demo.yaml", []byte(src))
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Validate(yamlInstance(t, []byte(src))); err != nil {
					t.Errorf("schema: %v", err)
				}
				return
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v", err)
			}
			for _, e := range es {
				if e.Field == tt.field && strings.Contains(e.Msg, tt.msg) && e.Line > 0 {
					return
				}
			}
			t.Errorf("got %v\nwant field %q, message containing %q", err, tt.field, tt.msg)
		})
	}
}

// TestFlowPlatforms checks platforms (issue 8 item 27): only or except,
// naming platforms the profile lists.
func TestFlowPlatforms(t *testing.T) {
	const decl = "platforms:\n  - name: ios\n    description: iPhone\n  - name: android\n    description: Android\n  - name: windows\n    description: desktop\nroles:\n"
	base := strings.Replace(minimal, "roles:\n", decl, 1)
	const at = "    app: https\n"
	tests := []modelCase{
		{"only", at, at + "    platforms: {only: [ios, android]}\n", "", ""},
		{"except", at, at + "    platforms: {except: [ios]}\n", "", ""},
		{"undefined", at, at + "    platforms: {only: [ios, blackberry]}\n", "flows[0].platforms.only[1]", `undefined platform "blackberry" (defined: ios, android, windows)`},
		{"both", at, at + "    platforms: {only: [ios], except: [android]}\n", "flows[0].platforms", "not both"},
		{"neither", at, at + "    platforms: {}\n", "flows[0].platforms", "give only"},
		{"all excepted", at, at + "    platforms: {except: [ios, android, windows]}\n", "flows[0].platforms.except", "never be used"},
		{"twice", at, at + "    platforms: {only: [ios, ios]}\n", "flows[0].platforms.only[1]", "listed twice"},
		{"bad name", "  - name: ios\n", "  - name: iOS\n", "platforms[0].name", "lower-case"},
		{"unknown key", at, at + "    platforms: {exclude: [ios]}\n", "flows[0].platforms.exclude", "unknown field"},
	}
	s := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(base, tt.old, tt.new, 1)
			_, err := Load("demo.yaml", []byte(src))
			schemaErr := s.Validate(yamlInstance(t, []byte(src)))
			if tt.field == "" {
				if err != nil || schemaErr != nil {
					t.Fatalf("loader: %v; schema: %v", err, schemaErr)
				}
				return
			}
			if schemaErr == nil && tt.name != "undefined" && tt.name != "all excepted" {
				t.Errorf("the schema accepts it")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v", err)
			}
			for _, e := range es {
				if e.Field == tt.field && strings.Contains(e.Msg, tt.msg) && e.Line > 0 {
					return
				}
			}
			t.Errorf("got %v\nwant field %q, message containing %q", err, tt.field, tt.msg)
		})
	}
}

// TestGlobEntries checks host-name patterns (issue 8 item 24) in host sets.
func TestGlobEntries(t *testing.T) {
	const old = `"*.demo.example"]`
	runModelCases(t, []modelCase{
		{"pattern", old, `"router*.demo.example", "edge-*.eu.demo.example"]`, "", ""},
		{"widens to a TLD", old, `"router*.example"]`, "hosts[0].entries[2]", "would widen to .example"},
		{"bad label", old, `"Router*.demo.example"]`, "hosts[0].entries[2]", "not lower-case"},
		{"star in wildcard", old, `"*.demo*.example"]`, "hosts[0].entries[2]", "would widen to .example"},
	})
}

// TestRolesOfFlows checks several local roles and flows between roles of
// the site (issue 8 item 23).
func TestRolesOfFlows(t *testing.T) {
	const roles = "roles:\n  - name: endpoint\n    description: an endpoint\n  - name: room\n    description: a room system\n  - name: sbc\n    description: the SBC\n    address_param: sbc\n"
	base := strings.Replace(minimal, "roles:\n  - name: endpoint\n    description: an endpoint\n", roles, 1)
	base = strings.Replace(base, "params:\n", "params:\n  - name: sbc\n    type: address\n    description: the SBC\n", 1)
	const local = "    local: endpoint\n    remote: [cloud]\n    necessity: required\n"
	tests := []modelCase{
		{"several local roles", local, "    local: [endpoint, room]\n    remote: [cloud]\n    necessity: required\n", "", ""},
		{"role to role", local, "    local: [endpoint, room]\n    remote_roles: [room]\n    necessity: required\n", "", ""},
		{"inbound role to role needs no address", "    direction: outbound\n    proto: tcp\n    ports: [443]\n" + local, "    direction: inbound\n    proto: tcp\n    ports: [443]\n    local: room\n    remote_roles: [sbc]\n    necessity: required\n", "", ""},
		{"undefined local role", local, "    local: [endpoint, phone]\n    remote: [cloud]\n    necessity: required\n", "flows[0].local[1]", `undefined role "phone"`},
		{"local role twice", local, "    local: [room, room]\n    remote: [cloud]\n    necessity: required\n", "flows[0].local[1]", `role "room" listed twice`},
		{"undefined remote role", local, "    local: endpoint\n    remote_roles: [phone]\n    necessity: required\n", "flows[0].remote_roles[0]", `undefined role "phone" (defined: endpoint, room, sbc)`},
		{"both remotes", local, "    local: endpoint\n    remote: [cloud]\n    remote_roles: [room]\n    necessity: required\n", "flows[0].remote_roles", "not both"},
		{"no remote", local, "    local: endpoint\n    necessity: required\n", "flows[0].remote", "name at least one host set"},
		{"inbound from outside to two roles", "    direction: outbound\n    proto: tcp\n    ports: [443]\n" + local, "    direction: inbound\n    proto: tcp\n    ports: [443]\n    local: [sbc, room]\n    remote: [cloud]\n    necessity: required\n", "flows[0].local", "forwarded to one machine"},
		{"expanded id clash", "  - id: media\n", "  - id: https-room\n", "flows[1].id", `duplicate flow id "https-room"`},
	}
	s := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("test case: %q not in the profile", tt.old)
			}
			src := strings.Replace(base, tt.old, tt.new, 1)
			if tt.name == "expanded id clash" {
				src = strings.Replace(src, local, "    local: [endpoint, room]\n    remote: [cloud]\n    necessity: required\n", 1)
			}
			_, err := Load("demo.yaml", []byte(src))
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Validate(yamlInstance(t, []byte(src))); err != nil {
					t.Errorf("schema: %v", err)
				}
				return
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v", err)
			}
			for _, e := range es {
				if e.Field == tt.field && strings.Contains(e.Msg, tt.msg) && e.Line > 0 {
					return
				}
			}
			t.Errorf("got %v\nwant field %q, message containing %q", err, tt.field, tt.msg)
		})
	}
}
