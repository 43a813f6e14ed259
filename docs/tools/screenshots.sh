#!/usr/bin/env bash
# Screenshots of the Dagster UI for the README, taken the way a user sees it: headless Chromium (Debian's
# `chromium` package) against a running `make demo` on 127.0.0.1:${PORT:-3000}.
#   docs/tools/screenshots.sh            # writes docs/img/*.png
set -euo pipefail
PORT=${PORT:-3000}
OUT=${OUT:-docs/img}
BASE="http://127.0.0.1:${PORT}"
shot() {  # name url [width height]
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$(mktemp -d)" \
    --window-size="${3:-1600},${4:-1000}" --virtual-time-budget=25000 --screenshot="${OUT}/$1.png" "$2" \
    2>/dev/null
  echo "${OUT}/$1.png  <- $2"
}
shot asset-graph "${BASE}/asset-groups" 1800 1100
shot flow-contacts "${BASE}/locations/crm_membercare.definitions/asset-groups/contacts_persons" 1600 900
shot link-table-checks "${BASE}/assets/links/contacts_persons_links?view=checks" 1600 1000
shot link-table-columns "${BASE}/assets/links/contacts_persons_links" 1600 1400
shot column-lineage "${BASE}/assets/links/contacts_persons_links?view=lineage&column=email" 1800 1000
shot rejects "${BASE}/assets/operations/sync_rejects" 1600 2200
shot conflicts "${BASE}/assets/operations/sync_conflicts" 1600 2200
