package hostsrc

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/portolan/portolan/resolve"
)

// Fill fetches the feeds of the choices' host sets and gives each choice
// what they hold (Choice.Feeds), so that flows to those sets take their
// addresses. A relative feed file is read from the profile's directory.
// A feed that gives nothing (no list, no cached copy) is an error, or
// with keepFailed a warning, the set keeping its other entries only.
// Warnings are one line each.
func Fill(ctx context.Context, choices []*resolve.Choice, opt Options, keepFailed bool) ([]string, error) {
	type got struct {
		l     *List
		warns []string
		err   error
	}
	seen := map[string]*got{} // one fetch per feed and directory
	var warns []string
	for _, c := range choices {
		svc := c.Service
		o := opt
		if svc.File != "" && !strings.HasPrefix(svc.File, "embedded:") {
			o.Dir = filepath.Dir(svc.File)
		}
		for i := range svc.Hosts {
			h := &svc.Hosts[i]
			if h.Feed == nil {
				continue
			}
			key := fmt.Sprintf("%s\x00%#v", o.Dir, *h.Feed)
			g, ok := seen[key]
			if !ok {
				g = &got{}
				g.l, g.warns, g.err = Fetch(ctx, h.Feed, o)
				seen[key] = g
			}
			what := svc.Slug() + " host set " + h.Name
			if !ok {
				for _, w := range g.warns {
					warns = append(warns, what+": "+w)
				}
			}
			if c.Feeds == nil {
				c.Feeds = map[string]*resolve.Feed{}
			}
			if g.err != nil {
				if !keepFailed {
					return warns, fmt.Errorf("%s: %v (pass --no-resolve to go on without its addresses)", what, g.err)
				}
				c.Feeds[h.Name] = &resolve.Feed{Err: oneLine(g.err.Error())}
				warns = append(warns, fmt.Sprintf("%s: %v; the set has no address from its feed", what, g.err))
				continue
			}
			c.Feeds[h.Name] = &resolve.Feed{Prefixes: g.l.Prefixes, About: g.l.About()}
		}
	}
	return warns, nil
}
