#!/usr/bin/env bash
# Builds the upstream Kubernetes test binaries floatip's e2e tests run against:
# kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy (from k8s.io/kubernetes),
# etcd (the version Kubernetes itself pins) and kwok. Go is used for this only.
#
# Output: a versioned directory under the user's cache dir, printed on stdout's last line.
# A second run is a no-op. FLOATIP_K8S_BIN (or a complete KUBEBUILDER_ASSETS) is used as-is.
# FLOATIP_K8S_VERSION / FLOATIP_KWOK_VERSION pick other releases (each gets its own directory).
# --check: only say whether everything is there (exit 0 and the directory) or not (exit 3).
# kubectl (an extra argument, after --check if any): also build kubectl from the same release,
# into the same directory, for the test that runs the quickstart's commands; the other tests
# do not need it, so it is not built unless asked for.
set -euo pipefail
check_only=false
[ "${1:-}" = "--check" ] && { check_only=true; shift; }
extra=()
[ "${1:-}" = "kubectl" ] && extra=(kubectl)

K8S_VERSION="${FLOATIP_K8S_VERSION:-v1.37.2}"
KWOK_VERSION="${FLOATIP_KWOK_VERSION:-v0.7.0}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd kwok "${extra[@]}")

log() { echo "build-binaries: $*" >&2; }

have_all() {
  local dir=$1
  for b in "${BINARIES[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

# FLOATIP_K8S_BIN is an explicit choice: it must be complete. KUBEBUILDER_ASSETS is often set
# for controller-runtime's envtest, which ships only etcd and kube-apiserver: use it when it
# has everything, otherwise fall back to our own cache.
if [ -n "${FLOATIP_K8S_BIN:-}" ]; then
  if have_all "$FLOATIP_K8S_BIN"; then log "using FLOATIP_K8S_BIN=$FLOATIP_K8S_BIN"; echo "$FLOATIP_K8S_BIN"; exit 0; fi
  log "FLOATIP_K8S_BIN=$FLOATIP_K8S_BIN lacks one of: ${BINARIES[*]}"; exit 1
fi
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if have_all "$KUBEBUILDER_ASSETS"; then log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"; echo "$KUBEBUILDER_ASSETS"; exit 0; fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of ${BINARIES[*]}; using floatip's own build"
fi

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/floatip"
out="$cache_root/k8s-${K8S_VERSION}-kwok-${KWOK_VERSION}"
if have_all "$out"; then log "cached in $out"; echo "$out"; exit 0; fi
if $check_only; then log "not built yet (expected in $out)"; exit 3; fi

command -v go >/dev/null || { log "Go is needed to build the Kubernetes test binaries (go not on PATH)"; exit 1; }
mkdir -p "$out"
# Two test runs starting cold at once must not build twice: the second waits, then finds
# everything cached.
if command -v flock >/dev/null; then
  exec 9>"$out/.lock"
  flock 9
  if have_all "$out"; then log "cached in $out"; echo "$out"; exit 0; fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Module resolution is chatty; keep its output and show it only when a step fails.
quiet() { "$@" >>"$work/go.log" 2>&1 || { log "failed: $*"; tail -n 40 "$work/go.log" >&2; exit 1; }; }
export GOFLAGS="-mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0

# A throwaway module that requires k8s.io/kubernetes. Its go.mod replaces the k8s.io/*
# staging modules with ./staging paths that do not exist outside its repo, so every such
# replace is re-pointed at the published staging module of the matching v0.x version.
cd "$work"
quiet go mod init floatip.local/k8s-binaries
k8s_mod=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
staging_version="v0.${K8S_VERSION#v1.}"
replaces=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$k8s_mod")
{
  echo "require k8s.io/kubernetes ${K8S_VERSION}"
  echo "replace ("
  for m in $replaces; do echo "  $m => $m $staging_version"; done
  echo ")"
} >> go.mod
cat > tools.go <<GO
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
[ ${#extra[@]} -gt 0 ] && sed -i 's#^)$#\t_ "k8s.io/kubernetes/cmd/kubectl"\n)#' tools.go
log "resolving modules for Kubernetes ${K8S_VERSION} (staging ${staging_version})"
# -e: tools.go imports etcd's main package, which tidy reports but still records.
go mod tidy -e >>"$work/go.log" 2>&1 || true
# etcd: whatever version Kubernetes pins (added explicitly in case tidy dropped it).
etcd_version=$(sed -n 's#^\s*go.etcd.io/etcd/server/v3 \(v[^ ]*\).*#\1#p' "$k8s_mod" | head -1)
quiet go get "go.etcd.io/etcd/server/v3@${etcd_version}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
for b in kube-apiserver kube-controller-manager kube-scheduler kube-proxy "${extra[@]}"; do
  [ -x "$out/$b" ] && continue
  log "building $b (several minutes on 2 cores)"
  go build -trimpath -ldflags "$ldflags" -o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b"
  mv "$out/$b.tmp" "$out/$b"
done
if [ ! -x "$out/etcd" ]; then
  log "building etcd ${etcd_version}"
  go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/etcd.tmp" "$out/etcd"
fi
if [ ! -x "$out/kwok" ]; then
  log "building kwok ${KWOK_VERSION}"
  GOBIN="$work/bin" quiet go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  mv "$work/bin/kwok" "$out/kwok"
fi
have_all "$out" || { log "build finished but binaries are missing in $out"; exit 1; }
log "done: $out"
echo "$out"
