package catalog

import (
	"fmt"
	"strings"

	"github.com/portolan/portolan/internal/textsafe"
)

// Error is one problem in a profile, with where it is.
type Error struct {
	File  string `json:"file"`            // the profile's file name
	Line  int    `json:"line,omitempty"`  // 1-based; 0 when unknown
	Col   int    `json:"col,omitempty"`   // 1-based; 0 when unknown
	Field string `json:"field,omitempty"` // the field's path: flows[3].ports[0]
	Msg   string `json:"message"`
}

// Error is the one-line form, file:line:col: field: message, with control
// characters in any of them escaped (textsafe.Terminal): a profile's text
// must not drive the terminal that shows the error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(textsafe.Terminal(e.File))
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(textsafe.Terminal(e.Field))
		b.WriteString(": ")
	}
	b.WriteString(textsafe.Terminal(e.Msg))
	return b.String()
}

// Errors is every problem found in one or more profiles, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// err returns es as an error, or nil when it is empty.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
