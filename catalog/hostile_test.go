package catalog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/portolan/portolan/model"
)

// typeErrors is a profile whose one line holds n type errors: n lists
// where notes[0].about wants strings.
func typeErrors(n int) string {
	return "service: {slug: x}\nnotes:\n  - text: x\n    about: [" + strings.Repeat("[], ", n) + "[]]\n"
}

// unknownFields is a profile with n unknown fields, one per line.
func unknownFields(n int) string {
	var b strings.Builder
	b.WriteString("service: {slug: x}\nnotes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {text: x, abot: [y]}\n")
	}
	return b.String()
}

// TestLoadCapsErrors checks that a profile with thousands of errors
// reports the first MaxErrors of them and counts the rest.
func TestLoadCapsErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		total int
		first string
	}{
		{"type errors", typeErrors(5000), 5001, "notes[0].about: cannot unmarshal !!seq into string"},
		{"unknown fields", unknownFields(3000), 3000, `notes[0].abot: unknown field "abot"`},
		{"just under", typeErrors(MaxErrors - 1), MaxErrors, "notes[0].about"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("x.yaml", []byte(tt.src))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want Errors", err)
			}
			if !strings.Contains(es[0].Error(), tt.first) {
				t.Errorf("first error %q, want one containing %q", es[0], tt.first)
			}
			if tt.total <= MaxErrors {
				if len(es) != tt.total {
					t.Errorf("%d errors reported, want all %d", len(es), tt.total)
				}
				return
			}
			if len(es) != MaxErrors+1 {
				t.Fatalf("%d errors reported, want %d and a count of the rest", len(es), MaxErrors+1)
			}
			last := es[len(es)-1]
			want := fmt.Sprintf("and %d more errors", tt.total-MaxErrors)
			if last.File != "x.yaml" || !strings.Contains(last.Msg, want) {
				t.Errorf("last error %q, want %q", last, want)
			}
		})
	}
}

