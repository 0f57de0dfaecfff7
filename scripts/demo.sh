#!/usr/bin/env bash
# make demo: a three-node vipkeeper lab on a real kube-apiserver, with a live
# view of who holds the VIP and who answers the client while the leader is
# stopped (SIGTERM) and the next one crashes (SIGKILL + unplugged).
#
# Needs root (network namespaces) and Go (the version in go.mod). Installs
# etcd-server, iproute2, iptables and procps with apt-get if they are
# missing, and builds kube-apiserver once into ~/.cache/vipkeeper (~8 min
# the first time). Everything it starts is stopped and every namespace
# removed on exit, Ctrl-C included. Documentation addresses only
# (192.0.2.0/24, 2001:db8::/32); nothing leaves the machine.
set -euo pipefail

die() { echo "make demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root to create network namespaces; run: sudo make demo"
[ "$(uname -s)" = Linux ] || die "needs Linux (network namespaces)"

root=$(cd "$(dirname "$0")/.." && pwd)
want_go=$(sed -nE 's/^go ([0-9.]+).*/\1/p' "$root/go.mod")
command -v go >/dev/null 2>&1 || die "Go $want_go or newer is needed (https://go.dev/dl/); under sudo, pass PATH: sudo env PATH=\"\$PATH\" make demo"

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v sysctl >/dev/null 2>&1 || missing+=(procps)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "install these first (no apt-get here): ${missing[*]}"
  echo "==> installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "==> kube-apiserver (built once, then cached)"
apiserver=$("$root/e2e/tools/kube-apiserver/build.sh")

work=$(mktemp -d /tmp/vipkeeper-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "==> building vipkeeper and the lab"
(cd "$root" && go build -o "$work/vipkeeper" ./cmd/vipkeeper)
(cd "$root/e2e" && go test -c -o "$work/lab.test" .)

# The lab tears itself down on SIGINT/SIGTERM (and its children die with it);
# this shell only waits for it, then removes the build directory.
cd "$root/e2e"
VIPKEEPER_DEMO=1 VIPKEEPER_BIN="$work/vipkeeper" KUBE_APISERVER_BIN="$apiserver" \
  "$work/lab.test" -test.run '^TestDemo$' -test.count 1 -test.timeout 10m
