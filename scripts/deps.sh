#!/usr/bin/env bash
# Installs what portolan's tests need and is missing: the kernel's own tools
# (nft, iptables, conntrack, ip, ipset), the real peers (coturn, squid with
# ssl-bump, htpasswd, sipp, nmap), jq and unshare for the README's test, and
# firewalld and ufw, the referees of their targets.
# Debian/Ubuntu, as root; a no-op when everything is there.
set -euo pipefail

# command → Debian package
declare -A need=(
  [nft]=nftables
  [iptables-restore]=iptables
  [conntrack]=conntrack
  [ip]=iproute2
  [turnserver]=coturn
  [squid]=squid-openssl
  [htpasswd]=apache2-utils
  [sipp]=sip-tester
  [nmap]=nmap
  [ipset]=ipset
  [jq]=jq            # the README's pipelines (TestREADME)
  [unshare]=util-linux # TestREADME's network namespace
  [firewall-offline-cmd]=firewalld # the firewalld target's referee
  [ufw]=ufw          # the ufw target's referee
  [chromium]=chromium # the web interface's browser test (portolan serve)
  [promtool]=prometheus # the exporter's referee (promtool check/test rules, a real Prometheus)
  [pdftotext]=poppler-utils # extract's PDF input
)

missing=()
for cmd in "${!need[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/sbin/$cmd" ]; then
    missing+=("${need[$cmd]}")
  fi
done
# squid must be the ssl-bump flavour: it ships security_file_certgen.
if command -v squid >/dev/null 2>&1 || [ -x /usr/sbin/squid ]; then
  [ -x /usr/lib/squid/security_file_certgen ] || missing+=(squid-openssl)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: everything is installed"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: need root to install ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Installed services never run by themselves here; tests start their own.
echo "deps: installed ${missing[*]}"
