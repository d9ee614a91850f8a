package pfxml

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/target"
)

// Target writes one product's config.xml sections (target.Target).
type Target struct{ P Product }

// Name is the product's name: "pfsense", "opnsense".
func (t *Target) Name() string { return t.P.Name }

// Synopsis describes the output.
func (t *Target) Synopsis() string {
	return t.P.Title + " config.xml sections (aliases with host names, filter rules, port forwards with their linked rules) to restore by area in Backup & Restore"
}

// Resolves is --resolve-names: by default the product resolves the host
// names of its aliases itself.
func (t *Target) Resolves() bool { return target.ResolveNames }

// Flags adds the shared --resolve-names.
func (t *Target) Flags(fs *pflag.FlagSet) { target.ResolveNamesFlag(fs) }

// CheckSite refuses host mode before any name is resolved.
func (t *Target) CheckSite(site policy.Site, opt target.Options) error {
	if opt.ChainOnly {
		return fmt.Errorf("--chain-only writes chains for an nftables table; --target %s writes its configuration areas whole", t.P.Name)
	}
	return CheckSite(t.P, site)
}

// Write writes the document.
func (t *Target) Write(w io.Writer, in *target.Input) (target.Result, error) {
	s, res, err := Render(t.P, in, target.ResolveNames)
	if err != nil {
		return res, err
	}
	_, err = io.WriteString(w, s)
	return res, err
}

// WriteTree returns one file per restore area (-o DIR).
func (t *Target) WriteTree(in *target.Input) ([]target.File, target.Result, error) {
	return Tree(t.P, in, target.ResolveNames)
}

// Reader is the product's ruleset.Reader: a config.xml (root <pfsense>
// or <opnsense>); pfSense's also takes one section of it (root <filter>,
// <nat> or <aliases>, as its area backup writes them).
func Reader(p Product, sections bool) ruleset.Reader {
	looks := p.Looks
	if sections {
		looks = func(data []byte) bool { return p.Looks(data) || LooksSection(data) }
	}
	desc := "a " + p.Title + " config.xml (Diagnostics > Backup & Restore)"
	if sections {
		desc += ", or one area of it (<filter>, <nat>, <aliases>)"
	}
	return ruleset.Reader{Format: ruleset.Format(p.Name), Describe: desc, Looks: looks, Parse: p.Read}
}
