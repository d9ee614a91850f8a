package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// portolan runs the command line in-process.
func portolan(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestShowTable(t *testing.T) {
	out, errs, code := portolan("show", "starleaf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"config.starleaf.com", "{company}.call.sl", "24704|3478|1194|500|123",
		"one of 24704, 3478, 1194, 500, 123 is enough, preferred in this order",
		"fall back to tunnel-https (tcp 443)", "company not set",
		"nothing inbound to open", "allow by DNS name", "Not shown, features off: webrtc",
		"L16",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show starleaf lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = portolan("show", "starleaf", "--param", "company=acme", "--feature", "webrtc")
	for _, want := range []string{"acme.call.sl", "Feature webrtc", "16384-24575", "company=acme"} {
		if !strings.Contains(out, want) {
			t.Errorf("show with params lacks %q", want)
		}
	}
	if strings.Contains(out, "{company}") {
		t.Error("placeholder left although company is set")
	}
}

func TestShowJSON(t *testing.T) {
	out, errs, code := portolan("show", "starleaf", "pexip", "--output", "json", "--param", "company=acme")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var flows []map[string]any
	if err := json.Unmarshal([]byte(out), &flows); err != nil {
		t.Fatalf("not a JSON array: %v", err)
	}
	if len(flows) != 5 {
		t.Errorf("%d flows, want 3 of starleaf and 2 of pexip", len(flows))
	}
	for _, f := range flows {
		for _, k := range []string{"service", "id", "direction", "proto", "ports", "dest", "necessity", "feature", "purpose", "source"} {
			if _, ok := f[k]; !ok {
				t.Errorf("flow %v lacks %q", f["id"], k)
			}
		}
		src := f["source"].(map[string]any)
		if src["document"] == "" || src["quote"] == "" {
			t.Errorf("flow %v has an empty source", f["id"])
		}
		if _, ok := f["ports"].([]any); !ok {
			t.Errorf("ports of %v is not a list", f["id"])
		}
	}
	if flows[1]["id"] != "tunnel-https" || flows[1]["dest"].([]any)[0] != "acme.call.sl" {
		t.Errorf("second flow = %v", flows[1])
	}

	out, _, code = portolan("show", "tw-solutions", "--constraints", "--output", "json")
	var cons []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &cons) != nil || len(cons) == 0 {
		t.Fatalf("constraints json: exit %d, %s", code, out)
	}
	if cons[0]["kind"] != "nat-timeout" || cons[0]["min_timeout"] != "90s" {
		t.Errorf("first constraint = %v", cons[0])
	}

	out, _, code = portolan("show", "onsight", "--output", "yaml")
	if code != 0 || !strings.Contains(out, "- service: onsight") {
		t.Errorf("yaml output: exit %d\n%.300s", code, out)
	}
}

func TestList(t *testing.T) {
	out, _, code := portolan("list")
	if code != 0 {
		t.Fatal(code)
	}
	for _, s := range []string{"starleaf", "starface", "tw-solutions", "pexip", "onsight", "webrtc", "ucc-clients*"} {
		if !strings.Contains(out, s) {
			t.Errorf("list lacks %q", s)
		}
	}
	out, _, _ = portolan("list", "--output", "json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 5 {
		t.Fatalf("list json: %v, %d rows", err, len(rows))
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	writeProfile(t, good, "demo", "443")
	writeProfile(t, bad, "demo2", "70000")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{"unknown service", []string{"show", "startleaf"}, 2, `unknown service "startleaf"; the catalog has starleaf, starface`, ""},
		{"no service", []string{"show"}, 2, "requires at least 1 arg", ""},
		{"unknown flag", []string{"show", "starleaf", "--nope"}, 2, "unknown flag: --nope", ""},
		{"bad output", []string{"show", "starleaf", "--output", "xml"}, 2, `--output "xml": one of table, json, yaml`, ""},
		{"unknown feature", []string{"show", "starleaf", "--feature", "webrtcc"}, 2, `unknown feature "webrtcc": starleaf has webrtc`, ""},
		{"strict without param", []string{"show", "starleaf", "--strict"}, 2, "missing param company", ""},
		{"validate good", []string{"validate", good}, 0, "", "good.yaml: ok (service demo, 1 flows)"},
		{"validate bad", []string{"validate", good, bad}, 1, "1 of 2 profiles invalid", "bad.yaml:23:13: flows[0].ports[0]: port 70000 is above 65535"},
		{"validate missing", []string{"validate", filepath.Join(dir, "nope.yaml")}, 2, "no such file", ""},
		{"validate dir", []string{"validate", dir}, 1, "1 of 2 profiles invalid", "good.yaml: ok"},
		{"catalog overlay", []string{"--catalog", dir, "list"}, 2, "bad.yaml:23:13", ""},
		{"schema", []string{"schema"}, 0, "", `"$schema": "https://json-schema.org/draft/2020-12/schema"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := portolan(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if !strings.Contains(errs, tt.stderr) {
				t.Errorf("stderr %q lacks %q", errs, tt.stderr)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout %q lacks %q", out, tt.stdout)
			}
		})
	}
}

func TestCatalogOverlay(t *testing.T) {
	dir := t.TempDir()
	writeProfile(t, filepath.Join(dir, "demo.yaml"), "demo", "8443")
	out, errs, code := portolan("--catalog", dir, "show", "demo", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, `"8443"`) {
		t.Errorf("overlay service not shown: %s", out)
	}
	out, _, _ = portolan("--catalog", dir, "list")
	if !strings.Contains(out, "demo") || !strings.Contains(out, "starleaf") {
		t.Errorf("list with overlay: %s", out)
	}
}

func TestValidateDocuments(t *testing.T) {
	dir := t.TempDir()
	writeProfile(t, filepath.Join(dir, "demo.yaml"), "demo", "443")
	docs := t.TempDir()
	if err := os.WriteFile(filepath.Join(docs, "demo.txt"), []byte("Title\nOpen TCP 443 outbound.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := portolan("validate", "--documents", docs, dir); code != 0 {
		t.Errorf("validate --documents: exit %d %s", code, errs)
	}
	if err := os.WriteFile(filepath.Join(docs, "demo.txt"), []byte("Title\nOpen UDP 443.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := portolan("validate", "--documents", docs, dir)
	if code != 1 || !strings.Contains(out, `flow "https": quote "TCP 443" is not on line 2`) {
		t.Errorf("exit %d, %s", code, out)
	}
}

func writeProfile(t *testing.T, path, slug, port string) {
	t.Helper()
	src := `service:
  slug: ` + slug + `
  name: Demo
  vendor: Demo Inc.
  document: demo.txt
  language: en
roles:
  - name: endpoint
    description: an endpoint
hosts:
  - name: cloud
    entries: [198.51.100.0/24]
    description: the cloud
flows:
  - id: https
    direction: outbound
    proto: tcp
    local: endpoint
    remote: [cloud]
    necessity: required
    app: https
    purpose: {en: web}
    ports: [` + port + `]
    source: {quote: TCP 443, line: 2}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
