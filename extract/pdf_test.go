package extract

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/testenv"
)

// writePDF writes a one-page PDF of text rows, each row a list of cells
// placed at x positions, in Helvetica: a minimal PDF 1.4 file written by
// hand (catalog, pages, page, font, content stream, cross-reference table),
// as a vendor's PDF export lays out a table.
func writePDF(t *testing.T, path string, rows [][]string, xs []int) {
	t.Helper()
	var content bytes.Buffer
	content.WriteString("BT /F1 10 Tf\n")
	y := 800
	for _, row := range rows {
		for i, cell := range row {
			x := 50
			if i < len(xs) {
				x = xs[i]
			}
			esc := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(cell)
			fmt.Fprintf(&content, "1 0 0 1 %d %d Tm (%s) Tj\n", x, y, esc)
		}
		y -= 14
	}
	content.WriteString("ET\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPDF reads a PDF through pdftotext -layout: the table's columns come
// out as runs of spaces, and the profile's quotes stand in the text
// pdftotext gives.
func TestPDF(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		testenv.SkipOrFail(t, "pdftotext is not installed (poppler-utils; scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "orca-ports.pdf")
	writePDF(t, pdf, [][]string{
		{"Orca Phone System - Firewall Ports"},
		{""},
		{"Destination", "Protocol", "Port", "Purpose"},
		{"sip.orca-phone.example", "UDP", "5060", "SIP signalling"},
		{"198.51.100.0/24", "UDP", "16384-32767", "Voice (RTP)"},
		{"api.orca-phone.example", "TCP", "443", "Provisioning"},
		{""},
		{"Disable the SIP ALG on your router."},
	}, []int{50, 220, 300, 400})
	text, err := PDFText(pdf)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Extract("orca-ports.pdf.txt", text, Options{Format: PDF})
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	want := map[string]bool{
		item("outbound", "udp", "5060", []string{"sip.orca-phone.example"}): true,
		item("outbound", "udp", "16384-32767", []string{"198.51.100.0/24"}): true,
		item("outbound", "tcp", "443", []string{"api.orca-phone.example"}):  true,
	}
	got := profileItems(res.Service)
	for w := range want {
		if !got[w] {
			t.Errorf("missing %s; got %v\n%s", w, got, text)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d items, want %d: %v", len(got), len(want), got)
	}
	if len(res.Service.Constraints) != 1 || res.Service.Constraints[0].Kind != "alg-off" {
		t.Errorf("constraints %+v, want one alg-off", res.Service.Constraints)
	}
	// the quotes stand in the text pdftotext gives, saved as the document
	if err := os.WriteFile(filepath.Join(dir, "orca-ports.pdf.txt"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	svc, err := catalog.Load("orca.yaml", res.YAML)
	if err != nil {
		t.Fatal(err)
	}
	svc.File = "orca.yaml"
	if errs := catalog.CheckSources(svc, dir); len(errs) > 0 {
		t.Errorf("quotes: %v", errs)
	}
}

// TestPDFMissingTool: without pdftotext the error says what to install.
func TestPDFMissingTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := PDFText("any.pdf")
	if err != ErrNoPdftotext || !strings.Contains(err.Error(), "poppler-utils") {
		t.Fatalf("error %v, want ErrNoPdftotext naming poppler-utils", err)
	}
}
