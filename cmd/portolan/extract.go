package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/extract"
	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/model"
)

func init() { extraCommands = append(extraCommands, newExtractCmd) }

func newExtractCmd(g *globals) *cobra.Command {
	var (
		slug, lang, format, outFile string
		quiet                       bool
	)
	cmd := &cobra.Command{
		Use:   "extract FILE...",
		Short: "Draft a profile from a vendor's firewall document (text, Markdown, HTML, PDF)",
		Long: `Read a vendor's firewall or port document and write a draft profile in the
catalog's format: host sets (names, *.wildcards, addresses, CIDRs, ranges,
IPv4 and IPv6), flows (direction, TCP/UDP, ports and ranges in the
notations vendors use: 10000-20000, 10.000 bis 20.000, 10000 a 60000,
10000～20000, 10000:20000, 10000 through 20000), necessity from the
document's words (required, optional, falls, se, caso, 必須, 任意, gerekli…),
and constraints (SIP/H.323 ALG off, NAT timeouts and keep-alives, TLS
minimum, no SSL inspection, proxy authentication, allow by DNS name). Every
flow, host set and constraint carries the quote and line it came from, and
the purpose in the document's own language.

Documents: plain text, Markdown, HTML (tables and lists kept as structure)
and PDF (through pdftotext -layout from poppler-utils; the profile then
names the text pdftotext gives, FILE.txt, as its document: run
"pdftotext -layout FILE.pdf FILE.txt" to check its quotes). Several FILEs
of one vendor make one profile, each statement naming its document.

The draft is for an expert to review, not to load unread. What the reading
was unsure of is written as notes in the profile and listed on stderr;
every line that mentions a port, protocol, address or host and gave nothing
is listed on stderr with its line number. Offline: nothing is fetched.

Exit codes: 0 a profile and nothing left unread; 1 a profile, with lines
not understood (or no flow found: no profile); 2 unreadable input or usage.`,
		Example: `  # draft, review, check the quotes against the document, then use it
  portolan extract vendor-firewall.html -o profiles/vendor.yaml
  portolan validate profiles/vendor.yaml --documents .
  portolan rules --catalog profiles vendor --target nftables --no-resolve

  # a German page, slug given, notes only (no stderr listing of unread lines)
  portolan extract --slug kestrel --lang de anlage.txt --quiet > kestrel.yaml

  # two documents of one vendor, one profile
  portolan extract ports.md endpoints.pdf -o vendor.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if lang != "" && (len(lang) != 2 || strings.ToLower(lang) != lang) {
				return fmt.Errorf("--lang %q: give a two-letter ISO 639-1 code such as de, pt, ja", lang)
			}
			if slug != "" && !validSlug(slug) {
				return fmt.Errorf("--slug %q: lower-case letters, digits and hyphens, starting with a letter or digit", slug)
			}
			var f extract.Format
			switch format {
			case "", "auto":
			case "text", "markdown", "html", "pdf":
				f = extract.Format(format)
			default:
				return fmt.Errorf("--format %q: one of auto, text, markdown, html, pdf", format)
			}
			stderr := cmd.ErrOrStderr()
			var svcs []*model.Service
			var yamlOut []byte
			unread, noFlows := 0, 0
			for _, path := range args {
				data, name, err := readDocument(path, f, cmd.InOrStdin())
				if err != nil {
					return err // unreadable: exit 2
				}
				opt := extract.Options{Slug: slug, Lang: lang, Format: f}
				if f == "" && extract.DetectFormat(path, data) == extract.PDF || f == extract.PDF {
					opt.Format, opt.Document = extract.PDF, name
				}
				res, err := extract.Extract(name, data, opt)
				if res != nil {
					for _, u := range res.Unread {
						unread++
						if !quiet {
							warnf(stderr, "%s:%d: not understood: %s", name, u.Line, u.Text)
						}
					}
				}
				if err != nil {
					if res == nil {
						return err
					}
					warnf(stderr, "%v", err)
					noFlows++
					continue
				}
				printNotes(stderr, name, res.Service)
				svcs = append(svcs, res.Service)
				yamlOut = res.YAML
			}
			if len(svcs) == 0 {
				return failed("no profile written")
			}
			if len(svcs) > 1 {
				_, data, err := extract.Merge(svcs)
				if err != nil {
					return err
				}
				yamlOut = data
			}
			if err := writeResult(cmd.OutOrStdout(), outFile, func(w io.Writer) error {
				_, err := w.Write(yamlOut)
				return err
			}); err != nil {
				return err
			}
			switch {
			case noFlows > 0:
				return failed(fmt.Sprintf("%d of %d documents gave no flow", noFlows, len(args)))
			case unread > 0:
				if unread == 1 {
					return failed("1 line mentions ports, protocols or hosts but gave nothing: review it")
				}
				return failed(fmt.Sprintf("%d lines mention ports, protocols or hosts but gave nothing: review them", unread))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&slug, "slug", "", "the service's slug (default: from the document's title)")
	fs.StringVar(&lang, "lang", "", "the document's language, ISO 639-1 (default: detected)")
	fs.StringVar(&format, "format", "auto", "the documents' format: auto, text, markdown, html or pdf")
	fs.BoolVarP(&quiet, "quiet", "q", false, "do not list the lines not understood on stderr (the exit code still says so)")
	addOutputFile(fs, &outFile, "the profile")
	return cmd
}

// readDocument reads one document, or the text of a PDF; name is the
// document's name as the profile gives it.
func readDocument(path string, f extract.Format, stdin io.Reader) ([]byte, string, error) {
	name := filepath.Base(path)
	if path == safeio.Stdin {
		name = "stdin"
	}
	isPDF := f == extract.PDF || f == "" && strings.EqualFold(filepath.Ext(path), ".pdf")
	if !isPDF && path != safeio.Stdin {
		if h, err := safeio.Open(path); err == nil {
			head := make([]byte, 5)
			n, _ := io.ReadFull(h, head)
			h.Close()
			isPDF = string(head[:n]) == "%PDF-"
		}
	}
	if isPDF {
		if path == safeio.Stdin {
			return nil, "", fmt.Errorf("a PDF is read from a file, not standard input: give its path")
		}
		if _, err := safeio.Open(path); err != nil {
			return nil, "", err
		}
		data, err := extract.PDFText(path)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return data, name + ".txt", nil
	}
	data, err := safeio.ReadFile(path, extract.MaxInput, stdin)
	if err != nil {
		return nil, "", err
	}
	return data, name, nil
}

// printNotes lists a profile's notes on stderr, one line each.
func printNotes(w io.Writer, doc string, svc *model.Service) {
	for _, n := range svc.Notes {
		about := ""
		if len(n.About) > 0 {
			about = " (" + strings.Join(n.About, ", ") + ")"
		}
		line := 0
		for _, id := range n.About {
			if f := svc.Flow(id); f != nil {
				line = f.Source.Line
				break
			}
			if h := svc.HostSet(id); h != nil && h.Source != nil {
				line = h.Source.Line
				break
			}
		}
		if line > 0 {
			warnf(w, "%s:%d: note%s: %s", doc, line, about, n.Text)
		} else {
			warnf(w, "%s: note%s: %s", doc, about, n.Text)
		}
	}
}

// warnf writes one warning line through warn (terminal-safe).
func warnf(w io.Writer, format string, args ...any) { warn(w, format, args...) }

func validSlug(s string) bool {
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' && i > 0
		if !ok {
			return false
		}
	}
	return s != ""
}
