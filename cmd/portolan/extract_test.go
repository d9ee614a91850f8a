package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExtractCommand runs portolan extract as a user does: the profile on
// stdout or in -o FILE (atomically), notes and lines not understood on
// stderr with their line numbers, and exit codes 0 (clean), 1 (lines not
// understood, or no flow), 2 (unreadable input, bad flags). Every profile
// it writes passes portolan validate --documents.
func TestExtractCommand(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	clean := "Acme Voice firewall ports\n\nPort\tProtocol\tDestination\tPurpose\n5060\tUDP\tsip.acme-voice.example\tSIP (required)\n10000-20000\tUDP\t198.51.100.0/24\tRTP media\n"
	unclear := clean + "\nCall our support at 192.0.2.55 for help.\nThe TCP session to 192.0.2.77 is optional.\n"
	noflow := "Nothing here but words.\nAnd more words.\n"
	german := "Acme Ports\n\nDie Telefone brauchen ausgehend UDP 5060 zu sip.acme-voice.example und TCP 443 zu prov.acme-voice.example für die Provisionierung der Geräte.\n"
	for name, body := range map[string]string{"clean.txt": clean, "unclear.txt": unclear, "noflow.txt": noflow, "german.txt": german} {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // contained in stdout
		stderr string // contained in stderr
		file   string // written
	}{
		{"clean to stdout", []string{"extract", "clean.txt"}, 0, "sip.acme-voice.example", "", ""},
		{"clean -o", []string{"extract", "clean.txt", "--slug", "acme", "-o", "acme.yaml"}, 0, "", "", "acme.yaml"},
		{"unclear lines listed", []string{"extract", "unclear.txt", "-o", "unclear.yaml"}, 1, "",
			"unclear.txt:7: not understood: Call our support at 192.0.2.55 for help.", "unclear.yaml"},
		{"quiet", []string{"extract", "unclear.txt", "--quiet"}, 1, "sip.acme-voice.example", "lines mention ports", ""},
		{"no flow", []string{"extract", "noflow.txt", "-o", "none.yaml"}, 1, "", "no flow found", ""},
		{"missing file", []string{"extract", "nope.txt"}, 2, "", "nope.txt", ""},
		{"a directory", []string{"extract", "."}, 2, "", "not a regular file", ""},
		{"bad lang", []string{"extract", "clean.txt", "--lang", "German"}, 2, "", "two-letter", ""},
		{"bad slug", []string{"extract", "clean.txt", "--slug", "Acme Voice"}, 2, "", "--slug", ""},
		{"bad format", []string{"extract", "clean.txt", "--format", "docx"}, 2, "", "--format", ""},
		{"two languages, one profile", []string{"extract", "german.txt", "clean.txt", "--slug", "acme", "-o", "mixed.yaml"}, 0, "", "", "mixed.yaml"},
		{"two documents, one profile", []string{"extract", "clean.txt", "unclear.txt", "--slug", "acme", "-o", "both.yaml"}, 1, "", "", "both.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, out.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errb.String())
			}
			if tc.file == "" {
				return
			}
			if out.Len() != 0 {
				t.Errorf("with -o, stdout should be empty: %s", out.String())
			}
			var vout, verr bytes.Buffer
			if c := run([]string{"validate", tc.file, "--documents", "."}, &vout, &verr); c != 0 {
				t.Fatalf("validate --documents: exit %d\n%s%s", c, vout.String(), verr.String())
			}
		})
	}
	// no half-written file when there is no profile
	if _, err := os.Stat(filepath.Join(dir, "none.yaml")); !os.IsNotExist(err) {
		t.Errorf("none.yaml exists: %v", err)
	}
	// the merged profile names each statement's document
	data, err := os.ReadFile("both.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "document: unclear.txt") || !strings.Contains(string(data), "document: clean.txt") {
		t.Errorf("merged profile does not name both documents:\n%s", data)
	}
}
