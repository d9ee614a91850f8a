package extract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portolan/portolan/catalog"
)

// fuzzLimit caps fuzz inputs: the property is about shape, not size.
const fuzzLimit = 64 << 10

// fuzzExtract checks what any input must give: no panic, a bounded time,
// and when a profile comes out, one that loads and whose every quote
// stands on its line of the input.
func fuzzExtract(t *testing.T, name string, data []byte, f Format) {
	if len(data) > fuzzLimit {
		data = data[:fuzzLimit]
	}
	start := time.Now()
	res, err := Extract(name, data, Options{Format: f})
	// A bound that catches a hang, not a budget (that is the benchmark's):
	// fuzzing instruments the code and shares the machine.
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("%d bytes took %v", len(data), d)
	}
	if err != nil {
		if strings.Contains(err.Error(), "internal error") {
			t.Fatal(err)
		}
		return
	}
	svc, err := catalog.Load("fuzz.yaml", res.YAML)
	if err != nil {
		t.Fatalf("profile does not load: %v", err)
	}
	if !utf8.Valid(data) {
		return // quotes are of the text with invalid bytes replaced
	}
	lines := strings.Split(string(data), "\n")
	for _, s := range catalog.Sources(svc) {
		if err := catalog.CheckQuote(lines, s.Source); err != nil {
			t.Fatalf("%s: %v", s.Field, err)
		}
	}
}

// hostile are inputs shaped to find quadratic reading: long rows, long
// lists, long sentences, many leads.
var hostile = []string{
	strings.Repeat("1 ", 20000), "TCP " + strings.Repeat("443, ", 8000), strings.Repeat("a.", 20000) + "com",
	strings.Repeat("192.0.2.1 ", 5000), strings.Repeat("| a ", 10000), strings.Repeat("TCP\t443\t", 5000),
	strings.Repeat("TCP 443 example.com\n", 5000), strings.Repeat("1-2-3-4-", 5000), strings.Repeat("ab:", 20000),
	strings.Repeat("TCP 443. ", 5000), strings.Repeat("TCP 443:\n- example.com\n", 3000),
	strings.Repeat("<table><tr><td>", 3000), strings.Repeat("UDP 10.000 bis 20.000 192.0.2.0/24 *.a.example; ", 3000),
}

func addCorpusSeeds(f *testing.F, glob string) {
	for _, h := range hostile {
		f.Add([]byte(h))
	}
	files, _ := filepath.Glob(glob)
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
}

func FuzzExtractText(f *testing.F) {
	addCorpusSeeds(f, "testdata/corpus/*.txt")
	f.Add([]byte("Port\tProtocol\n10.000 bis 20.000\tUDP und TCP\n"))
	f.Add([]byte("UDP 1-65535 to 192.0.2.0 - 192.0.2.255 and 2001:db8::/32\nTLS 1.0 refused on 443:\n- 443\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "doc.txt", data, Text) })
}

func FuzzExtractMarkdown(f *testing.F) {
	addCorpusSeeds(f, "testdata/corpus/*.md")
	f.Add([]byte("| Port | Protocol |\n|---|---|\n| `443` | **TCP** |\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "doc.md", data, Markdown) })
}

func FuzzExtractHTML(f *testing.F) {
	addCorpusSeeds(f, "testdata/corpus/*.html")
	f.Add([]byte("<table><tr><th>Port<th>Protocol<tr><td>5060&nbsp;<td>UDP</table>"))
	f.Add([]byte("<ul><li>TCP 443 &ndash; <code>*.example.com</code></ul><p>TCP\n443 to\nexample.net"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "doc.html", data, HTML) })
}

// FuzzImportM365: any JSON gives a profile that loads, or an error; never
// a panic.
func FuzzImportM365(f *testing.F) {
	if data, err := os.ReadFile("testdata/m365/endpoints.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`[{"id":1,"urls":["*.x.example"],"tcpPorts":"0,70000"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzLimit {
			data = data[:fuzzLimit]
		}
		_, out, _, err := ImportM365(data, M365Options{Document: "list.json"})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			return
		}
		if _, err := catalog.Load("m365.yaml", out); err != nil {
			t.Fatal(err)
		}
	})
}
