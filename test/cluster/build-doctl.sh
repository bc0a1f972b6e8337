#!/usr/bin/env bash
# Builds doctl, DigitalOcean's CLI, for the test that runs the quickstart's commands: the
# quickstart reads reserved IPs and firewalls with doctl, and the test points it at the
# DigitalOcean emulator (doctl --api-url). A Go module, built from source like helm, into a
# versioned directory under the user's cache dir; the binary's path is stdout's last line.
# A second run is a no-op. FLOATIP_DOCTL (a doctl binary) is used as-is.
# --check: only say whether doctl is there (exit 0 and its path) or not (exit 3).
set -euo pipefail
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

DOCTL_VERSION="${FLOATIP_DOCTL_VERSION:-v1.141.0}"

log() { echo "build-doctl: $*" >&2; }

if [ -n "${FLOATIP_DOCTL:-}" ]; then
  if [ -x "$FLOATIP_DOCTL" ]; then log "using FLOATIP_DOCTL=$FLOATIP_DOCTL"; echo "$FLOATIP_DOCTL"; exit 0; fi
  log "FLOATIP_DOCTL=$FLOATIP_DOCTL is not an executable file"; exit 1
fi

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/floatip"
out="$cache_root/doctl-${DOCTL_VERSION}"
if [ -x "$out/doctl" ]; then log "cached in $out"; echo "$out/doctl"; exit 0; fi
if $check_only; then log "not built yet (expected in $out)"; exit 3; fi

command -v go >/dev/null || { log "Go is needed to build doctl (go not on PATH)"; exit 1; }
mkdir -p "$out"
# Two runs starting cold at once must not build twice: the second waits, then finds it cached.
if command -v flock >/dev/null; then
  exec 9>"$out/.lock"
  flock 9
  if [ -x "$out/doctl" ]; then log "cached in $out"; echo "$out/doctl"; exit 0; fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS="-mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0
log "building doctl ${DOCTL_VERSION} (a few minutes on 2 cores)"
# doctl stamps its version from ldflags in its own release builds; `doctl version` is not used here
(cd "$work" && GOBIN="$work/bin" go install -trimpath -ldflags "-s -w" "github.com/digitalocean/doctl/cmd/doctl@${DOCTL_VERSION}" >>"$work/go.log" 2>&1) ||
  { log "failed to build github.com/digitalocean/doctl/cmd/doctl@${DOCTL_VERSION}"; tail -n 40 "$work/go.log" >&2; exit 1; }
mv "$work/bin/doctl" "$out/doctl"
log "done: $out/doctl"
echo "$out/doctl"
