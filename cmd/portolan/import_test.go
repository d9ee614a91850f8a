package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
)

// m365Fixture is a list in the format of the Microsoft 365 IP address and
// URL web service's endpoints method, written from its documentation
// (https://learn.microsoft.com/en-us/microsoft-365/enterprise/microsoft-365-ip-web-service)
// with documentation addresses and example names.
const m365Fixture = "../../extract/testdata/m365/endpoints.json"

// TestImportM365 imports the list from a file and from a local HTTP server
// (endpoints and version methods, as the service has them): the Teams
// (Skype) sets become host sets and flows, the version the revision, and
// the profile passes validate --documents.
func TestImportM365(t *testing.T) {
	data, err := os.ReadFile(m365Fixture)
	if err != nil {
		t.Fatal(err)
	}
	var gotID string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotID = r.URL.Query().Get("clientrequestid")
		switch r.URL.Path {
		case "/endpoints/worldwide":
			w.Write(data)
		case "/version/worldwide":
			w.Write([]byte(`{"instance":"Worldwide","latest":"2026110100"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("endpoints.json", data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		stderr  string
		version string
	}{
		{"file", []string{"import", "m365", "endpoints.json", "--service-area", "Skype", "--list-version", "2026110100", "-o", "teams.yaml"}, 0, "", "2026110100"},
		{"url", []string{"import", "m365", srv.URL + "/endpoints/worldwide", "--service-area", "skype", "-o", "teams-url.yaml"}, 0, "", "2026110100"},
		{"all areas", []string{"import", "m365", "endpoints.json", "-o", "all.yaml"}, 0, "endpoint set 56 names no ports", ""},
		{"unknown area", []string{"import", "m365", "endpoints.json", "--service-area", "Yammer"}, 1, "service areas: Common, Exchange, Skype", ""},
		{"not found", []string{"import", "m365", srv.URL + "/endpoints/nowhere"}, 2, "404", ""},
		{"missing file", []string{"import", "m365", "nope.json"}, 2, "nope.json", ""},
		{"not the list", []string{"import", "m365", "teams.yaml"}, 2, "not the endpoints web service's JSON", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr lacks %q: %s", tc.stderr, errb.String())
			}
			if tc.code != 0 {
				return
			}
			file := tc.args[len(tc.args)-1]
			svc, err := catalog.LoadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if svc.Info.Revision != tc.version {
				t.Errorf("revision %q, want %q", svc.Info.Revision, tc.version)
			}
			if tc.name == "file" {
				var vout, verr bytes.Buffer
				if c := run([]string{"validate", file, "--documents", "."}, &vout, &verr); c != 0 {
					t.Fatalf("validate --documents: %s%s", vout.String(), verr.String())
				}
				want := map[string]string{"set-11-udp": "3478,3479,3480,3481", "set-12-tcp": "443", "set-12-udp": "3478-3481", "set-127-tcp": "80,443", "set-130-tcp": "443"}
				if len(svc.Flows) != len(want) {
					t.Errorf("%d flows, want %d", len(svc.Flows), len(want))
				}
				for id, ports := range want {
					f := svc.Flow(id)
					if f == nil || strings.Join(f.Ports, ",") != ports {
						t.Errorf("flow %s: %+v, want ports %s", id, f, ports)
					}
				}
				if f := svc.Flow("set-130-tcp"); f == nil || f.Necessity != "optional" {
					t.Errorf("set 130 is not required in the list: %+v", f)
				}
				if h := svc.HostSet("set-127"); h == nil || !strings.Contains(strings.Join(h.Entries, " "), "autodiscover.*.teams.example") {
					t.Errorf("set-127: %+v", h)
				}
				if len(svc.Constraints) != 1 || strings.Join(svc.Constraints[0].Hosts, ",") != "set-11,set-12" {
					t.Errorf("constraints %+v, want ssl-inspection-off for the Optimize and Allow sets 11 and 12", svc.Constraints)
				}
			}
		})
	}
	if gotID == "" {
		t.Error("no clientrequestid sent to the web service")
	}
	if _, err := os.Stat(filepath.Join(dir, "teams.yaml")); err != nil {
		t.Fatal(err)
	}
}
