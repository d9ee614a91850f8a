package extract

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkExtract drafts a profile from each corpus document: the time
// per document, reading included.
//
//	go test ./extract -run '^$' -bench Extract -benchmem
func BenchmarkExtract(b *testing.B) {
	for _, c := range corpus(b) {
		data, err := os.ReadFile(c.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(c.path), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Extract(c.path, data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPDF compares, in one run, the two steps of a PDF: pdftotext
// -layout (the tool a user would run anyway) and the extraction of its
// text.
func BenchmarkPDF(b *testing.B) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		b.Skip("pdftotext is not installed")
	}
	t := &testing.T{}
	dir := b.TempDir()
	pdf := filepath.Join(dir, "orca.pdf")
	rows := [][]string{{"Orca Phone System - Firewall Ports"}, {"Destination", "Protocol", "Port", "Purpose"}}
	for i := 0; i < 40; i++ {
		rows = append(rows, []string{"sip.orca-phone.example", "UDP", "5060", "SIP signalling"}, []string{"198.51.100.0/24", "UDP", "16384-32767", "Voice (RTP)"})
	}
	writePDF(t, pdf, rows, []int{50, 220, 300, 400})
	text, err := PDFText(pdf)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pdftotext", func(b *testing.B) {
		for b.Loop() {
			if _, err := PDFText(pdf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("extract", func(b *testing.B) {
		for b.Loop() {
			if _, err := Extract("orca.pdf.txt", text, Options{Format: PDF}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
