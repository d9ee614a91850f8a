//go:build unix

package extract

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used: on a
// loaded machine it says more than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports the CPU time per run beside the wall
// clock's.
func loop(b *testing.B, f func()) {
	c0 := cpuTime()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

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
			loop(b, func() {
				if _, err := Extract(c.path, data, Options{}); err != nil {
					b.Fatal(err)
				}
			})
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
		loop(b, func() { // pdftotext's own CPU is a child's: not in cpu-ms/op
			if _, err := PDFText(pdf); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("extract", func(b *testing.B) {
		loop(b, func() {
			if _, err := Extract("orca.pdf.txt", text, Options{Format: PDF}); err != nil {
				b.Fatal(err)
			}
		})
	})
}
