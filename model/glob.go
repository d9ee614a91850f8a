package model

import (
	"fmt"
	"strings"
)

// A glob entry is a host-name pattern with "*" inside labels
// (router*.vendor.com, edge-*.eu.vendor.com): "*" stands for any letters,
// digits and hyphens within one label. Nothing that allows by name takes
// such a pattern, so targets widen it to the nearest form they can say:
// the domain right of the last label with a "*" (Entry.Domain), allowed
// with everything below it. Packet filters cannot use names at all and
// leave it out, as they do wildcard domains.

// parseGlob checks a host-name pattern: with each "*" read as a letter it
// is a valid name, and the domain it widens to has at least two labels,
// so that a pattern never widens to a whole top-level domain.
func parseGlob(e Entry) (Entry, error) {
	s := e.Raw
	if err := checkName(strings.ReplaceAll(s, "*", "x")); err != nil {
		return e, fmt.Errorf("bad host-name pattern %q: %v", s, err)
	}
	labels := strings.Split(s, ".")
	last := 0
	for i, l := range labels {
		if strings.Contains(l, "*") {
			last = i
		}
	}
	suffix := labels[last+1:]
	if len(suffix) < 2 {
		return e, fmt.Errorf("bad host-name pattern %q: it would widen to .%s; a pattern needs a domain of two labels or more right of its last *", s, strings.Join(suffix, "."))
	}
	e.Kind, e.Domain = EntryGlob, strings.Join(suffix, ".")
	return e, nil
}

// Widened returns the wildcard domain a glob entry widens to
// ("*.vendor.com" for router*.vendor.com); other entries as written.
func (e Entry) Widened() string {
	if e.Kind == EntryGlob {
		return "*." + e.Domain
	}
	return e.Raw
}

// MatchGlob reports whether name matches the glob entry's pattern, "*"
// matching any run of letters, digits and hyphens within one label.
func (e Entry) MatchGlob(name string) bool {
	if e.Kind != EntryGlob {
		return false
	}
	pl, nl := strings.Split(e.Raw, "."), strings.Split(name, ".")
	if len(pl) != len(nl) {
		return false
	}
	for i := range pl {
		if !matchLabel(pl[i], nl[i]) {
			return false
		}
	}
	return true
}

func matchLabel(p, s string) bool {
	star := strings.IndexByte(p, '*')
	if star < 0 {
		return p == s
	}
	if !strings.HasPrefix(s, p[:star]) {
		return false
	}
	rest := p[star+1:]
	for i := star; i <= len(s); i++ {
		if matchLabel(rest, s[i:]) {
			return true
		}
	}
	return false
}
