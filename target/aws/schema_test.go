package aws_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/portolan/portolan/target/aws"
)

// The types below are written from the documentation of the hashicorp/aws
// provider (docs below) and of the Terraform language: every argument the
// documentation lists, no more. Decoding with gohcl rejects any other
// argument ("Unsupported argument"), so an argument the provider does not
// know fails the tests. The in-line ingress and egress blocks of
// aws_security_group are left out on purpose: the provider's documentation
// warns against mixing them with the rule resources.

// file is a Terraform file's top level as the generator writes it.
type file struct {
	Variables []variable `hcl:"variable,block"`
	Resources []resource `hcl:"resource,block"`
	Outputs   []output   `hcl:"output,block"`
}

type variable struct {
	Name        string         `hcl:"name,label"`
	Type        hcl.Expression `hcl:"type,optional"`
	Description *string        `hcl:"description,optional"`
	Default     hcl.Expression `hcl:"default,optional"`
	Sensitive   *bool          `hcl:"sensitive,optional"`
	Nullable    *bool          `hcl:"nullable,optional"`
}

type output struct {
	Name        string         `hcl:"name,label"`
	Value       hcl.Expression `hcl:"value"`
	Description *string        `hcl:"description,optional"`
	Sensitive   *bool          `hcl:"sensitive,optional"`
}

type resource struct {
	Type string   `hcl:"type,label"`
	Name string   `hcl:"name,label"`
	Body hcl.Body `hcl:",remain"`
}

// securityGroup is aws_security_group's arguments.
type securityGroup struct {
	Description         *string           `hcl:"description,optional"`
	Name                *string           `hcl:"name,optional"`
	NamePrefix          *string           `hcl:"name_prefix,optional"`
	Region              *string           `hcl:"region,optional"`
	RevokeRulesOnDelete *bool             `hcl:"revoke_rules_on_delete,optional"`
	Tags                map[string]string `hcl:"tags,optional"`
	VPCID               hcl.Expression    `hcl:"vpc_id,optional"`
}

// sgRule is the arguments of aws_vpc_security_group_ingress_rule and
// aws_vpc_security_group_egress_rule (the same list).
type sgRule struct {
	CIDRIPv4                  *string           `hcl:"cidr_ipv4,optional"`
	CIDRIPv6                  *string           `hcl:"cidr_ipv6,optional"`
	Description               *string           `hcl:"description,optional"`
	FromPort                  *int              `hcl:"from_port,optional"`
	IPProtocol                string            `hcl:"ip_protocol"`
	PrefixListID              *string           `hcl:"prefix_list_id,optional"`
	ReferencedSecurityGroupID hcl.Expression    `hcl:"referenced_security_group_id,optional"`
	Region                    *string           `hcl:"region,optional"`
	SecurityGroupID           hcl.Expression    `hcl:"security_group_id"`
	Tags                      map[string]string `hcl:"tags,optional"`
	ToPort                    *int              `hcl:"to_port,optional"`
}

const (
	docSG      = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/security_group"
	docIngress = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/vpc_security_group_ingress_rule"
	docEgress  = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/vpc_security_group_egress_rule"
	docVar     = "https://developer.hashicorp.com/terraform/language/values/variables"
	docOutput  = "https://developer.hashicorp.com/terraform/language/values/outputs"
	docIPRange = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html"
	docCreate  = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
	docQuotas  = "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups"
)

