#!/usr/bin/env bash
# The one test command (`npm test`): type-check, then pure unit tests, then integration tests against a
# real `partykit dev`. Integration files run one at a time: each starts its own server, and on a
# 2-core machine two servers under load would make timing-sensitive chaos tests flaky.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/partykit ]; then
  echo "tests: dependencies missing; installing with npm ci" >&2
  npm ci --no-audit --no-fund
fi
# The client's other runtimes (Deno, Bun, the newest Node) are npm packages too: installed here when
# missing, so `npm test` alone runs every runtime's conformance test (tests/runtimes/package.json).
if [ ! -d tests/runtimes/node_modules ]; then
  echo "tests: the client's runtimes are missing; installing with npm ci --prefix tests/runtimes" >&2
  npm ci --prefix tests/runtimes --no-audit --no-fund
fi
npx tsc -p .
node --import tsx --test --test-reporter=spec tests/unit/*.test.ts
node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=300000 tests/integration/*.integration.test.ts
# The archive tests once more against a real PostgreSQL 15 server (Debian's package); they assert
# SELECT version(), so a silent fallback to PGlite fails. CI must have it; locally a missing one is named.
if [ -x /usr/lib/postgresql/15/bin/postgres ] || [ "${CI:-}" = "true" ]; then
  npm run -s test:archive:postgres
else
  echo "tests: archive tests against PostgreSQL 15 not run; install it with: apt-get install -y postgresql" >&2
fi
