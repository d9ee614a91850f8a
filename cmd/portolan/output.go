package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portolan/portolan/internal/atomicfile"
	"github.com/portolan/portolan/internal/textsafe"
)

// Every command that writes names its output file with -o FILE (as go
// build -o, curl -o, sort -o) and picks a format with --output FORMAT.

// outputFileFlag is the long name of -o.
const outputFileFlag = "output-file"

// formatNames are the values of --output; "-o json" means one of them
// far more often than a file named json.
var formatNames = []string{"table", "json", "yaml", "html"}

// addOutputFile registers -o/--output-file FILE on fs.
func addOutputFile(fs *pflag.FlagSet, p *string, what string) {
	fs.StringVarP(p, outputFileFlag, "o", "", "write "+what+" to FILE (atomically) instead of stdout; --output picks the format")
}

// checkOutputFile refuses -o FORMAT when no file of that name was meant
// (a path with a slash, ./json, says a file was), and --output FILE.
func checkOutputFile(cmd *cobra.Command) error {
	if o := cmd.Flags().Lookup("output"); o != nil && o.Changed && cmd.Flags().Lookup(outputFileFlag) != nil {
		v := o.Value.String()
		if strings.ContainsAny(v, "./") {
			return fmt.Errorf("--output %s: --output picks the format (%s); did you mean -o %s?", v, strings.TrimPrefix(o.Usage, "the format: "), v)
		}
	}
	f := cmd.Flags().Lookup(outputFileFlag)
	if f == nil || !f.Changed {
		return nil
	}
	v := f.Value.String()
	for _, name := range formatNames {
		if strings.EqualFold(v, name) {
			if cmd.Flags().Lookup("output") == nil {
				return fmt.Errorf("-o %s: %s has no --output format to pick; to write a file named %s, say ./%s", v, cmd.Name(), v, v)
			}
			return fmt.Errorf("-o %s: did you mean --output %s? (to write a file named %s, say ./%s)", v, strings.ToLower(v), v, v)
		}
	}
	return nil
}

// writeResult writes what fill writes to path atomically, or to w when path
// is "" or "-".
func writeResult(w io.Writer, path string, fill func(io.Writer) error) error {
	if path == "" || path == "-" {
		return fill(w)
	}
	return atomicfile.Write(path, 0o644, fill)
}

// terminalTable returns fill with the text it writes made safe for a
// terminal line by line: control characters, bidirectional overrides and
// invalid bytes in profile text are written as escapes, newlines kept.
func terminalTable(fill func(io.Writer) error) func(io.Writer) error {
	return func(w io.Writer) error {
		var buf bytes.Buffer
		if err := fill(&buf); err != nil {
			return err
		}
		lines := strings.SplitAfter(buf.String(), "\n")
		var out strings.Builder
		for _, l := range lines {
			body, nl := strings.CutSuffix(l, "\n")
			out.WriteString(textsafe.Terminal(body))
			if nl {
				out.WriteByte('\n')
			}
		}
		_, err := io.WriteString(w, out.String())
		return err
	}
}
