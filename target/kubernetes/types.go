package kubernetes

import "github.com/portolan/portolan/target/k8ssel"

// The types below are the part of networking.k8s.io/v1 NetworkPolicy the
// target writes, with the API's JSON names
// (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/).
// They stand in for k8s.io/api's, which would add 9 MB of the API
// machinery to the binary; the tests decode every generated document
// strictly (unknown fields rejected) into k8s.io/api's NetworkPolicy.

// NetworkPolicy is one policy.
type NetworkPolicy struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   k8ssel.ObjectMeta `json:"metadata"`
	Spec       Spec              `json:"spec"`
}

// Spec selects the pods and says what they may receive and send.
type Spec struct {
	PodSelector k8ssel.LabelSelector `json:"podSelector"`
	PolicyTypes []string             `json:"policyTypes"`
	Ingress     []IngressRule        `json:"ingress,omitempty"`
	Egress      []EgressRule         `json:"egress,omitempty"`
}

// IngressRule allows connections from peers to ports.
type IngressRule struct {
	Ports []Port `json:"ports,omitempty"`
	From  []Peer `json:"from,omitempty"`
}

// EgressRule allows connections to peers on ports.
type EgressRule struct {
	Ports []Port `json:"ports,omitempty"`
	To    []Peer `json:"to,omitempty"`
}

// Peer is an address block, or pods of namespaces.
type Peer struct {
	PodSelector       *k8ssel.LabelSelector `json:"podSelector,omitempty"`
	NamespaceSelector *k8ssel.LabelSelector `json:"namespaceSelector,omitempty"`
	IPBlock           *IPBlock              `json:"ipBlock,omitempty"`
}

// IPBlock is a CIDR.
type IPBlock struct {
	CIDR string `json:"cidr"`
}

// Port is a port, or a range from Port to EndPort, of a protocol; no
// port is every port of the protocol.
type Port struct {
	Protocol string `json:"protocol,omitempty"`
	Port     *int32 `json:"port,omitempty"`
	EndPort  *int32 `json:"endPort,omitempty"`
}
