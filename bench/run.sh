#!/usr/bin/env bash
# Raises the open-file limit (connection scale needs tens of thousands of sockets on both ends; workerd
# and the baselines inherit it), then runs the bench. Root may raise the hard limit; others keep theirs.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec node --import tsx bench/main.ts "$@"
