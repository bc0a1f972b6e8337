#!/usr/bin/env bash
# Builds the helm CLI that lints, renders and schema-checks floatip's chart (deploy/helm/floatip).
# helm is a Go module, so it is built from source like the Kubernetes test binaries, into a
# versioned directory under the user's cache dir; the binary's path is stdout's last line.
# A second run is a no-op. FLOATIP_HELM (a helm binary) is used as-is; FLOATIP_HELM_VERSION
# picks another v3 release (it gets its own directory).
# --check: only say whether helm is there (exit 0 and its path) or not (exit 3).
set -euo pipefail
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

HELM_VERSION="${FLOATIP_HELM_VERSION:-v3.22.0}"

log() { echo "build-helm: $*" >&2; }

if [ -n "${FLOATIP_HELM:-}" ]; then
  if [ -x "$FLOATIP_HELM" ]; then log "using FLOATIP_HELM=$FLOATIP_HELM"; echo "$FLOATIP_HELM"; exit 0; fi
  log "FLOATIP_HELM=$FLOATIP_HELM is not an executable file"; exit 1
fi

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/floatip"
out="$cache_root/helm-${HELM_VERSION}"
if [ -x "$out/helm" ]; then log "cached in $out"; echo "$out/helm"; exit 0; fi
if $check_only; then log "not built yet (expected in $out)"; exit 3; fi

command -v go >/dev/null || { log "Go is needed to build helm (go not on PATH)"; exit 1; }
mkdir -p "$out"
# Two runs starting cold at once must not build twice: the second waits, then finds it cached.
if command -v flock >/dev/null; then
  exec 9>"$out/.lock"
  flock 9
  if [ -x "$out/helm" ]; then log "cached in $out"; echo "$out/helm"; exit 0; fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
quiet() { "$@" >>"$work/go.log" 2>&1 || { log "failed: $*"; tail -n 40 "$work/go.log" >&2; exit 1; }; }
export GOFLAGS="-mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0

# helm's Makefile stamps its version and the Kubernetes version it assumes without a cluster
# (.Capabilities.KubeVersion in `helm template`, and the one `helm lint` checks APIs against):
# one minor above the client-go it is built with. Without the stamp helm assumes v1.20, and a
# chart that needs ValidatingAdmissionPolicy (v1.30+) would not render.
log "resolving helm.sh/helm/v3@${HELM_VERSION}"
mod_json=$(cd "$work" && go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" 2>>"$work/go.log") ||
  { log "failed to download helm.sh/helm/v3@${HELM_VERSION}"; tail -n 20 "$work/go.log" >&2; exit 1; }
go_mod=$(echo "$mod_json" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
client_go=$(sed -n 's#^\s*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$go_mod" | head -1)
[ -n "$client_go" ] || { log "could not read the client-go version from helm's go.mod"; exit 1; }
k8s_minor=$((client_go + 1))
pkg=helm.sh/helm/v3
ldflags="-s -w -X $pkg/internal/version.version=${HELM_VERSION} -X $pkg/internal/version.gitTreeState=clean"
ldflags+=" -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=${k8s_minor}"
ldflags+=" -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=${k8s_minor}"
log "building helm ${HELM_VERSION} (Kubernetes 1.${k8s_minor} assumed offline; a few minutes on 2 cores)"
(cd "$work" && GOBIN="$work/bin" quiet go install -trimpath -ldflags "$ldflags" "$pkg/cmd/helm@${HELM_VERSION}")
mv "$work/bin/helm" "$out/helm"
log "done: $out/helm"
echo "$out/helm"
