package extract

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
)

// MaxInput bounds the documents Extract reads: vendor pages are tens of
// kilobytes; a PDF's text likewise.
const MaxInput = 4 << 20

// Format is a document format.
type Format string

// Formats.
const (
	Text     Format = "text"
	Markdown Format = "markdown"
	HTML     Format = "html"
	PDF      Format = "pdf"
)

// Options steer a reading.
type Options struct {
	Slug string // the service slug; from the title when empty
	Lang string // ISO 639-1; detected when empty
	// Format; from the file name and content when empty.
	Format Format
	// Document is the name the profile gives as its source document;
	// the input's base name when empty.
	Document string
}

// Result is a drafted profile and what the reading was unsure of.
type Result struct {
	Service *model.Service
	YAML    []byte
	// Unread lists the lines that mention ports, protocols, addresses or
	// hosts and gave nothing.
	Unread []Unread
}

// DetectFormat guesses a document's format from its name and first bytes.
func DetectFormat(name string, data []byte) Format {
	head := data
	if len(head) > 1024 {
		head = head[:1024]
	}
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return PDF
	case strings.HasSuffix(strings.ToLower(name), ".md") || strings.HasSuffix(strings.ToLower(name), ".markdown"):
		return Markdown
	case strings.HasSuffix(strings.ToLower(name), ".html") || strings.HasSuffix(strings.ToLower(name), ".htm"):
		return HTML
	}
	lh := bytes.ToLower(bytes.TrimSpace(head))
	if bytes.HasPrefix(lh, []byte("<!doctype html")) || bytes.HasPrefix(lh, []byte("<html")) || bytes.Contains(lh, []byte("<body")) {
		return HTML
	}
	return Text
}

// ErrNoPdftotext says that PDF input needs pdftotext, which is missing.
var ErrNoPdftotext = errors.New("reading a PDF needs pdftotext (Debian/Ubuntu: apt-get install poppler-utils; macOS: brew install poppler)")

// PDFText returns the text of a PDF as `pdftotext -layout` writes it.
func PDFText(path string) ([]byte, error) {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		return nil, ErrNoPdftotext
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(bin, "-layout", "-enc", "UTF-8", "-q", path, "-")
	cmd.Stdout, cmd.Stderr = &limitWriter{w: &out, n: MaxInput}, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("pdftotext: %s", firstLine(msg))
	}
	return out.Bytes(), nil
}

type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("the PDF's text is larger than %d bytes", l.n)
	}
	return l.w.Write(p)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Read turns a document into units. data is the document's text (for a
// PDF, the text pdftotext gave).
func Read(name string, data []byte, f Format) *Document {
	if len(data) > MaxInput {
		data = data[:MaxInput]
	}
	switch f {
	case HTML:
		return readHTML(name, data)
	case PDF:
		return readText(name, data, true)
	}
	return readText(name, data, false)
}

// Extract drafts a profile from a document's text. name is the document's
// file name (its base name goes into the profile).
func Extract(name string, data []byte, opt Options) (*Result, error) {
	f := opt.Format
	if f == "" {
		f = DetectFormat(name, data)
	}
	doc := Read(filepath.Base(name), data, f)
	lang := opt.Lang
	if lang == "" {
		lang = doc.Lang
	}
	if lang == "" {
		lang = DetectLang(doc)
	}
	x := &extractor{doc: doc, lang: lang, frLike: lang == "fr"}
	x.run()
	if f == PDF {
		x.notes = append(x.notes, "Read from a PDF: quotes and line numbers refer to the text `pdftotext -layout` gives, which the profile names as its document.")
	}
	if len(x.flows) == 0 {
		return &Result{Unread: x.Unread()}, fmt.Errorf("%s: no flow found: no port with a protocol in it", filepath.Base(name))
	}
	svc := x.build(opt)
	out, err := Marshal(svc)
	if err != nil {
		return nil, err
	}
	// The draft must load as any profile does.
	if _, err := catalog.Load(svc.Info.Slug+".yaml", out); err != nil {
		return nil, fmt.Errorf("internal error: the drafted profile does not validate: %v", err)
	}
	return &Result{Service: svc, YAML: out, Unread: x.Unread()}, nil
}

// Marshal writes a profile as YAML with a header comment.
func Marshal(svc *model.Service) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Draft profile of %s, made by `portolan extract` from %s.\n", oneLine(svc.Info.Name), oneLine(svc.Info.Document))
	b.WriteString("# Review every flow, host set and note before use; quotes and lines point into the document.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(svc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
