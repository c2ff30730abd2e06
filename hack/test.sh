#!/usr/bin/env bash
# Runs every test (unit and integration) and prints a summary the CI log
# ends with. Exit status is go test's. Every checked-in fuzz seed and
# crasher (testdata/fuzz) runs here as a plain test; TEST_FUZZTIME (e.g.
# 5s) also fuzzes each target that long afterwards. That is not the default:
# the instrumented build alone takes minutes on a cold cache.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go vet ./... || exit 1
go test -count=1 -timeout 60m -v "$@" ./... 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
pass=$(grep -c '^\s*--- PASS' "$out")
fail=$(grep -c '^\s*--- FAIL' "$out")
skip=$(grep -c '^\s*--- SKIP' "$out")
echo
echo "==== test summary ===="
grep -E '^(ok|FAIL|---|\?)\s' "$out" | grep -vE '^\s*--- (PASS|SKIP)' | grep -E '^(ok|FAIL)' || true
echo "tests: ${pass} passed, ${fail} failed, ${skip} skipped"
if [ "$fail" -gt 0 ]; then
	echo "failed tests:"
	grep -E '^\s*--- FAIL' "$out"
fi
if [ -n "${TEST_FUZZTIME:-}" ]; then
	FUZZTIME=$TEST_FUZZTIME ./hack/fuzz.sh || status=1
fi
exit "$status"