// documented is every block type and argument the generator writes, with
// its documented form and where it is documented. TestDocumentedArguments
// checks that the outputs use no other and that each is a field of the
// decoding types above.
var documented = []struct {
	block, arg, form, doc string
}{
	{"variable", "type", "type constraint: string", docVar},
	{"variable", "description", "string", docVar},
	{"output", "value", "expression: list of the groups' id attributes", docOutput},
	{"output", "description", "string", docOutput},
	{"aws_security_group", "name", "string, up to 255 characters of a-zA-Z0-9 and ._-:/()#,@[]+=&;{}!$* and space, not starting sg- (" + docCreate + ")", docSG},
	{"aws_security_group", "description", "string, up to 255 characters, same characters as name; no update API, changing it replaces the group", docSG},
	{"aws_security_group", "vpc_id", "string: var.vpc_id or --vpc-id (vpc-…)", docSG},
	{"aws_security_group", "tags", "map of string", docSG},
	{"aws_vpc_security_group_ingress_rule", "security_group_id", "string: aws_security_group.NAME.id", docIngress},
	{"aws_vpc_security_group_ingress_rule", "ip_protocol", `"tcp" or "udp" (never "-1")`, docIngress},
	{"aws_vpc_security_group_ingress_rule", "from_port", "number 0-65535, start of the port range", docIngress},
	{"aws_vpc_security_group_ingress_rule", "to_port", "number 0-65535, end of the port range", docIngress},
	{"aws_vpc_security_group_ingress_rule", "cidr_ipv4", "string, IPv4 CIDR, the source", docIngress},
	{"aws_vpc_security_group_ingress_rule", "cidr_ipv6", "string, IPv6 CIDR, the source", docIngress},
	{"aws_vpc_security_group_ingress_rule", "description", "string, up to 255 characters of a-zA-Z0-9, space and ._-:/()#,@[]+=;{}!$* (" + docIPRange + ")", docIngress},
	{"aws_vpc_security_group_egress_rule", "security_group_id", "string: aws_security_group.NAME.id", docEgress},
	{"aws_vpc_security_group_egress_rule", "ip_protocol", `"tcp" or "udp" (never "-1")`, docEgress},
	{"aws_vpc_security_group_egress_rule", "from_port", "number 0-65535, start of the port range", docEgress},
	{"aws_vpc_security_group_egress_rule", "to_port", "number 0-65535, end of the port range", docEgress},
	{"aws_vpc_security_group_egress_rule", "cidr_ipv4", "string, IPv4 CIDR, the destination", docEgress},
	{"aws_vpc_security_group_egress_rule", "cidr_ipv6", "string, IPv6 CIDR, the destination", docEgress},
	{"aws_vpc_security_group_egress_rule", "description", "string, as the ingress rule's", docEgress},
}

// typeOf is the decoding type of each block type.
var typeOf = map[string]any{
	"variable":                            variable{},
	"output":                              output{},
	"aws_security_group":                  securityGroup{},
	"aws_vpc_security_group_ingress_rule": sgRule{},
	"aws_vpc_security_group_egress_rule":  sgRule{},
}

// opened is one rule as the decoded file says it: direction, protocol,
// ports and prefix.
type opened struct {
	Egress   bool
	Proto    string
	From, To uint16
	CIDR     netip.Prefix
}

func (o opened) String() string {
	dir := "in"
	if o.Egress {
		dir = "out"
	}
	ports := fmt.Sprint(o.From)
	if o.To != o.From {
		ports += "-" + fmt.Sprint(o.To)
	}
	return fmt.Sprintf("%s %s %s %s", dir, o.Proto, ports, o.CIDR)
}

