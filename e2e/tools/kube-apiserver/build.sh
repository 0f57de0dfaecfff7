#!/usr/bin/env bash
# Builds kube-apiserver from k8s.io/kubernetes into the cache and prints its
# path. A cached binary for the same version is reused: a cold build takes
# about 8 minutes on a 2-core machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -nE 's/^(require)?[[:space:]]*k8s\.io\/kubernetes (v[^ ]+).*/\2/p' "$here/go.mod" | head -n1)
[ -n "$version" ] || { echo "cannot find the k8s.io/kubernetes version in $here/go.mod" >&2; exit 1; }
cache=${VIPKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vipkeeper}
out="$cache/kube-apiserver-$version"
if [ -x "$out" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
cd "$here"
echo "building kube-apiserver $version into $out (cold: ~8 min)" >&2
GOFLAGS=-mod=mod go build -trimpath -ldflags=-s -o "$out.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$out.tmp" "$out"
echo "$out"
