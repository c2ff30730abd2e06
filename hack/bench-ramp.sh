#!/usr/bin/env bash
# bench-ramp: how fast PROFILE's setup ramps to Ready, and how fast a warm
# start from a snapshot of it is, as medians over RUNS (default 3).
#
#   hack/bench-ramp.sh PROFILE [RUNS]
#
# Each ramp is a full `churn snapshot save` (fresh control plane, fake nodes,
# workload, every pod Ready, then saved); each warm start is a
# `churn snapshot verify-start` of the first snapshot (restore, control plane
# up, every node and pod Ready, stop). The snapshots are deleted at the end.
#
# Environment: CHURN (default bin/churn), BIN_DIR (default bin).
set -euo pipefail

profile=${1:?usage: hack/bench-ramp.sh PROFILE [RUNS]}
runs=${2:-3}
churn=${CHURN:-bin/churn}
bin_dir=${BIN_DIR:-bin}
case $runs in '' | *[!0-9]* | 0) echo "RUNS must be a positive integer, got '$runs'" >&2; exit 1 ;; esac

names=()
cleanup() {
	for n in "${names[@]}"; do
		"$churn" snapshot delete "$n" >/dev/null || echo "could not delete snapshot $n" >&2
	done
}
trap cleanup EXIT

# median prints the median of its arguments.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

show() { "$churn" snapshot show "$1" --format "$2"; }

pods_per_s=() ramp_s=() setup_s=() warm_s=()
for i in $(seq 1 "$runs"); do
	name="bench-ramp-$$-$i"
	echo "== ramp $i/$runs: churn snapshot save $name --profile $profile"
	"$churn" snapshot save "$name" --profile "$profile" --bin-dir "$bin_dir"
	names+=("$name")
	pods_per_s+=("$(show "$name" '{{.SetupSummary.PodsPerSec}}')")
	ramp_s+=("$(show "$name" '{{.SetupSummary.RampSeconds}}')")
	setup_s+=("$(show "$name" '{{.SetupSeconds}}')")
	if [ "$i" -gt 1 ]; then
		# Only the first snapshot is warm-started; a 50k-pods one is a GB.
		"$churn" snapshot delete "$name" >/dev/null
		unset 'names[-1]'
	fi
done
size=$(show "${names[0]}" '{{.Sizes.TotalBytes}}')

for i in $(seq 1 "$runs"); do
	echo "== warm start $i/$runs: churn snapshot verify-start ${names[0]}"
	warm_s+=("$("$churn" snapshot verify-start "${names[0]}" --bin-dir "$bin_dir" --format '{{.Seconds}}')")
done

echo
# each prints its arguments with one decimal.
each() { printf '%.1f ' "$@"; }

echo "profile $profile, $runs runs each; per run: ramp $(each "${pods_per_s[@]}")pods/s, setup $(each "${setup_s[@]}")s, warm start $(each "${warm_s[@]}")s"
echo "medians:"
printf '  ramp        %8.1f pods/s  (%.0f s from the first deployment to every pod Ready)\n' "$(median "${pods_per_s[@]}")" "$(median "${ramp_s[@]}")"
printf '  setup       %8.0f s       (control plane start to every node and pod Ready)\n' "$(median "${setup_s[@]}")"
printf '  warm start  %8.1f s       (restore %d MiB, control plane up, every node and pod Ready)\n' "$(median "${warm_s[@]}")" "$((size / 1048576))"
