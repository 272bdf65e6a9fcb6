#!/usr/bin/env bash
# Print the shared sample data folder (../shared/data beside the repository) when it exists; exit 1 otherwise.
# .ci/run points S2SR_SHARED_DATA at it, so that the shared_data tests run instead of skipping.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
d="$(dirname "$root")/shared/data"
if [ -d "$d" ]; then
  echo "$d"
else
  exit 1
fi
