# 2026-11-20 10:11:12 by RouterOS 7.16.1
# software id = PTLN-0001
#
# model = RB5009UG+S+
# serial number = HEX000000001
#
# A small office router, written for portolan's tests from the syntax of
# MikroTik's documentation (not copied from any router):
#   https://help.mikrotik.com/docs/display/ROS/Default+configurations
#   https://help.mikrotik.com/docs/display/ROS/Filter
#   https://help.mikrotik.com/docs/display/ROS/NAT
#   https://help.mikrotik.com/docs/display/ROS/Address-lists
#   https://help.mikrotik.com/docs/display/ROS/Configuration+Management
# The default configuration's firewall, with its IPsec accepts disabled,
# an office policy in a chain of its own, and two port forwards to the PBX.
/interface bridge
add admin-mac=02:00:00:00:00:01 auto-mac=no comment=defconf name=bridge
/interface list
add comment=defconf name=WAN
add comment=defconf name=LAN
/interface bridge port
add bridge=bridge comment=defconf interface=ether2
add bridge=bridge comment=defconf interface=ether3
/interface list member
add comment=defconf interface=bridge list=LAN
add comment=defconf interface=ether1 list=WAN
/ip address
add address=192.0.2.1/24 comment=defconf interface=bridge network=192.0.2.0
/ip dns
set allow-remote-requests=yes
/ip firewall address-list
add address=198.51.100.0/24 list=sip-provider
add address=203.0.113.10-203.0.113.12 list=sip-provider
add address=sip.example.com comment="the provider's \"SBC\" by name" list=\
    sip-provider
add address=192.0.2.0/24 list=office
/ip firewall filter
add action=accept chain=input comment=\
    "defconf: accept established,related,untracked" connection-state=\
    established,related,untracked
add action=drop chain=input comment="defconf: drop invalid" connection-state=\
    invalid
add action=accept chain=input comment="defconf: accept ICMP" protocol=icmp
add action=accept chain=input comment=\
    "defconf: accept to local loopback (for CAPsMAN)" dst-address=127.0.0.1
add action=drop chain=input comment="defconf: drop all not coming from LAN" \
    in-interface-list=!LAN
add action=accept chain=forward comment="defconf: accept in ipsec policy" \
    disabled=yes ipsec-policy=in,ipsec
add action=accept chain=forward comment="defconf: accept out ipsec policy" \
    disabled=yes ipsec-policy=out,ipsec
add action=fasttrack-connection chain=forward comment="defconf: fasttrack" \
    connection-state=established,related hw-offload=yes
add action=accept chain=forward comment=\
    "defconf: accept established,related, untracked" connection-state=\
    established,related,untracked
add action=drop chain=forward comment="defconf: drop invalid" \
    connection-state=invalid
add action=drop chain=forward comment=\
    "defconf: drop all from WAN not DSTNATed" connection-nat-state=!dstnat \
    connection-state=new in-interface-list=WAN
add action=jump chain=forward comment="office: outbound policy" \
    in-interface-list=LAN jump-target=lan-out src-address-list=office
add action=accept chain=forward comment="ntp for the LAN" dst-port=123 \
    protocol=udp
add action=accept chain=lan-out comment="sip to the provider" \
    dst-address-list=sip-provider dst-port=5060 protocol=udp
add action=accept chain=lan-out comment="stun by layer7" dst-port=3478 \
    layer7-protocol=stun protocol=udp
add action=drop chain=lan-out comment="no smtp" dst-port=25 protocol=tcp
add action=accept chain=lan-out comment="smtp relay" dst-address=\
    198.51.100.25 dst-port=25 protocol=tcp
add action=accept chain=lan-out comment=web dst-port=80,443 protocol=tcp
add action=drop chain=lan-out comment="rest of the office"
/ip firewall nat
add action=masquerade chain=srcnat comment="defconf: masquerade" \
    ipsec-policy=out,none out-interface-list=WAN
add action=dst-nat chain=dstnat comment="pbx: sip from the provider" \
    dst-port=5060 in-interface-list=WAN protocol=udp src-address-list=\
    sip-provider to-addresses=192.0.2.10
add action=dst-nat chain=dstnat comment="pbx: rtp" dst-port=10000-20000 \
    in-interface-list=WAN protocol=udp to-addresses=192.0.2.10
/ip firewall service-port
set sip disabled=yes
/ipv6 firewall address-list
add address=::/128 comment="defconf: unspecified address" list=bad_ipv6
add address=2001:db8::/32 comment="defconf: documentation" disabled=yes list=\
    bad_ipv6
/ipv6 firewall filter
add action=accept chain=forward comment=\
    "defconf: accept established,related,untracked" connection-state=\
    established,related,untracked
add action=drop chain=forward comment="defconf: drop invalid" \
    connection-state=invalid
add action=drop chain=forward comment=\
    "defconf: drop packets with bad src ipv6" src-address-list=bad_ipv6
add action=accept chain=forward comment="defconf: accept ICMPv6" protocol=\
    icmpv6
add action=drop chain=forward comment=\
    "defconf: drop everything else not coming from LAN" in-interface-list=\
    !LAN