// decoded is what decode reads back.
type decoded struct {
	Groups []string // labels of the security groups
	Rules  []opened
	// PerGroup counts rules by group label and dimension ("in4", "out6").
	PerGroup map[string]map[string]int
	// Args lists "block.arg" of every argument written.
	Args map[string]bool
	// Descriptions are the rules' descriptions.
	Descriptions []string
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// decode parses src as HCL native syntax and decodes every block strictly
// into the documented types; it also checks the documented limits and
// forms, and returns the rules as they would be created.
func decode(src []byte) (*decoded, error) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, "portolan.tf")
	if diags.HasErrors() {
		return nil, diags
	}
	var top file
	if diags := gohcl.DecodeBody(f.Body, nil, &top); diags.HasErrors() {
		return nil, diags
	}
	out := &decoded{PerGroup: map[string]map[string]int{}, Args: map[string]bool{}}
	body := f.Body.(*hclsyntax.Body)
	for _, blk := range body.Blocks {
		typ := blk.Type
		if typ == "resource" {
			typ = blk.Labels[0]
		}
		for name := range blk.Body.Attributes {
			out.Args[typ+"."+name] = true
		}
	}
	seen := map[string]bool{}
	for _, v := range top.Variables {
		if !identRE.MatchString(v.Name) {
			return nil, fmt.Errorf("variable %q: not an identifier", v.Name)
		}
	}
	for _, r := range top.Resources {
		if !identRE.MatchString(r.Name) {
			return nil, fmt.Errorf("%s %q: not an identifier", r.Type, r.Name)
		}
		if seen[r.Type+"."+r.Name] {
			return nil, fmt.Errorf("%s.%s: declared twice", r.Type, r.Name)
		}
		seen[r.Type+"."+r.Name] = true
		switch r.Type {
		case "aws_security_group":
			var sg securityGroup
			if diags := gohcl.DecodeBody(r.Body, nil, &sg); diags.HasErrors() {
				return nil, diags
			}
			if sg.Name == nil || sg.Description == nil {
				return nil, fmt.Errorf("%s.%s: no name or description", r.Type, r.Name)
			}
			for _, s := range []string{*sg.Name, *sg.Description} {
				if err := checkDescription(s); err != nil {
					return nil, fmt.Errorf("%s.%s: %v", r.Type, r.Name, err)
				}
			}
			if strings.HasPrefix(*sg.Name, "sg-") {
				return nil, fmt.Errorf("%s.%s: name starts with sg-", r.Type, r.Name)
			}
			if err := checkVPC(sg.VPCID); err != nil {
				return nil, fmt.Errorf("%s.%s: vpc_id: %v", r.Type, r.Name, err)
			}
			out.Groups = append(out.Groups, r.Name)
		case "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule":
			var sr sgRule
			if diags := gohcl.DecodeBody(r.Body, nil, &sr); diags.HasErrors() {
				return nil, diags
			}
			o, group, err := readRule(r.Type == "aws_vpc_security_group_egress_rule", &sr)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %v", r.Type, r.Name, err)
			}
			if !seen["aws_security_group."+group] {
				return nil, fmt.Errorf("%s.%s: security group %s is not declared before", r.Type, r.Name, group)
			}
			out.Rules = append(out.Rules, o)
			if out.PerGroup[group] == nil {
				out.PerGroup[group] = map[string]int{}
			}
			dim := "in"
			if o.Egress {
				dim = "out"
			}
			if o.CIDR.Addr().Is4() {
				dim += "4"
			} else {
				dim += "6"
			}
			out.PerGroup[group][dim]++
			out.Descriptions = append(out.Descriptions, *sr.Description)
		default:
			return nil, fmt.Errorf("resource type %s: not one the generator writes", r.Type)
		}
	}
	for _, o := range top.Outputs {
		if _, diags := o.Value.Value(nil); !diags.HasErrors() {
			return nil, fmt.Errorf("output %s: a constant, not the groups' ids", o.Name)
		}
	}
	return out, nil
}

func readRule(egress bool, sr *sgRule) (opened, string, error) {
	o := opened{Egress: egress, Proto: sr.IPProtocol}
	if sr.IPProtocol != "tcp" && sr.IPProtocol != "udp" {
		return o, "", fmt.Errorf("ip_protocol %q: not tcp or udp", sr.IPProtocol)
	}
	if sr.FromPort == nil || sr.ToPort == nil {
		return o, "", fmt.Errorf("from_port and to_port are required for %s", sr.IPProtocol)
	}
	from, to := *sr.FromPort, *sr.ToPort
	if from < 0 || to > 65535 || from > to {
		return o, "", fmt.Errorf("ports %d-%d: not a range in 0-65535", from, to)
	}
	o.From, o.To = uint16(from), uint16(to)
	switch {
	case sr.CIDRIPv4 != nil && sr.CIDRIPv6 == nil:
		p, err := netip.ParsePrefix(*sr.CIDRIPv4)
		if err != nil || !p.Addr().Is4() || p != p.Masked() {
			return o, "", fmt.Errorf("cidr_ipv4 %q: not a masked IPv4 CIDR", *sr.CIDRIPv4)
		}
		o.CIDR = p
	case sr.CIDRIPv6 != nil && sr.CIDRIPv4 == nil:
		p, err := netip.ParsePrefix(*sr.CIDRIPv6)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p != p.Masked() {
			return o, "", fmt.Errorf("cidr_ipv6 %q: not a masked IPv6 CIDR", *sr.CIDRIPv6)
		}
		o.CIDR = p
	default:
		return o, "", fmt.Errorf("exactly one of cidr_ipv4 and cidr_ipv6 must be set")
	}
	if sr.PrefixListID != nil || isSet(sr.ReferencedSecurityGroupID) {
		return o, "", fmt.Errorf("a CIDR rule has no prefix list or referenced group")
	}
	if sr.Description == nil {
		return o, "", fmt.Errorf("no description")
	}
	if err := checkDescription(*sr.Description); err != nil {
		return o, "", err
	}
	tr, diags := hcl.AbsTraversalForExpr(sr.SecurityGroupID)
	if diags.HasErrors() || len(tr) != 3 || tr.RootName() != "aws_security_group" {
		return o, "", fmt.Errorf("security_group_id: not aws_security_group.NAME.id")
	}
	name, ok1 := tr[1].(hcl.TraverseAttr)
	id, ok2 := tr[2].(hcl.TraverseAttr)
	if !ok1 || !ok2 || id.Name != "id" {
		return o, "", fmt.Errorf("security_group_id: not aws_security_group.NAME.id")
	}
	return o, name.Name, nil
}

