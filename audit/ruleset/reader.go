package ruleset

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Reader reads one platform's configuration (a FortiGate backup, an
// OPNsense config.xml, a RouterOS export…) into a Ruleset that the audit
// evaluates like any other. Platform packages register theirs from init;
// the audit's loader detects the format by asking each reader's Looks.
type Reader struct {
	// Format is the name --format takes ("fortigate").
	Format Format
	// Describe says in a few words what the input is, for --help and
	// errors ("a FortiGate configuration backup (show full-configuration)").
	Describe string
	// Looks reports whether data is in this format, from its first bytes.
	// It must be cheap and must not claim another reader's input.
	Looks func(data []byte) bool
	// Parse reads data; name is the file name errors give.
	Parse func(name string, data []byte) (*Ruleset, error)
}

var (
	readersMu sync.Mutex
	readers   = map[Format]Reader{}
)

// RegisterReader makes a platform reader available to the audit. A second
// reader of the same format panics: a programming error, found at start.
func RegisterReader(r Reader) {
	readersMu.Lock()
	defer readersMu.Unlock()
	if r.Format == "" || r.Looks == nil || r.Parse == nil {
		panic("ruleset: incomplete reader " + string(r.Format))
	}
	if _, dup := readers[r.Format]; dup {
		panic("ruleset: reader " + string(r.Format) + " registered twice")
	}
	readers[r.Format] = r
}

// Readers returns the registered platform readers, sorted by format.
func Readers() []Reader {
	readersMu.Lock()
	defer readersMu.Unlock()
	out := make([]Reader, 0, len(readers))
	for _, r := range readers {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Format < out[j].Format })
	return out
}

// LookupReader returns the reader of format f.
func LookupReader(f Format) (Reader, bool) {
	readersMu.Lock()
	defer readersMu.Unlock()
	r, ok := readers[f]
	return r, ok
}

// NamePrefix starts the SetRef name of a DNS name an address object holds
// (FortiGate type fqdn, ASA fqdn, a RouterOS address-list entry by name, a
// pf host alias of a name): "fqdn:sip.example.com".
const NamePrefix = "fqdn:"

// MatchName makes r match field f (SrcAddr or DstAddr) against the
// addresses of the DNS name: until the audit resolves it (ResolveNames in
// package audit, --hosts first, then DNS), the condition is unknown and
// keyed, so that the same name is the same answer everywhere on a packet's
// way. A rule whose address object is a list mixing names and addresses
// is a disjunction: readers write one Rule per name (and one for the
// addresses), in order, with the same Pos and verdict.
func MatchName(r *Rule, f Field, name string, neg bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	desc := fmt.Sprintf("%s %s (%s)", f, NamePrefix+name, "a DNS name the audit resolves")
	if neg {
		desc = "! " + desc
	}
	r.AddUnknown(desc)
	x := r.Ext()
	x.Conds = append(x.Conds, Cond{Key: strings.TrimPrefix(desc, "! "), Neg: neg})
	x.Sets = append(x.Sets, SetRef{Name: NamePrefix + name, Fields: []Field{f}, Neg: neg, Desc: desc})
}

// Names returns the DNS names the ruleset's rules match (MatchName),
// sorted, without duplicates.
func (r *Ruleset) Names() []string {
	var out []string
	for _, c := range r.Chains {
		for _, rule := range c.Rules {
			if rule.X == nil {
				continue
			}
			for _, s := range rule.X.Sets {
				if n, ok := strings.CutPrefix(s.Name, NamePrefix); ok {
					out = append(out, n)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// BindNames replaces the conditions of the names in addrs by terms on
// their addresses, for the rules of the chains whose family the address
// has (a name with only IPv4 addresses matches no IPv6 packet). Names not
// in addrs stay unknown.
func (r *Ruleset) BindNames(addrs map[string][]netip.Addr) {
	for _, c := range r.Chains {
		fams := c.Families()
		for _, rule := range c.Rules {
			if rule.X == nil || len(rule.X.Sets) == 0 {
				continue
			}
			var keep []SetRef
			for _, ref := range rule.X.Sets {
				n, ok := strings.CutPrefix(ref.Name, NamePrefix)
				as, known := addrs[n]
				if !ok || !known || len(ref.Fields) != 1 {
					keep = append(keep, ref)
					continue
				}
				var vals []Value
				for _, a := range as {
					a = a.Unmap()
					if (a.Is4() && slices.Contains(fams, 4)) || (a.Is6() && slices.Contains(fams, 6)) {
						vals = append(vals, AddrValue(a, a))
					}
				}
				rule.Terms = append(rule.Terms, Single(ref.Fields[0], ref.Neg, vals...))
				if i := slices.Index(rule.Unknown(), ref.Desc); i >= 0 {
					rule.X.Unknown = slices.Delete(slices.Clone(rule.X.Unknown), i, i+1)
				}
				key := strings.TrimPrefix(ref.Desc, "! ")
				rule.X.Conds = slices.DeleteFunc(slices.Clone(rule.X.Conds), func(c Cond) bool { return c.Key == key })
			}
			rule.X.Sets = keep
		}
	}
}

// LineError is input a line-oriented reader cannot read: its file, line,
// the field at fault ("--dport", ":FORWARD", "dst-port") and what is
// wrong, written "file:line: field: message".
type LineError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *LineError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}
