#!/usr/bin/env bash
# The whole check, from a fresh clone: install what is missing, type-check, lint, run every test
# (unit, route, end-to-end, Redis, browser, container), then print one line with the counts.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
# setup.sh has installed every tool the tests drive: from here on a missing one is a failure, not a
# skip (test/deploy/helpers.ts toolFor), so that no check can pass here by not running.
export CI=true

status=0
mkdir -p test-output
# Side by side (two cores): each prints what it found only when it fails.
npm run --silent typecheck > test-output/typecheck.log 2>&1 &
typecheck=$!
npm run --silent lint > test-output/lint.log 2>&1 &
lint=$!
wait "$typecheck" || { cat test-output/typecheck.log; echo "check: typecheck failed"; status=1; }
wait "$lint" || { cat test-output/lint.log; echo "check: lint failed"; status=1; }

npx tap --reporter=tap 2>&1 | tee test-output/tap.log
tap_status=${PIPESTATUS[0]}
[ "$tap_status" -eq 0 ] || status=1
# tap's own closing counts, e.g. "# { total: 812, pass: 810, fail: 2, skip: 0 }"
summary=$(grep -E '^# \{ total: [0-9]+' test-output/tap.log | tail -n 1)
passed=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
skipped=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary")
passed=${passed:-0}
failed=${failed:-0}
# tap counts a skipped assertion neither as passed nor as failed: say so, and name them.
if [ "${skipped:-0}" -gt 0 ]; then
  echo "check: ${skipped} skipped (not run, not counted below):"
  grep -E '# SKIP' test-output/tap.log | grep -vE 'no tests found' | sed 's/^ */  /'
fi
if [ -z "$summary" ]; then echo "check: tap printed no summary"; failed=$((failed + 1)); status=1; fi

if [ -f scripts/test-container.sh ]; then
  bash scripts/test-container.sh 2>&1 | tee test-output/container.log
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  container=$(grep -E '^container: [0-9]+ passed, [0-9]+ failed' test-output/container.log | tail -n 1)
  if [ -n "$container" ]; then
    passed=$((passed + $(sed -nE 's/container: ([0-9]+) passed.*/\1/p' <<<"$container")))
    failed=$((failed + $(sed -nE 's/.*passed, ([0-9]+) failed/\1/p' <<<"$container")))
  else
    echo "check: the container test printed no counts"; failed=$((failed + 1)); status=1
  fi
fi

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
exit "$status"
