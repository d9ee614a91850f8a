package catalog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("profile.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("profile.schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return s
}

// yamlInstance turns a YAML profile into the JSON value a schema checks.
func yamlInstance(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestSchemaAcceptsEmbedded checks every embedded profile against the JSON
// Schema that editors use.
func TestSchemaAcceptsEmbedded(t *testing.T) {
	s := compileSchema(t)
	ents, err := profiles.ReadDir("profiles")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 5 {
		t.Fatalf("%d embedded profiles, want 5", len(ents))
	}
	for _, e := range ents {
		data, _ := profiles.ReadFile("profiles/" + e.Name())
		if err := s.Validate(yamlInstance(t, data)); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
	if err := s.Validate(yamlInstance(t, []byte(minimal))); err != nil {
		t.Errorf("minimal: %v", err)
	}
}

// TestSchemaAgreesWithLoader checks that broken profiles the loader rejects
// for their shape are rejected by the schema too.
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := compileSchema(t)
	tests := []struct{ name, old, new string }{
		{"unknown key", "    necessity: required\n", "    necessity: required\n    nesessity: x\n"},
		{"port zero", "    ports: [443]\n", "    ports: [0]\n"},
		{"port above 65535", "    ports: [443]\n", "    ports: [65536]\n"},
		{"bad direction", "direction: outbound\n    proto: tcp", "direction: sideways\n    proto: tcp"},
		{"bad proto", "    proto: tcp\n", "    proto: sctp\n"},
		{"bad necessity", "    necessity: required\n", "    necessity: must\n"},
		{"missing English", "purpose: {en: web, de: Web}", "purpose: {de: Web}"},
		{"missing app", "    app: https\n", ""},
		{"bad param type", "    type: dns-label\n", "    type: label\n"},
		{"bad slug", "slug: demo", "slug: Demo"},
		{"empty entries", `entries: [198.51.100.0/24, "{company}.demo.example", "*.demo.example"]`, "entries: []"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(minimal, tt.old, tt.new, 1)
			if src == minimal {
				t.Fatalf("test case: %q not found", tt.old)
			}
			if _, err := Load("x.yaml", []byte(src)); err == nil {
				t.Error("the loader accepts it")
			}
			if err := s.Validate(yamlInstance(t, []byte(src))); err == nil {
				t.Error("the schema accepts it")
			}
		})
	}
}

// TestPortGrammarAgrees checks that the loader and the JSON Schema accept
// the same port strings: one grammar for both.
func TestPortGrammarAgrees(t *testing.T) {
	s := compileSchema(t)
	tests := []struct {
		port string
		ok   bool
	}{
		{"443", true},
		{"5590-5600", true},
		{"65535", true},
		{"{media}", false}, // no such param: the loader refuses, the schema cannot know
		{"5590 - 5600", false},
		{"5590- 5600", false},
		{" 443", false},
		{"0443", false},
		{"0", false},
		{"+443", false},
		{"443-", false},
	}
	for _, tt := range tests {
		t.Run(tt.port, func(t *testing.T) {
			src := strings.Replace(minimal, "    ports: [443]\n", "    ports: [\""+tt.port+"\"]\n", 1)
			_, err := Load("x.yaml", []byte(src))
			if (err == nil) != tt.ok {
				t.Errorf("loader: err = %v, want ok=%v", err, tt.ok)
			}
			if tt.port == "{media}" {
				return
			}
			if serr := s.Validate(yamlInstance(t, []byte(src))); (serr == nil) != tt.ok {
				t.Errorf("schema: err = %v, want ok=%v", serr, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "flows[0].ports[0]") {
				t.Errorf("error does not name the field: %v", err)
			}
		})
	}
}
