package target

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
)

// AddrSet is the addresses of one family of one host set of a service, as
// the remote side of rules uses them: the addresses and prefixes written
// in the profile or its params, the site's networks for a "lan" entry in
// host mode, and the addresses the set's DNS names resolved to. Targets
// with named sets write one per AddrSet, so that `portolan sync` can
// refill the names' addresses without touching a rule.
type AddrSet struct {
	Service string
	HostSet string
	Family  int // 4 or 6
	// Entries are the host set's entries as written, params filled in.
	Entries []string
	// Literal are the prefixes of this family that do not come from names.
	Literal []netip.Prefix
	// Names are the set's DNS names, each with its addresses of this
	// family (none when it did not resolve, or not yet).
	Names []resolve.NameAddrs
	// Feed is what the host set's published list gave (its addresses of
	// this family are in Literal); nil when it has no feed.
	Feed *resolve.Feed
}

// Key names the set: service_hostset_v4. Slugs and host set names are
// lower-case letters, digits and hyphens, so the key is a valid nftables
// identifier.
func (s *AddrSet) Key() string {
	return fmt.Sprintf("%s_%s_v%d", s.Service, s.HostSet, s.Family)
}

// FamilyEntries are the host set's entries that this family's set
// holds: all but the addresses and prefixes of the other family, so that
// an IPv4 set's comment never lists an IPv6 prefix.
func (s *AddrSet) FamilyEntries() []string {
	var out []string
	for _, e := range s.Entries {
		if pe, err := model.ParseEntry(e); err == nil && pe.IsAddress() && familyOf(pe.Prefix.Addr()) != s.Family {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Dynamic reports whether the set holds DNS names or a feed's addresses,
// which change.
func (s *AddrSet) Dynamic() bool { return len(s.Names) > 0 || s.Feed != nil }

// IPSet returns every address of the set, merged.
func (s *AddrSet) IPSet() *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, p := range s.Literal {
		b.AddPrefix(p)
	}
	for _, n := range s.Names {
		for _, a := range n.Answer.Addrs {
			b.Add(a.Unmap())
		}
	}
	set, _ := b.IPSet()
	return set
}

// NameList returns the set's names.
func (s *AddrSet) NameList() []string {
	out := make([]string, len(s.Names))
	for i, n := range s.Names {
		out[i] = n.Name
	}
	return out
}

// Resolved says when the names were resolved and the smallest TTL among
// them: "resolved 2026-01-02T03:04:05Z, TTL 300s", "pinned by hosts file
// pins.txt", "not resolved". Empty for a set without names.
func (s *AddrSet) Resolved() string {
	names := s.resolvedNames()
	if s.Feed == nil {
		return names
	}
	feed := s.Feed.About
	if s.Feed.Err != "" {
		feed = "feed: no address (" + s.Feed.Err + ")"
	}
	if names == "" {
		return feed
	}
	return names + "; " + feed
}

func (s *AddrSet) resolvedNames() string {
	if len(s.Names) == 0 {
		return ""
	}
	var at time.Time
	var ttl time.Duration
	var sources []string
	resolved := 0
	for _, n := range s.Names {
		a := n.Answer
		if len(a.Addrs) == 0 && a.At.IsZero() {
			continue
		}
		resolved++
		if at.IsZero() || a.At.Before(at) {
			at = a.At
		}
		if a.TTL > 0 && (ttl == 0 || a.TTL < ttl) {
			ttl = a.TTL
		}
		if a.Source != "" && !slices.Contains(sources, a.Source) {
			sources = append(sources, a.Source)
		}
	}
	if resolved == 0 {
		return "not resolved"
	}
	out := "resolved " + at.UTC().Format(time.RFC3339)
	if ttl > 0 {
		out += fmt.Sprintf(", TTL %ds", int(ttl/time.Second))
	} else if len(sources) > 0 && strings.HasPrefix(sources[0], "hosts:") {
		out += ", pinned by " + strings.TrimPrefix(sources[0], "hosts:")
	}
	if resolved < len(s.Names) {
		out += fmt.Sprintf(" (%d of %d names)", resolved, len(s.Names))
	}
	return out
}

// Equal reports whether two sets hold the same names and addresses.
func (s *AddrSet) Equal(t *AddrSet) bool {
	return s.Key() == t.Key() && s.IPSet().Equal(t.IPSet()) && slices.Equal(s.NameList(), t.NameList())
}

// RemoteSide returns the prefixes and names of a rule's remote side: its
// destination when the flow is outbound, its source when inbound.
func RemoteSide(r *policy.Rule) (prefixes []netip.Prefix, names []resolve.NameAddrs, any bool) {
	m := r.Match
	if IsOutbound(r) {
		return m.Dst, m.DstNames, m.AnyDst()
	}
	return m.Src, m.SrcNames, m.AnySrc()
}

// LocalSide returns the prefixes of a rule's local side (the LAN or the
// role's address): its source when the flow is outbound, its destination
// when inbound; none means any.
func LocalSide(r *policy.Rule) []netip.Prefix {
	if IsOutbound(r) {
		return r.Match.Src
	}
	return r.Match.Dst
}

// Remote splits the remote side of rule r by the host sets of its flow:
// one AddrSet per host set that has addresses of the rule's family, or a
// name the plan keeps for it. It returns nil when the remote side is any
// address. The union of the sets is exactly the plan's remote side; when
// it is not, that is an error, never a broader rule.
func (in *Input) Remote(r *policy.Rule) ([]*AddrSet, error) {
	prefixes, names, any := RemoteSide(r)
	if any {
		return nil, nil
	}
	f := r.Flow
	fam := r.Match.Family
	if len(f.RemoteRoles) > 0 {
		// Between roles of the site: the roles' addresses or the site's
		// networks, as the plan has them, in one set ("_" keeps its name
		// apart from host sets, whose names have none).
		return []*AddrSet{{Service: f.Service, HostSet: "roles_" + strings.Join(f.RemoteRoles, "_"), Family: fam, Entries: f.Dest, Literal: prefixes}}, nil
	}
	byName := map[string]resolve.NameAddrs{}
	for _, n := range names {
		byName[n.Name] = n
	}
	var out []*AddrSet
	for _, hs := range f.RemoteSets {
		s, err := in.addrSet(f.Service, hs, fam, func(name string) (resolve.NameAddrs, bool) {
			n, ok := byName[name]
			return n, ok
		})
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %v", f.Service, f.ID, err)
		}
		if len(s.Literal) > 0 || len(s.Names) > 0 {
			out = append(out, s)
		}
	}
	// The sets must say what the plan says: the same addresses, the same names.
	var want, got netipx.IPSetBuilder
	for _, p := range prefixes {
		want.AddPrefix(p)
	}
	for _, n := range names {
		for _, a := range n.Answer.Addrs {
			want.Add(a.Unmap())
		}
	}
	gotNames := map[string]bool{}
	for _, s := range out {
		got.AddSet(s.IPSet())
		for _, n := range s.Names {
			gotNames[n.Name] = true
		}
	}
	ws, _ := want.IPSet()
	gs, _ := got.IPSet()
	if !ws.Equal(gs) || len(gotNames) != len(byName) {
		return nil, fmt.Errorf("%s/%s: the host sets %s do not add up to the plan's remote side (%v, names %v); this is a bug",
			f.Service, f.ID, strings.Join(f.RemoteSets, ", "), ws.Prefixes(), keys(byName))
	}
	return out, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func familyOf(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}

// SetIndex collects the named sets that rules use, each once, in the order
// first used.
type SetIndex struct {
	order []*AddrSet
	byKey map[string]*AddrSet
}

// Add records s and returns the set stored under its key; a second set of
// the same key with other contents is an error.
func (x *SetIndex) Add(s *AddrSet) (*AddrSet, error) {
	if x.byKey == nil {
		x.byKey = map[string]*AddrSet{}
	}
	if old, ok := x.byKey[s.Key()]; ok {
		if !old.Equal(s) {
			return nil, fmt.Errorf("set %s: two rules give it different addresses (%v, %v); this is a bug", s.Key(), old.IPSet().Prefixes(), s.IPSet().Prefixes())
		}
		return old, nil
	}
	x.byKey[s.Key()] = s
	x.order = append(x.order, s)
	return s, nil
}

// Sets returns the sets in the order first added.
func (x *SetIndex) Sets() []*AddrSet { return x.order }

// Sets returns every named set the input's rules use, in rule order.
func (in *Input) Sets() ([]*AddrSet, error) {
	var x SetIndex
	for i := range in.Rules {
		ss, err := in.Remote(&in.Rules[i])
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			if _, err := x.Add(s); err != nil {
				return nil, err
			}
		}
	}
	return x.Sets(), nil
}

// Elements writes an address set as few elements as it takes: each
// merged range as one prefix or address when it is one, else as a
// "lo-hi" range.
func Elements(s *netipx.IPSet) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, r := range s.Ranges() {
		if p, ok := r.Prefix(); ok {
			if p.IsSingleIP() {
				out = append(out, p.Addr().String())
			} else {
				out = append(out, p.String())
			}
			continue
		}
		out = append(out, r.From().String()+"-"+r.To().String())
	}
	return out
}

