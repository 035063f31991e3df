#!/usr/bin/env bash
# Copies the Graph emulator's CA (written at its start with --ca-out) into the ConfigMap the
# services mount, then restarts them so they read it. Dev overlay only. Run again after the
# emulator pod restarts: it makes a new CA each start.
set -euo pipefail
ns="${NAMESPACE:-onboarding}"
kubectl -n "$ns" rollout status deployment/graph-emulator --timeout=120s
pem="$(kubectl -n "$ns" exec deployment/graph-emulator -- cat /var/lib/onboarding/ca/emulator-ca.pem)"
kubectl -n "$ns" create configmap graph-emulator-ca --from-literal=emulator-ca.pem="$pem" \
  --dry-run=client -o yaml | kubectl -n "$ns" apply -f -
kubectl -n "$ns" rollout restart deployment/new-hire deployment/device-purchased deployment/device-shipped