// isSet reports whether an optional expression was given: gohcl fills an
// absent one with a null literal.
func isSet(e hcl.Expression) bool {
	v, diags := e.Value(nil)
	return diags.HasErrors() || !v.IsNull()
}

func checkVPC(e hcl.Expression) error {
	if tr, diags := hcl.AbsTraversalForExpr(e); !diags.HasErrors() {
		if len(tr) == 2 && tr.RootName() == "var" {
			if a, ok := tr[1].(hcl.TraverseAttr); ok && a.Name == "vpc_id" {
				return nil
			}
		}
		return fmt.Errorf("a reference other than var.vpc_id")
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || v.IsNull() || !strings.HasPrefix(v.AsString(), "vpc-") {
		return fmt.Errorf("not var.vpc_id or a vpc- id")
	}
	return nil
}

func checkDescription(s string) error {
	if s == "" || len(s) > aws.DescriptionMax {
		return fmt.Errorf("description of %d bytes: 1 to %d", len(s), aws.DescriptionMax)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(" ._-:/()#,@[]+=;{}!$*", c)) {
			return fmt.Errorf("description %q: character %q is not documented", s, c)
		}
	}
	return nil
}

// TestDocumentedArguments checks the table against the decoding types:
// every argument of the table is a field of its block's type, and the
// types hold no argument the table's documentation pages do not list
// (hcl tags checked against a copy of each page's argument list).
func TestDocumentedArguments(t *testing.T) {
	// The argument reference of each page, as the documentation lists it.
	pages := map[string][]string{
		"variable":                            {"default", "description", "nullable", "sensitive", "type"},
		"output":                              {"description", "sensitive", "value"},
		"aws_security_group":                  {"description", "name", "name_prefix", "region", "revoke_rules_on_delete", "tags", "vpc_id"},
		"aws_vpc_security_group_ingress_rule": {"cidr_ipv4", "cidr_ipv6", "description", "from_port", "ip_protocol", "prefix_list_id", "referenced_security_group_id", "region", "security_group_id", "tags", "to_port"},
		"aws_vpc_security_group_egress_rule":  {"cidr_ipv4", "cidr_ipv6", "description", "from_port", "ip_protocol", "prefix_list_id", "referenced_security_group_id", "region", "security_group_id", "tags", "to_port"},
	}
	for block, typ := range typeOf {
		var args []string
		rt := reflect.TypeOf(typ)
		for i := range rt.NumField() {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("hcl"), ",")
			kind := strings.TrimPrefix(rt.Field(i).Tag.Get("hcl"), tag)
			if tag == "" || strings.Contains(kind, "label") {
				continue
			}
			args = append(args, tag)
		}
		slices.Sort(args)
		if !slices.Equal(args, pages[block]) {
			t.Errorf("%s: decoding type has %v, documentation lists %v", block, args, pages[block])
		}
	}
	for _, d := range documented {
		if !slices.Contains(pages[d.block], d.arg) {
			t.Errorf("%s.%s: in the table but not in the documentation's list", d.block, d.arg)
		}
		if !strings.HasPrefix(d.doc, "https://") || d.form == "" {
			t.Errorf("%s.%s: no form or documentation address", d.block, d.arg)
		}
	}
}

// parseAttr parses src and returns the expression of its attribute "a".
func parseAttr(src string) (hcl.Expression, error) {
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "t.tf")
	if diags.HasErrors() {
		return nil, diags
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		return nil, diags
	}
	a, ok := attrs["a"]
	if !ok {
		return nil, fmt.Errorf("no attribute a")
	}
	return a.Expr, nil
}