// HostSet returns the addresses of one family of a service's host set as
// the input resolved them, whether or not a rule of that family uses it:
// `portolan sync` refreshes both families of every host set with names.
func (in *Input) HostSet(service, hostSet string, fam int) (*AddrSet, error) {
	answers := map[string]resolve.Answer{}
	for i := range in.Flows {
		f := &in.Flows[i]
		if f.Service != service {
			continue
		}
		for _, n := range f.Names {
			if _, ok := answers[n.Name]; !ok || len(n.Answer.Addrs) > 0 {
				answers[n.Name] = n.Answer
			}
		}
	}
	return in.addrSet(service, hostSet, fam, func(name string) (resolve.NameAddrs, bool) {
		a, ok := answers[name]
		if !ok {
			return resolve.NameAddrs{}, false // no flow that the options take in reaches it
		}
		a.Addrs = slices.DeleteFunc(slices.Clone(a.Addrs), func(x netip.Addr) bool { return familyOf(x) != fam })
		return resolve.NameAddrs{Name: name, Answer: a}, true
	})
}

// addrSet builds the set of one family of a service's host set from its
// entries: addresses and prefixes of the family, the site's networks for
// "lan" in host mode, and the names that name gives an answer for.
func (in *Input) addrSet(service, hostSet string, fam int, name func(string) (resolve.NameAddrs, bool)) (*AddrSet, error) {
	c := in.Choice(service)
	if c == nil {
		return nil, fmt.Errorf("no service %s", service)
	}
	s := &AddrSet{Service: service, HostSet: hostSet, Family: fam, Entries: c.HostEntries(hostSet), Feed: c.Feed(hostSet)}
	if s.Feed != nil {
		for _, p := range s.Feed.Prefixes {
			if familyOf(p.Addr()) == fam {
				s.Literal = append(s.Literal, p)
			}
		}
	}
	for _, e := range s.Entries {
		pe, err := model.ParseEntry(e)
		if err != nil {
			return nil, fmt.Errorf("%s host set %s: %v", service, hostSet, err)
		}
		switch pe.Kind {
		case model.EntryAddr, model.EntryPrefix:
			if familyOf(pe.Prefix.Addr()) == fam {
				s.Literal = append(s.Literal, pe.Prefix)
			}
		case model.EntryLAN:
			if in.Site.Mode == policy.Host {
				for _, p := range in.Site.LAN {
					if familyOf(p.Addr()) == fam {
						s.Literal = append(s.Literal, p)
					}
				}
			}
		case model.EntryName:
			if n, ok := name(pe.Domain); ok {
				s.Names = append(s.Names, n)
			}
		}
	}
	return s, nil
}

