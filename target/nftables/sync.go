package nftables

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strings"

	"go4.org/netipx"

	"github.com/portolan/portolan/target"
)

// Runner runs nft with args, stdin as its input, and returns its output.
type Runner func(ctx context.Context, stdin []byte, args ...string) ([]byte, error)

// Exec runs the nft program found in PATH (or /usr/sbin/nft).
func Exec(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	path, err := exec.LookPath("nft")
	if err != nil {
		path = "/usr/sbin/nft"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// ErrNoTable says the ruleset's table is not loaded.
var ErrNoTable = errors.New("table not loaded")

// Loaded reads the sets of the layout's table from the kernel: name to
// elements. It returns ErrNoTable (wrapped) when the table is not there.
func Loaded(ctx context.Context, run Runner, lay Layout) (map[string]*netipx.IPSet, error) {
	out, err := run(ctx, nil, "-j", "list", "tables", lay.Family)
	if err != nil {
		return nil, err
	}
	if !hasTable(out, lay.Family, lay.Table) {
		return nil, fmt.Errorf("table %s %s: %w", lay.Family, lay.Table, ErrNoTable)
	}
	out, err = run(ctx, nil, "-j", "list", "sets", lay.Family)
	if err != nil {
		return nil, err
	}
	return ParseSets(out, lay.Family, lay.Table)
}

func hasTable(data []byte, family, table string) bool {
	var doc struct {
		Nftables []struct {
			Table *struct {
				Family string `json:"family"`
				Name   string `json:"name"`
			} `json:"table"`
		} `json:"nftables"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return false
	}
	for _, o := range doc.Nftables {
		if o.Table != nil && o.Table.Family == family && o.Table.Name == table {
			return true
		}
	}
	return false
}

// ParseSets reads `nft -j list sets` output and returns the address sets
// of one table with their elements. Elements are addresses, prefixes and
// ranges, bare or inside {"elem": {"val": …}}; a set of another type is
// left out.
func ParseSets(data []byte, family, table string) (map[string]*netipx.IPSet, error) {
	var doc struct {
		Nftables []struct {
			Set *struct {
				Family string            `json:"family"`
				Name   string            `json:"name"`
				Table  string            `json:"table"`
				Type   json.RawMessage   `json:"type"`
				Elem   []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("nft -j list sets: %v", err)
	}
	out := map[string]*netipx.IPSet{}
	for _, o := range doc.Nftables {
		s := o.Set
		if s == nil || s.Family != family || s.Table != table {
			continue
		}
		var typ string
		if json.Unmarshal(s.Type, &typ) != nil || (typ != "ipv4_addr" && typ != "ipv6_addr") {
			continue
		}
		var b netipx.IPSetBuilder
		for _, e := range s.Elem {
			if err := addElem(&b, e, 0); err != nil {
				return nil, fmt.Errorf("set %s: %v", s.Name, err)
			}
		}
		set, err := b.IPSet()
		if err != nil {
			return nil, fmt.Errorf("set %s: %v", s.Name, err)
		}
		out[s.Name] = set
	}
	return out, nil
}

func addElem(b *netipx.IPSetBuilder, raw json.RawMessage, depth int) error {
	if depth > 4 {
		return fmt.Errorf("element nested too deep")
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		a, err := netip.ParseAddr(str)
		if err != nil {
			return fmt.Errorf("element %q: %v", str, err)
		}
		b.Add(a)
		return nil
	}
	var obj struct {
		Elem *struct {
			Val json.RawMessage `json:"val"`
		} `json:"elem"`
		Prefix *struct {
			Addr string `json:"addr"`
			Len  int    `json:"len"`
		} `json:"prefix"`
		Range []string `json:"range"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("element %s: %v", raw, err)
	}
	switch {
	case obj.Elem != nil:
		return addElem(b, obj.Elem.Val, depth+1)
	case obj.Prefix != nil:
		a, err := netip.ParseAddr(obj.Prefix.Addr)
		if err != nil {
			return fmt.Errorf("prefix %q: %v", obj.Prefix.Addr, err)
		}
		p, err := a.Prefix(obj.Prefix.Len)
		if err != nil || obj.Prefix.Len < 0 {
			return fmt.Errorf("prefix %s/%d: bad length", obj.Prefix.Addr, obj.Prefix.Len)
		}
		b.AddPrefix(p)
		return nil
	case len(obj.Range) == 2:
		lo, err1 := netip.ParseAddr(obj.Range[0])
		hi, err2 := netip.ParseAddr(obj.Range[1])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("range %v: not addresses", obj.Range)
		}
		r := netipx.IPRangeFrom(lo, hi)
		if !r.IsValid() {
			return fmt.Errorf("range %v: not a range", obj.Range)
		}
		b.AddRange(r)
		return nil
	}
	return fmt.Errorf("element %s: not an address, prefix or range", raw)
}

// Change is what sync does to one set.
type Change struct {
	Set      string
	Names    []string
	Resolved string
	Old, New *netipx.IPSet
	// Kept is why a set was left as it is although it may be stale.
	Kept string
}

// Changed reports whether the set's elements change.
func (c Change) Changed() bool { return c.Kept == "" && !c.Old.Equal(c.New) }

// Added and Removed count the addresses the change adds and removes.
func (c Change) Added() []string   { return diff(c.New, c.Old) }
func (c Change) Removed() []string { return diff(c.Old, c.New) }

func diff(a, b *netipx.IPSet) []string {
	var x netipx.IPSetBuilder
	x.AddSet(a)
	x.RemoveSet(b)
	s, _ := x.IPSet()
	return target.Elements(s)
}

// Plan is what `portolan sync` does: the script to load, and per set
// what changes or why it does not.
type Plan struct {
	Script  string
	Changes []Change
	// Problems are sets sync cannot refresh: a name that no longer
	// resolves, a family the loaded ruleset has no set for.
	Problems []string
}

// Sync plans the refresh of the loaded sets that hold names: each such
// set whose addresses differ from what the names resolve to now is
// flushed and filled again, in one transaction, without touching a rule.
// Literal addresses stay in the set. A set whose names did not all
// resolve keeps its elements (a DNS outage must not empty it), and the
// problem says why each name failed. A family the ruleset does not serve
// (Input.Serves) is left alone, whatever the names resolve to.
func Sync(in *target.Input, loaded map[string]*netipx.IPSet) (*Plan, error) {
	lay, sets, err := Sets(in)
	if err != nil {
		return nil, err
	}
	// Every host set with names, in both families: a name may gain or
	// lose an address family since the rules were written.
	type hs struct{ svc, name string }
	var hss []hs
	seen := map[hs]bool{}
	var names []string
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := sets[n]
		if !s.Dynamic() {
			continue
		}
		k := hs{s.Service, s.HostSet}
		if !seen[k] {
			seen[k] = true
			hss = append(hss, k)
		}
	}
	p := &Plan{}
	var b strings.Builder
	for _, h := range hss {
		for _, fam := range []int{4, 6} {
			if !lay.Takes(fam) {
				continue
			}
			want, err := in.HostSet(h.svc, h.name, fam)
			if err != nil {
				return nil, err
			}
			name := lay.SetName(want)
			old, ok := loaded[name]
			ch := Change{Set: name, Names: want.NameList(), Resolved: want.Resolved(), Old: old, New: want.IPSet()}
			if !ok {
				// A family the ruleset does not serve (--lan of the other
				// family only) never has a set: nothing to refresh or report.
				if len(ch.New.Prefixes()) > 0 && in.Serves(h.svc, h.name, fam) {
					what := strings.Join(ch.Names, ", ") + " now resolve to"
					if len(ch.Names) == 0 {
						what = "its feed now gives"
					}
					p.Problems = append(p.Problems, fmt.Sprintf("%s is not loaded, but %s IPv%d addresses (%s): run portolan rules again and load it", name, what, fam, strings.Join(target.Elements(ch.New), ", ")))
				}
				continue
			}
			if want.Feed != nil && want.Feed.Err != "" {
				// A list that cannot be had now must not empty the set.
				ch.Kept = "its feed gave no address now (" + want.Feed.Err + "); the set keeps what it has"
				p.Problems = append(p.Problems, name+": "+ch.Kept)
				p.Changes = append(p.Changes, ch)
				continue
			}
			if un := in.Unresolved(want); len(un) > 0 {
				var why []string
				for _, n := range un {
					if w := in.WhyUnresolved(n); w != "" {
						n += " (" + w + ")"
					}
					why = append(why, n)
				}
				ch.Kept = "no address for " + strings.Join(why, ", ") + " now; the set keeps what it has"
				p.Problems = append(p.Problems, name+": "+ch.Kept)
				p.Changes = append(p.Changes, ch)
				continue
			}
			p.Changes = append(p.Changes, ch)
			if !ch.Changed() {
				continue
			}
			fmt.Fprintf(&b, "flush set %s %s %s\n", lay.Family, lay.Table, name)
			if els := ElementList(want); len(els) > 0 {
				fmt.Fprintf(&b, "add element %s %s %s { %s }\n", lay.Family, lay.Table, name, strings.Join(els, ", "))
			}
		}
	}
	p.Script = b.String()
	return p, nil
}
