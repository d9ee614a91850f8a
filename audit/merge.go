package audit

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/portolan/portolan/audit/ipset"
	"github.com/portolan/portolan/audit/ruleset"
)

// Input is one ruleset file.
type Input struct {
	Name string
	Data []byte
}

// FormatIpset is the format of `ipset save` output, which fills in the
// sets iptables rules match.
const FormatIpset = "ipset-save"

// LoadAll reads several rulesets that together describe one firewall and
// merges them: nft JSON, iptables-save and ip6tables-save, and ipset save
// (the sets of -m set matches). Where an iptables-save dump describes a
// table the nft JSON shows too (iptables-nft writes its tables through
// nf_tables, and nft -j prints their extensions without arguments), the
// table is read from the iptables-save dump. format is as for Load; auto
// tells each file's format apart.
func LoadAll(in []Input, format string) (*ruleset.Ruleset, error) {
	if len(in) == 1 && format != FormatIpset && !ipset.Looks(in[0].Data) {
		return Load(in[0].Name, in[0].Data, format)
	}
	var nft, ipt []*ruleset.Ruleset
	var nftNames, iptNames []string
	legacy := map[*ruleset.Ruleset]bool{}
	sets := map[string]*ipset.Set{}
	setFile := map[string]string{}
	for _, f := range in {
		if format == FormatIpset || (format == "" || format == FormatAuto) && ipset.Looks(f.Data) {
			ss, err := ipset.Parse(f.Name, f.Data)
			if err != nil {
				return nil, err
			}
			for n, s := range ss {
				if sets[n] != nil {
					return nil, fmt.Errorf("%s: set %s is in %s too", f.Name, n, setFile[n])
				}
				sets[n], setFile[n] = s, f.Name
			}
			continue
		}
		rs, err := Load(f.Name, f.Data, format)
		if err != nil {
			return nil, err
		}
		if _, platform := ruleset.LookupReader(rs.Format); platform {
			return nil, fmt.Errorf("%s: a %s configuration is audited alone: give it as the only --ruleset", f.Name, rs.Format)
		}
		if rs.Format == ruleset.NftJSON {
			nft, nftNames = append(nft, rs), append(nftNames, f.Name)
		} else {
			ipt, iptNames = append(ipt, rs), append(iptNames, f.Name)
			legacy[rs] = bytes.Contains(f.Data, []byte("(legacy)"))
		}
	}
	if len(nft)+len(ipt) == 0 {
		return nil, fmt.Errorf("--ruleset: only ipset save output; give the rules too (nft -j list ruleset, or iptables-save)")
	}
	out := &ruleset.Ruleset{}
	var formats []string
	if len(nft) > 0 {
		formats = append(formats, string(ruleset.NftJSON))
	}
	if len(ipt) > 0 {
		formats = append(formats, string(ruleset.IptablesSave))
	}
	out.Format = ruleset.Format(strings.Join(formats, "+"))
	tableOf := func(c *ruleset.Chain) string { return c.Family + " " + c.Table }
	// The tables iptables-save describes, and where from.
	fromIpt := map[string]string{}
	for i, rs := range ipt {
		seen := map[string]bool{}
		for _, c := range rs.Chains {
			t := tableOf(c)
			if seen[t] {
				continue
			}
			seen[t] = true
			if prev, dup := fromIpt[t]; dup {
				return nil, fmt.Errorf("%s: table %s is in %s too", iptNames[i], t, prev)
			}
			fromIpt[t] = iptNames[i]
		}
	}
	nftTables := map[string]string{}
	for i, rs := range nft {
		seen := map[string]bool{}
		for _, c := range rs.Chains {
			t := tableOf(c)
			if seen[t] {
				continue
			}
			seen[t] = true
			if prev, dup := nftTables[t]; dup {
				return nil, fmt.Errorf("%s: table %s is in %s too", nftNames[i], t, prev)
			}
			nftTables[t] = nftNames[i]
		}
	}
	replaced := map[string]bool{}
	for _, rs := range ipt {
		for _, c := range rs.Chains {
			t := tableOf(c)
			if _, both := nftTables[t]; both {
				if legacy[rs] {
					// iptables-legacy tables are not nf_tables ones: both
					// run. Keep them apart by name.
					c.Table += " (legacy)"
				} else {
					replaced[t] = true
				}
			}
		}
	}
	for i, rs := range nft {
		for _, c := range rs.Chains {
			t := tableOf(c)
			if replaced[t] {
				continue
			}
			out.Chains = append(out.Chains, c)
		}
		for _, x := range rs.Xt {
			if !replaced[x] {
				out.Xt = append(out.Xt, x)
			}
		}
		out.Notes = append(out.Notes, prefixed(nftNames[i], rs.Notes, len(in) > 1)...)
	}
	for i, rs := range ipt {
		out.Chains = append(out.Chains, rs.Chains...)
		out.Notes = append(out.Notes, prefixed(iptNames[i], rs.Notes, len(in) > 1)...)
	}
	for _, rs := range append(slices.Clone(nft), ipt...) {
		for _, f := range rs.Families {
			if !out.HasFamily(f) {
				out.Families = append(out.Families, f)
			}
		}
	}
	slices.Sort(out.Families)
	if len(replaced) > 0 {
		var ts []string
		for t := range replaced {
			ts = append(ts, t)
		}
		slices.Sort(ts)
		out.Notes = append(out.Notes, "read from iptables-save, not nft JSON: "+strings.Join(ts, ", "))
	}
	if len(sets) > 0 {
		out.Notes = append(out.Notes, fillSets(out, sets)...)
	}
	return out, nil
}

