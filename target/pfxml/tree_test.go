package pfxml_test

import (
	"testing"

	"github.com/portolan/portolan/target/pfxml"
	"github.com/portolan/portolan/target/targettest"
)

func sameNode(a, b *pfxml.Node) bool {
	if a == nil || b == nil || a.Name != b.Name || a.Text != b.Text || len(a.Children) != len(b.Children) || len(a.Attr) != len(b.Attr) {
		return a == nil && b == nil
	}
	for k, v := range a.Attr {
		if b.Attr[k] != v {
			return false
		}
	}
	for i := range a.Children {
		if !sameNode(a.Children[i], b.Children[i]) {
			return false
		}
	}
	return true
}

// TestTreeIsTheDocument: -o DIR writes aliases.xml, filter.xml and
// nat.xml, each one area with the same content as the single document
// (pfSense's with the area's element as the root, as its area backups;
// OPNsense's under <opnsense>), and each is read by the product's reader.
func TestTreeIsTheDocument(t *testing.T) {
	lab := targettest.LabCatalog(t)
	c := targettest.GatewayCases[2] // starface-all: aliases, rules, forwards, outbound NAT
	in, _ := c.InputOn(t, lab, "lan", "wan")
	for _, p := range products {
		doc, _, err := pfxml.Render(p, in, false)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := pfxml.Parse("doc.xml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		files, _, err := pfxml.Tree(p, in, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 3 {
			t.Fatalf("%s: %d files", p.Name, len(files))
		}
		for _, f := range files {
			root, err := pfxml.Parse(f.Path, f.Data)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Read(f.Path, f.Data); err != nil {
				t.Errorf("%s %s: %v", p.Name, f.Path, err)
			}
			sec := map[string]string{"aliases.xml": "aliases", "filter.xml": "filter", "nat.xml": "nat"}[f.Path]
			var got, want *pfxml.Node
			if p == pfxml.PfSense {
				got, want = root, whole.Child(sec)
				if root.Name != sec {
					t.Errorf("%s %s: root <%s>, want <%s> as pfSense's area backup", p.Name, f.Path, root.Name, sec)
				}
			} else {
				if root.Name != p.Root || len(root.Children) != 1 {
					t.Errorf("%s %s: root <%s> with %d sections", p.Name, f.Path, root.Name, len(root.Children))
					continue
				}
				got, want = root.Children[0], whole.Children[map[string]int{"aliases": 0, "filter": 1, "nat": 2}[sec]]
			}
			if !sameNode(got, want) {
				t.Errorf("%s %s: not the document's %s area", p.Name, f.Path, sec)
			}
		}
	}
}
