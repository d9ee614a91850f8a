package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/internal/textsafe"
	"github.com/portolan/portolan/model"
)

// registerSelectCompletions completes --feature, --no-feature and --param
// on every command that has them, from the services named so far on the
// command line (every service while none is, or with "all").
func registerSelectCompletions(root *cobra.Command, g *globals) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, name := range []string{"feature", "no-feature"} {
			if c.LocalFlags().Lookup(name) != nil {
				_ = c.RegisterFlagCompletionFunc(name, g.featureValues)
			}
		}
		if c.LocalFlags().Lookup("param") != nil {
			_ = c.RegisterFlagCompletionFunc("param", g.paramValues)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// selected returns the services args name, or every service.
func (g *globals) selected(args []string) []*model.Service {
	c, err := g.open()
	if err != nil {
		return nil
	}
	if len(args) == 0 || slices.Contains(args, "all") {
		return c.Services()
	}
	var out []*model.Service
	for _, a := range args {
		if s, err := c.Get(a); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// candidates collects completions "value\tdescription", each value once.
type candidates struct {
	seen map[string]bool
	out  []string
}

func (c *candidates) add(value, desc string) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if c.seen[value] {
		return
	}
	c.seen[value] = true
	if desc = textsafe.Comment(desc); desc != "" {
		value += "\t" + desc
	}
	c.out = append(c.out, value)
}

// featureValues offers FEATURE and SERVICE:FEATURE of the selected services.
func (g *globals) featureValues(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var c candidates
	for _, s := range g.selected(args) {
		for _, f := range s.Features {
			desc := f.Description
			if f.Default {
				desc = "(on by default) " + desc
			}
			c.add(f.Name, s.Slug()+": "+desc)
			c.add(s.Slug()+":"+f.Name, desc)
		}
	}
	return c.out, cobra.ShellCompDirectiveNoFileComp
}

// paramValues offers NAME= and SERVICE:NAME= of the selected services' params
// (no space after them: the value follows), and NAME=EXAMPLE once the name
// is typed.
func (g *globals) paramValues(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var c candidates
	typedName, _, typed := strings.Cut(toComplete, "=")
	for _, s := range g.selected(args) {
		for _, p := range s.Params {
			desc := p.Description
			if p.Example != "" {
				desc += " (e.g. " + p.Example + ")"
			}
			for _, name := range []string{p.Name, s.Slug() + ":" + p.Name} {
				switch {
				case !typed:
					c.add(name+"=", desc)
				case typedName == name && p.Example != "":
					c.add(name+"="+p.Example, desc)
				}
			}
		}
	}
	if typed {
		return c.out, cobra.ShellCompDirectiveNoFileComp
	}
	return c.out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}