// Unresolved returns the names of the set that did not resolve at all
// (in either family).
func (in *Input) Unresolved(s *AddrSet) []string {
	var out []string
	for i := range in.Flows {
		f := &in.Flows[i]
		if f.Service != s.Service || !slices.Contains(f.RemoteSets, s.HostSet) {
			continue
		}
		for _, n := range f.Unresolved {
			if slices.Contains(s.NameList(), n) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// Serves reports whether a ruleset for the input can hold rules of
// family fam towards a service's host set: some flow the options take in
// reaches it and has a local side of that family (the role's address,
// else the site's --lan in gateway mode; any in host mode or without
// --lan), as policy.Plan decides. A name's addresses of a family the
// ruleset does not serve have no set to go to, now or after rules runs
// again.
func (in *Input) Serves(service, hostSet string, fam int) bool {
	for i := range in.Flows {
		f := &in.Flows[i]
		if f.Service != service || !slices.Contains(f.RemoteSets, hostSet) {
			continue
		}
		switch {
		case f.LocalAddress != "":
			if a, err := netip.ParseAddr(f.LocalAddress); err == nil && familyOf(a) == fam {
				return true
			}
		case in.Site.Mode == policy.Gateway && len(in.Site.LAN) > 0:
			for _, p := range in.Site.LAN {
				if familyOf(p.Addr()) == fam {
					return true
				}
			}
		default:
			return true
		}
	}
	return false
}
