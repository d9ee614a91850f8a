package extract

import (
	"fmt"
	"strings"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
)

// Merge joins the profiles drafted from several documents of one vendor
// into one: the first document's service, every source naming its own
// document, names made unique. The result is validated as a profile.
func Merge(svcs []*model.Service) (*model.Service, []byte, error) {
	if len(svcs) == 0 {
		return nil, nil, fmt.Errorf("nothing to merge")
	}
	out := &model.Service{Info: svcs[0].Info}
	var langs []string
	for _, s := range svcs {
		langs = appendNew(langs, s.Info.Language)
	}
	if len(langs) > 1 {
		// every text has English; not every one has each document's language
		out.Info.Language = "en"
		out.Notes = append(out.Notes, model.Note{Text: "The documents are in several languages (" + strings.Join(langs, ", ") + "): the profile's language is English; each text keeps its document's words beside the English."})
	}
	used := map[string]map[string]bool{"host": {}, "flow": {}, "param": {}, "role": {}}
	for _, s := range svcs {
		doc := s.Info.Document
		ren := map[string]string{}
		name := func(kind, n string, shared bool) string {
			if shared && used[kind][n] {
				return n // one role or param of one meaning: keep the first
			}
			m := uniqueName(n, used[kind])
			if kind == "host" || kind == "flow" {
				ren[kind+":"+n] = m
			}
			return m
		}
		src := func(p *model.Source) {
			if p != nil && len(svcs) > 1 {
				p.Document = doc
			}
		}
		for _, p := range s.Params {
			if used["param"][p.Name] {
				continue
			}
			p.Name = name("param", p.Name, true)
			src(p.Source)
			out.Params = append(out.Params, p)
		}
		for _, r := range s.Roles {
			if used["role"][r.Name] {
				continue
			}
			r.Name = name("role", r.Name, true)
			out.Roles = append(out.Roles, r)
		}
		for _, h := range s.Hosts {
			h.Name = name("host", h.Name, false)
			src(h.Source)
			out.Hosts = append(out.Hosts, h)
		}
		for _, f := range s.Flows {
			f.ID = name("flow", f.ID, false)
			rem := make([]string, len(f.Remote))
			for i, r := range f.Remote {
				rem[i] = ren["host:"+r]
			}
			f.Remote = rem
			src(&f.Source)
			out.Flows = append(out.Flows, f)
		}
		for _, c := range s.Constraints {
			c.ID = uniqueName(c.ID, used["flow"])
			hs := make([]string, len(c.Hosts))
			for i, h := range c.Hosts {
				hs[i] = ren["host:"+h]
			}
			c.Hosts = hs
			src(&c.Source)
			out.Constraints = append(out.Constraints, c)
		}
		for _, n := range s.Notes {
			about := make([]string, 0, len(n.About))
			for _, a := range n.About {
				if m, ok := ren["flow:"+a]; ok {
					a = m
				} else if m, ok := ren["host:"+a]; ok {
					a = m
				}
				about = append(about, a)
			}
			if len(svcs) > 1 {
				n.Text = doc + ": " + n.Text
			}
			n.About = about
			out.Notes = append(out.Notes, n)
		}
	}
	data, err := Marshal(out)
	if err != nil {
		return nil, nil, err
	}
	if _, err := catalog.Load(out.Info.Slug+".yaml", data); err != nil {
		return nil, nil, fmt.Errorf("internal error: the merged profile does not validate: %v", err)
	}
	return out, data, nil
}
