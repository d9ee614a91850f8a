package windows_test

// seedCase is one seed service in host mode on the lab catalog
// (documentation addresses), and what the Windows script opens for it,
// in plain values: "FLOW ipvN DIRECTION PROTO lport PORTS rport PORTS
// local ADDRS remote ADDRS", one line per flow and family.
type seedCase struct {
	service string
	params  []string // nil: the profile's examples
	pins    string
	opens   []string
}

var seedCases = []seedCase{
	{service: "starleaf", params: []string{"company=acme"}, pins: "203.0.113.20 acme.call.sl\n2001:db8:3::20 acme.call.sl\n203.0.113.30 config.starleaf.com\n", opens: []string{
		"starleaf/config-https ipv4 Outbound TCP lport any rport 443 local any remote 203.0.113.30/32",
		"starleaf/tunnel-https ipv4 Outbound TCP lport any rport 443 local any remote 203.0.113.20/32",
		"starleaf/tunnel-https ipv6 Outbound TCP lport any rport 443 local any remote 2001:db8:3::20/128",
		"starleaf/tunnel-udp ipv4 Outbound UDP lport any rport 24704 local any remote 203.0.113.20/32",
		"starleaf/tunnel-udp ipv6 Outbound UDP lport any rport 24704 local any remote 2001:db8:3::20/128",
	}},
	{service: "starface", opens: []string{
		"starface/dns-tcp ipv4 Outbound TCP lport any rport 53 local any remote any",
		"starface/dns-udp ipv4 Outbound UDP lport any rport 53 local any remote any",
		"starface/ntp ipv4 Outbound UDP lport any rport 123 local any remote any",
		"starface/provisioning-http ipv4 Inbound TCP lport 50080 rport any local any remote 192.0.2.0/24",
		"starface/provisioning-https ipv4 Inbound TCP lport 50081 rport any local any remote 192.0.2.0/24",
		"starface/rtp-in ipv4 Inbound UDP lport 10000-20000 rport any local any remote 192.0.2.0/24",
		"starface/rtp-out ipv4 Outbound UDP lport any rport 1025-65535 local any remote any",
		"starface/sip-phones-tcp ipv4 Inbound TCP lport 5060 rport any local any remote 192.0.2.0/24",
		"starface/sip-phones-udp ipv4 Inbound UDP lport 5060 rport any local any remote 192.0.2.0/24",
		"starface/sip-provider-tcp ipv4 Outbound TCP lport any rport 5060 local any remote 198.51.100.0/24",
		"starface/sip-provider-udp ipv4 Outbound UDP lport any rport 5060 local any remote 198.51.100.0/24",
		"starface/sip-tls-clients ipv4 Inbound TCP lport 5061 rport any local any remote 192.0.2.0/24",
		"starface/sip-tls-provider ipv4 Outbound TCP lport any rport 5061 local any remote 198.51.100.0/24",
		"starface/ucc-addressbook-http ipv4 Inbound TCP lport 80 rport any local any remote 192.0.2.0/24",
		"starface/ucc-https ipv4 Inbound TCP lport 443 rport any local any remote 192.0.2.0/24",
		"starface/web-http ipv4 Inbound TCP lport 80 rport any local any remote 192.0.2.0/24",
		"starface/web-https ipv4 Inbound TCP lport 443 rport any local any remote 192.0.2.0/24",
		"starface/xmpp ipv4 Inbound TCP lport 5222 rport any local any remote 192.0.2.0/24",
	}},
	{service: "starface", params: []string{"pbx_address=2001:db8:1::10", "sip_provider=2001:db8:2::/64"}, opens: []string{
		"starface/dns-tcp ipv6 Outbound TCP lport any rport 53 local any remote any",
		"starface/dns-udp ipv6 Outbound UDP lport any rport 53 local any remote any",
		"starface/ntp ipv6 Outbound UDP lport any rport 123 local any remote any",
		"starface/provisioning-http ipv6 Inbound TCP lport 50080 rport any local any remote 2001:db8:1::/64",
		"starface/provisioning-https ipv6 Inbound TCP lport 50081 rport any local any remote 2001:db8:1::/64",
		"starface/rtp-in ipv6 Inbound UDP lport 10000-20000 rport any local any remote 2001:db8:1::/64",
		"starface/rtp-out ipv6 Outbound UDP lport any rport 1025-65535 local any remote any",
		"starface/sip-phones-tcp ipv6 Inbound TCP lport 5060 rport any local any remote 2001:db8:1::/64",
		"starface/sip-phones-udp ipv6 Inbound UDP lport 5060 rport any local any remote 2001:db8:1::/64",
		"starface/sip-provider-tcp ipv6 Outbound TCP lport any rport 5060 local any remote 2001:db8:2::/64",
		"starface/sip-provider-udp ipv6 Outbound UDP lport any rport 5060 local any remote 2001:db8:2::/64",
		"starface/sip-tls-clients ipv6 Inbound TCP lport 5061 rport any local any remote 2001:db8:1::/64",
		"starface/sip-tls-provider ipv6 Outbound TCP lport any rport 5061 local any remote 2001:db8:2::/64",
		"starface/ucc-addressbook-http ipv6 Inbound TCP lport 80 rport any local any remote 2001:db8:1::/64",
		"starface/ucc-https ipv6 Inbound TCP lport 443 rport any local any remote 2001:db8:1::/64",
		"starface/web-http ipv6 Inbound TCP lport 80 rport any local any remote 2001:db8:1::/64",
		"starface/web-https ipv6 Inbound TCP lport 443 rport any local any remote 2001:db8:1::/64",
		"starface/xmpp ipv6 Inbound TCP lport 5222 rport any local any remote 2001:db8:1::/64",
	}},
	{service: "tw-solutions", opens: []string{
		"tw-solutions/http ipv4 Outbound TCP lport any rport 80 local any remote any",
		"tw-solutions/http ipv6 Outbound TCP lport any rport 80 local any remote any",
		"tw-solutions/https ipv4 Outbound TCP lport any rport 443 local any remote any",
		"tw-solutions/https ipv6 Outbound TCP lport any rport 443 local any remote any",
		"tw-solutions/ntp ipv4 Outbound UDP lport any rport 123 local any remote any",
		"tw-solutions/ntp ipv6 Outbound UDP lport any rport 123 local any remote any",
		"tw-solutions/remote-support-https ipv4 Outbound TCP lport any rport 443 local any remote any",
		"tw-solutions/remote-support-https ipv6 Outbound TCP lport any rport 443 local any remote any",
		"tw-solutions/remote-support-tcp ipv4 Outbound TCP lport any rport 5938 local any remote any",
		"tw-solutions/remote-support-tcp ipv6 Outbound TCP lport any rport 5938 local any remote any",
		"tw-solutions/remote-support-udp ipv4 Outbound UDP lport any rport 5938 local any remote any",
		"tw-solutions/remote-support-udp ipv6 Outbound UDP lport any rport 5938 local any remote any",
		"tw-solutions/rtp ipv4 Outbound UDP lport any rport 10000-60000 local any remote any",
		"tw-solutions/rtp ipv6 Outbound UDP lport any rport 10000-60000 local any remote any",
		"tw-solutions/sip ipv4 Outbound UDP lport any rport 5060-5080 local any remote 198.51.100.64/26,198.51.100.128/26,203.0.113.5/32,203.0.113.6/32,203.0.113.32/27,203.0.113.64/26,203.0.113.128/27",
	}},
	{service: "pexip", opens: []string{
		"pexip/web-app ipv4 Outbound TCP lport any rport 443 local any remote 198.51.100.0/24,203.0.113.0/24",
	}},
	{service: "onsight", opens: []string{
		"onsight/apple-push ipv4 Outbound TCP lport any rport 443,2197,5223 local any remote 198.51.100.128/26",
		"onsight/firebase-push ipv4 Outbound TCP lport any rport 443,5228-5230 local any remote any",
		"onsight/firebase-push ipv6 Outbound TCP lport any rport 443,5228-5230 local any remote any",
		"onsight/https ipv4 Outbound TCP lport any rport 443 local any remote 203.0.113.16/28,203.0.113.32/27,203.0.113.64/27,203.0.113.96/28",
		"onsight/media ipv4 Outbound UDP lport any rport 15000-65000 local any remote 203.0.113.16/28,203.0.113.32/27,203.0.113.64/27,203.0.113.96/28",
		"onsight/sip ipv4 Outbound TCP lport any rport 5060 local any remote 203.0.113.16/28,203.0.113.32/27,203.0.113.64/27,203.0.113.96/28",
		"onsight/sip-tls ipv4 Outbound TCP lport any rport 5061 local any remote 203.0.113.16/28,203.0.113.32/27,203.0.113.64/27,203.0.113.96/28",
		"onsight/stun ipv4 Outbound UDP lport any rport 3478 local any remote 203.0.113.16/28,203.0.113.32/27,203.0.113.64/27,203.0.113.96/28",
	}},
}