func prefixed(name string, notes []string, many bool) []string {
	if !many {
		return notes
	}
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = name + ": " + n
	}
	return out
}

// fillSets turns the -m set matches of sets it knows into terms.
func fillSets(rs *ruleset.Ruleset, sets map[string]*ipset.Set) []string {
	var notes []string
	noted := map[string]bool{}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if r.X == nil || len(r.X.Sets) == 0 {
				continue
			}
			var keep []ruleset.SetRef
			for _, ref := range r.X.Sets {
				if strings.HasPrefix(ref.Name, ruleset.NamePrefix) {
					keep = append(keep, ref) // a DNS name: ResolveNames binds it
					continue
				}
				s := sets[ref.Name]
				why := ""
				switch {
				case s == nil:
					why = "not in the ipset save output given"
				case s.Why != "":
					why = s.Why + ", which portolan does not follow"
				case len(ref.Fields) != 1:
					why = "matched on several fields"
				}
				if why != "" {
					if !noted[ref.Name] {
						noted[ref.Name] = true
						notes = append(notes, fmt.Sprintf("ipset %s: %s", ref.Name, why))
					}
					keep = append(keep, ref)
					continue
				}
				// The kernel matches a set of the other family against no
				// packet: values of the other family match none.
				vals := s.Addrs
				if s.Family == 6 && c.Family == "ip" || s.Family == 4 && c.Family == "ip6" {
					vals = nil
				}
				r.Terms = append(r.Terms, ruleset.Single(ref.Fields[0], ref.Neg, vals...))
				if i := slices.Index(r.Unknown(), ref.Desc); i >= 0 {
					r.X.Unknown = slices.Delete(slices.Clone(r.X.Unknown), i, i+1)
				}
				key := strings.TrimPrefix(ref.Desc, "! ")
				r.X.Conds = slices.DeleteFunc(slices.Clone(r.X.Conds), func(c ruleset.Cond) bool { return c.Key == key })
			}
			r.X.Sets = keep
		}
	}
	return notes
}

// XtHint is the line that says how to read the tables of iptables-nft
// that nft -j shows without their rules' arguments.
func XtHint(rs *ruleset.Ruleset) string {
	if len(rs.Xt) == 0 {
		return ""
	}
	ts := slices.Sorted(slices.Values(rs.Xt))
	six := false
	for _, t := range ts {
		six = six || strings.HasPrefix(t, "ip6 ")
	}
	save := "iptables-save > iptables.save"
	more := " --ruleset iptables.save"
	if six {
		save += "; ip6tables-save > ip6tables.save"
		more += " --ruleset ip6tables.save"
	}
	return fmt.Sprintf("tables %s hold iptables-nft rules whose matches nft -j does not print: run `%s` and give it beside the JSON (--ruleset ruleset.json%s)",
		strings.Join(ts, ", "), save, more)
}
