#!/usr/bin/env bash
# register-search-attributes.sh <address> <namespace> [temporal CLI flags...]
#
# Registers trackflow's custom search attributes (workflows.SearchAttributeNames, all Keyword;
# deployments/validate checks the list below against it) on a real Temporal cluster, e.g.
#   deployments/local/register-search-attributes.sh temporal-frontend:7233 trackflow
#   deployments/local/register-search-attributes.sh ns.acct.tmprl.cloud:7233 ns.acct --tls --api-key "$KEY"
# Attributes that already exist are fine. Uses `temporal` from PATH, else .dev/bin/temporal
# (`make temporal` builds it). The dev server that `make run` and `make test` start registers
# them itself at start. (On Temporal Cloud, attributes may also be added in the Cloud UI or tcld.)
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
address=$1 namespace=$2
shift 2

here=$(cd "$(dirname "$0")" && pwd -P)
cli=$(command -v temporal || true)
[ -n "$cli" ] || cli="$here/../../.dev/bin/temporal"
[ -x "$cli" ] || { echo "no temporal CLI: install it or run 'make temporal'" >&2; exit 1; }

for name in OfferId AffiliateId ClickId InvoiceId AttributionMethod ConversionStatus ConversionSummary; do
  if out=$("$cli" operator search-attribute create --address "$address" --namespace "$namespace" \
      --name "$name" --type Keyword "$@" 2>&1); then
    echo "registered $name"
  elif grep -qi 'already' <<<"$out"; then
    echo "$name already registered"
  else
    echo "$out" >&2
    echo "could not register $name" >&2
    exit 1
  fi
done