// TestDecodeErrorsLinear counts the positions the naming of decode errors
// looks at: at 4N errors it must be about 4 times the work of N errors,
// not 16 times.
func TestDecodeErrorsLinear(t *testing.T) {
	steps := func(src string) int {
		root, err := parseNode("x.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		idx := newIndex("x.yaml", root)
		var v struct {
			Notes []struct{ About []string }
		}
		derr := root.Decode(&v)
		if derr == nil {
			t.Fatal("no decode error")
		}
		idx.decodeErrors(derr)
		return idx.steps
	}
	for _, mk := range []func(int) string{typeErrors, func(n int) string {
		return strings.Replace(typeErrors(n), "[], ", "[],\n      ", -1)
	}} {
		n := 2000
		a, b := steps(mk(n)), steps(mk(4*n))
		if b > 5*a || a == 0 {
			t.Errorf("naming %d errors took %d steps, %d errors %d steps: not linear", n, a, 4*n, b)
		}
	}
}

// TestLoadFileRefusesNonRegular checks that profiles, directly or in a
// --catalog directory through a symlink, are read only from regular files
// (a device here is /dev/null: before the fix, /dev/zero ate the memory)
// or stdin: Stat says nothing of how much a device yields.
func TestLoadFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/null", filepath.Join(dir, "null.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/null", filepath.Join(dir, "null.yaml")} {
		_, err := LoadFile(path)
		if err == nil || !strings.Contains(err.Error(), "character device") {
			t.Errorf("LoadFile(%s) = %v, want a refusal of a character device", path, err)
		}
	}
	_, err := Open(dir)
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].File != filepath.Join(dir, "null.yaml") || !strings.Contains(es[0].Msg, "character device") {
		t.Errorf("Open(catalog with a symlink to /dev/null) = %v, want one error naming the file", err)
	}

	// Standard input is read, with the same bound.
	svc, err := loadFile("-", strings.NewReader(minimal))
	if err != nil || svc.Slug() != "demo" || svc.File != "stdin" {
		t.Errorf("loadFile(-) = %v, %v", svc, err)
	}
	_, err = loadFile("-", io.LimitReader(zeros{}, MaxProfileSize+10))
	if !errors.As(err, &es) || !strings.Contains(es[0].Error(), "stdin: profile is more than the 4 MiB") {
		t.Errorf("loadFile(- with too much) = %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestCheckSourcesRefusesNonRegular checks that --documents reads only
// regular files.
func TestCheckSourcesRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/null", filepath.Join(dir, "demo.txt")); err != nil {
		t.Fatal(err)
	}
	svc, err := Load("demo.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	es := CheckSources(svc, dir)
	if len(es) != 1 || !strings.Contains(es[0].Msg, "cannot read its document") || !strings.Contains(es[0].Msg, "character device") {
		t.Errorf("CheckSources with a device for a document = %v", es)
	}
}

// TestErrorsQuoteControl checks that what a profile says reaches the
// terminal with its control characters escaped: in the file name, the
// field (an unknown key) and the message (a value the decoder quotes).
func TestErrorsQuoteControl(t *testing.T) {
	tests := []struct {
		name, file, src, want string
	}{
		{"unknown key", "x.yaml", "service: {slug: x}\n\"ab\\e]0;pwned\\ac\": 1\n", `ab\x1b]0;pwned\x07c: unknown field`},
		{"decoded value", "x.yaml", "service: {slug: x}\nflows:\n  - {id: a, source: {line: \"\\e[2J\"}}\n", `\x1b[2J`},
		{"file name", "x\x1b[31m.yaml", "- a\n", `x\x1b[31m.yaml:1:1:`},
		{"bidi in a value", "x.yaml", "service: {slug: x}\nflows:\n  - {id: a, source: {line: \"a\u202eb\"}}\n", `a\u202eb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.file, []byte(tt.src))
			if err == nil {
				t.Fatal("Load accepted it")
			}
			msg := err.Error()
			for _, r := range msg {
				if r != '\n' && (r < 0x20 || r == 0x7f || r == '\u202e') {
					t.Fatalf("error holds %U raw: %q", r, msg)
				}
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
		})
	}
}

// TestMappedEntries checks that an IPv4-mapped IPv6 address in a profile
// or a param value is refused with where it stands and its IPv4 spelling.
func TestMappedEntries(t *testing.T) {
	tests := []struct {
		old, new string
		want     string
	}{
		{"entries: [198.51.100.0/24,", `entries: ["::ffff:198.51.100.0/120",`, `demo.yaml:16:15: hosts[0].entries[0]: CIDR "::ffff:198.51.100.0/120" is IPv4-mapped IPv6, which no IPv6 packet carries; write it as IPv4: 198.51.100.0/24`},
		{"entries: [198.51.100.0/24,", `entries: ["::ffff:0:0/96",`, `write it as IPv4: 0.0.0.0/0`},
		{"entries: [198.51.100.0/24,", `entries: ["::ffff:198.51.100.7",`, `hosts[0].entries[0]: address "::ffff:198.51.100.7" is IPv4-mapped IPv6`},
	}
	for _, tt := range tests {
		_, err := Load("demo.yaml", []byte(strings.Replace(minimal, tt.old, tt.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.new, err, tt.want)
		}
	}
	for _, v := range []struct{ typ, val, want string }{
		{"address", "::ffff:192.0.2.20", "write it as IPv4: 192.0.2.20"},
		{"hosts", "192.0.2.0/24,::ffff:198.51.100.0/120", "write it as IPv4: 198.51.100.0/24"},
	} {
		if err := CheckParamValue(model.ParamType(v.typ), v.val); err == nil || !strings.Contains(err.Error(), v.want) {
			t.Errorf("param %s %q: err = %v, want %q", v.typ, v.val, err, v.want)
		}
	}
}

// badRefs is a profile with n host sets and n flows that each name a
// host set, a role and a feature that are not there.
func badRefs(n int) string {
	var b strings.Builder
	b.WriteString("service: {slug: x, name: x, vendor: x, document: d.txt, language: en}\nroles: [{name: e, description: e}]\nhosts:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {name: h%d, entries: [any], description: x}\n", i)
	}
	b.WriteString("flows:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {id: f%d, direction: outbound, proto: tcp, ports: [1], local: r, remote: [nope], feature: no, necessity: required, app: https, purpose: {en: x}, source: {quote: x}}\n", i)
	}
	return b.String()
}

// TestValidateLinear checks that the bytes Load allocates for a profile of
// 4N bad references are about 4 times those of N, not 16: each error once
// listed every host set again. Its errors name at most maxKnown of them.
func TestValidateLinear(t *testing.T) {
	alloc := func(src string) (uint64, error) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Load("x.yaml", []byte(src))
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, err
	}
	n := 1000
	a, _ := alloc(badRefs(n))
	b, err := alloc(badRefs(4 * n))
	if b > 6*a {
		t.Errorf("Load allocated %d bytes for %d bad references, %d for %d: not linear", a, n, b, 4*n)
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != MaxErrors+1 {
		t.Fatalf("err = %.300v", err)
	}
	if want := `flows[0].remote[0]: undefined host set "nope" (defined: h0, h1,`; !strings.Contains(es[1].Error(), want) || !strings.HasSuffix(es[1].Msg, fmt.Sprintf("h19, … %d in all)", 4*n)) {
		t.Errorf("error %q, want one listing %d names and the count", es[1], 20)
	}
}
