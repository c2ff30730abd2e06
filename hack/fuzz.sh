#!/usr/bin/env bash
# Runs every Go fuzz target in the module, one after another, each for
# FUZZTIME (default 45s: with today's 13 targets about 10 minutes, plus
# the instrumented builds, several minutes the first time), with
# FUZZ_PARALLEL workers (default 1; the machine is small). Prints, per
# target, its package, name and the execution count go test reported.
# That count is what the fuzz worker handed back to go test; on a busy
# machine a worker that finds no new coverage may hand back nothing until
# it is stopped, so a target can show a few dozen execs after running
# thousands (compare with -fuzztime 5000x, which counts exactly).
# FUZZ_PKGS limits the packages (default: every package with a func Fuzz
# in a _test.go file). A crasher is written by go
# test to the package's testdata/fuzz/<target>/ and fails the run; it then
# runs as a regression seed in every plain `go test`.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-45s}
FUZZ_PARALLEL=${FUZZ_PARALLEL:-1}
if [ -z "${FUZZ_PKGS:-}" ]; then
	FUZZ_PKGS=$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | sed 's|^\./|./|')
fi

summary=()
status=0
# go test -list prints the matching names of each package, then "ok <pkg>".
while read -r pkg; do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for target in $targets; do
		echo "==== $pkg $target (${FUZZTIME})"
		out=$(go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZ_PARALLEL" 2>&1)
		rc=$?
		echo "$out" | tail -n 4
		execs=$(echo "$out" | grep -o 'execs: [0-9]*' | tail -n 1 | cut -d' ' -f2)
		result=ok
		if [ "$rc" -ne 0 ]; then
			result=FAIL
			status=1
			echo "$out" | grep -E 'Failing input|To re-run|go test -run' || true
		fi
		summary+=("$(printf '%-4s %-45s %-22s execs %s' "$result" "${pkg#github.com/churn-dev/churn/}" "$target" "${execs:-?}")")
	done
done < <(go list $FUZZ_PKGS)

echo
echo "==== fuzz summary (FUZZTIME=${FUZZTIME} each, ${FUZZ_PARALLEL} worker(s))"
printf '%s\n' "${summary[@]}"
exit "$status"
