package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"go4.org/netipx"

	"github.com/portolan/portolan/model"
)

// Concrete is an expanded flow whose remote side is turned into addresses:
// literal addresses and prefixes as written, names resolved (or pinned),
// wildcards and "any"/"lan" kept apart because no address list says them.
type Concrete struct {
	Flow
	// Ports is the set of destination ports; PortOrder keeps the profile's
	// order, which matters for one-of groups (first is preferred).
	Ports     model.PortSet
	PortOrder []model.PortRange
	// SrcPorts is empty when any source port goes.
	SrcPorts model.PortSet
	// Remote holds every address the remote side stands for, both
	// families, merged; empty when it is only names that did not resolve,
	// wildcards, any or lan.
	Remote *netipx.IPSet
	// Literal holds only the addresses and prefixes written in the
	// profile or params, without the names' addresses.
	Literal *netipx.IPSet
	Any     bool // the remote side includes any address
	LAN     bool // the remote side includes the site's own networks
	// Names lists each DNS name with what it resolved to.
	Names []NameAddrs
	// Wildcards are *.domain entries and host-name patterns
	// (router*.vendor.com), which only a proxy or DNS-aware firewall can
	// allow, a pattern widened to its domain.
	Wildcards []string
	// Unresolved lists names that have no address.
	Unresolved []string
}

// NameAddrs is one name and its addresses.
type NameAddrs struct {
	Name   string
	Answer Answer
}

// Preferred returns the first port range of a one-of group, the whole
// set otherwise.
func (c *Concrete) Preferred() model.PortSet {
	if c.OneOf && len(c.PortOrder) > 0 {
		return model.NewPortSet(c.PortOrder[0])
	}
	return c.Ports
}

// Prefixes returns the remote addresses of one family (4 or 6) as
// prefixes, names' addresses included.
func (c *Concrete) Prefixes(family int) []netip.Prefix { return ofFamily(c.Remote, family) }

// LiteralPrefixes returns the written addresses of one family, without the
// names' addresses.
func (c *Concrete) LiteralPrefixes(family int) []netip.Prefix { return ofFamily(c.Literal, family) }

func ofFamily(s *netipx.IPSet, family int) []netip.Prefix {
	if s == nil {
		return nil
	}
	var out []netip.Prefix
	for _, p := range s.Prefixes() {
		if (family == 4) == p.Addr().Is4() {
			out = append(out, p)
		}
	}
	return out
}

// Warning is something a user must know about the concrete flows: a name
// with no address, a wildcard no address list can say.
type Warning struct {
	Service string
	Flow    string
	Msg     string
}

func (w Warning) String() string { return fmt.Sprintf("%s/%s: %s", w.Service, w.Flow, w.Msg) }

// Concretize turns expanded flows into concrete ones. Flows must have their
// params filled in (expand with strict). A name that does not resolve is a
// Warning, not an error: the flow keeps its other addresses.
func Concretize(ctx context.Context, flows []Flow, r Resolver) ([]Concrete, []Warning, error) {
	if _, ok := r.(*Cache); !ok {
		r = &Cache{R: r}
	}
	var out []Concrete // one for each flow
	if len(flows) > 0 {
		out = make([]Concrete, 0, len(flows))
	}
	var warns []Warning
	for _, f := range flows {
		if f.Placeholder() {
			return nil, nil, fmt.Errorf("%s/%s: params not set: %v", f.Service, f.ID, f.Missing)
		}
		c := Concrete{Flow: f}
		rs, err := f.PortRanges()
		if err != nil {
			return nil, nil, fmt.Errorf("%s/%s: %v", f.Service, f.ID, err)
		}
		c.PortOrder = rs
		c.Ports = model.NewPortSet(rs...)
		src, err := f.SrcPortRanges()
		if err != nil {
			return nil, nil, fmt.Errorf("%s/%s: %v", f.Service, f.ID, err)
		}
		c.SrcPorts = model.NewPortSet(src...)
		var b, lit netipx.IPSetBuilder
		for _, d := range f.Dest {
			e, err := model.ParseEntry(d)
			if err != nil {
				return nil, nil, fmt.Errorf("%s/%s: %v", f.Service, f.ID, err)
			}
			switch e.Kind {
			case model.EntryAddr, model.EntryPrefix:
				b.AddPrefix(e.Prefix)
				lit.AddPrefix(e.Prefix)
			case model.EntryAny:
				c.Any = true
			case model.EntryLAN:
				c.LAN = true
			case model.EntryWildcard:
				c.Wildcards = append(c.Wildcards, d)
				warns = append(warns, Warning{f.Service, f.ID, fmt.Sprintf("%s is a wildcard domain: no address list can say it; allow it on a web proxy (--target squid) or a DNS-aware firewall", d)})
			case model.EntryGlob:
				c.Wildcards = append(c.Wildcards, d)
				warns = append(warns, Warning{f.Service, f.ID, fmt.Sprintf("%s is a host-name pattern: no address list can say it; a web proxy (--target squid) or domain list allows it widened to %s", d, e.Widened())})
			case model.EntryName:
				a, err := r.Lookup(ctx, d)
				var nf *NotFoundError
				switch {
				case err == nil:
					for _, addr := range a.Addrs {
						b.Add(addr.Unmap())
					}
					c.Names = append(c.Names, NameAddrs{Name: d, Answer: a})
				case errors.As(err, &nf):
					c.Unresolved = append(c.Unresolved, d)
					c.Names = append(c.Names, NameAddrs{Name: d})
					warns = append(warns, Warning{f.Service, f.ID, err.Error()})
				default:
					return nil, nil, fmt.Errorf("%s/%s: %v", f.Service, f.ID, err)
				}
			default:
				return nil, nil, fmt.Errorf("%s/%s: entry %q still holds a param", f.Service, f.ID, d)
			}
		}
		if c.Remote, err = b.IPSet(); err != nil {
			return nil, nil, err
		}
		if c.Literal, err = lit.IPSet(); err != nil {
			return nil, nil, err
		}
		out = append(out, c)
	}
	return out, dedupeWarnings(warns), nil
}

func dedupeWarnings(ws []Warning) []Warning {
	var out []Warning
	for _, w := range ws {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}
