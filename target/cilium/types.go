package cilium

import "github.com/portolan/portolan/target/k8ssel"

// The types below are the part of the cilium.io/v2 CiliumNetworkPolicy
// CRD that the target writes, written from its documented schema
// (https://docs.cilium.io/en/stable/network/kubernetes/policy/ and
// https://docs.cilium.io/en/stable/security/policy/language/); the tests
// decode every generated document into them with unknown fields
// rejected, and check each field against that documentation.

// APIVersion and Kind of the objects.
const (
	APIVersion = "cilium.io/v2"
	Kind       = "CiliumNetworkPolicy"
)

// Policy is a CiliumNetworkPolicy. Specs holds several rules, each with
// a description of its own.
type Policy struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   k8ssel.ObjectMeta `json:"metadata"`
	Spec       *Rule             `json:"spec,omitempty"`
	Specs      []Rule            `json:"specs,omitempty"`
}

// Rule is one policy rule: the endpoints it applies to, what they may
// receive and send.
type Rule struct {
	EndpointSelector  k8ssel.LabelSelector `json:"endpointSelector"`
	Ingress           []IngressRule        `json:"ingress,omitempty"`
	Egress            []EgressRule         `json:"egress,omitempty"`
	EnableDefaultDeny *DefaultDeny         `json:"enableDefaultDeny,omitempty"`
	Description       string               `json:"description,omitempty"`
}

// DefaultDeny says whether the selected endpoints drop, per direction,
// what no policy allows.
type DefaultDeny struct {
	Ingress *bool `json:"ingress,omitempty"`
	Egress  *bool `json:"egress,omitempty"`
}

// IngressRule allows connections from CIDRs to ports.
type IngressRule struct {
	FromCIDRSet []CIDRRule `json:"fromCIDRSet,omitempty"`
	ToPorts     []PortRule `json:"toPorts,omitempty"`
}

// EgressRule allows connections to CIDRs, endpoints or DNS names, on
// ports. toFQDNs does not combine with another to* field in one rule.
type EgressRule struct {
	ToCIDRSet   []CIDRRule             `json:"toCIDRSet,omitempty"`
	ToEndpoints []k8ssel.LabelSelector `json:"toEndpoints,omitempty"`
	ToFQDNs     []FQDNSelector         `json:"toFQDNs,omitempty"`
	ToPorts     []PortRule             `json:"toPorts,omitempty"`
}

// CIDRRule is a prefix.
type CIDRRule struct {
	Cidr string `json:"cidr"`
}

// FQDNSelector is a DNS name (matchName) or pattern (matchPattern).
type FQDNSelector struct {
	MatchName    string `json:"matchName,omitempty"`
	MatchPattern string `json:"matchPattern,omitempty"`
}

// PortRule is ports with optional L7 rules.
type PortRule struct {
	Ports []PortProtocol `json:"ports,omitempty"`
	Rules *L7Rules       `json:"rules,omitempty"`
}

// PortProtocol is a port or range (port to endPort) of a protocol; port
// "0" is every port.
type PortProtocol struct {
	Port     string `json:"port"`
	EndPort  int32  `json:"endPort,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// L7Rules are the L7 rules the target uses: DNS, for the DNS proxy that
// toFQDNs learns names' addresses from.
type L7Rules struct {
	DNS []FQDNSelector `json:"dns,omitempty"`
}
