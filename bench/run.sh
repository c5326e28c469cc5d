#!/usr/bin/env bash
# Raises the open-file limit as far as this machine allows (connection scale needs one descriptor per
# socket on both ends; workerd and the baselines inherit it), then runs the bench. Without the right to
# raise the hard limit (containers), the soft limit goes up to the hard one and the connection scenario
# caps itself below it (bench/scenarios/connections.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -Hn 1048576 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
exec node --import tsx bench/main.ts "$@"
