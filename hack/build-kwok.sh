#!/usr/bin/env bash
# Build kwok, pinned in deploy/controlplane/go.mod, with churn's patches
# from deploy/controlplane/patches/kwok (see the README there):
#
#   hack/build-kwok.sh OUT BUILD_DIR
#
# The pinned module is copied out of the module cache into
# BUILD_DIR/kwok-<version>-patched, the patches are applied there, and kwok
# is built from deploy/controlplane with a copy of its go.mod that replaces
# sigs.k8s.io/kwok with that directory (go build -overlay refuses files in
# the module cache). Nothing but the Go module proxy is needed. The binary
# reports <version>-<PATCH_TAG>, so results and snapshots tell it from
# upstream's.
#
# Environment: GO (default go); KWOK_VERSION (default: read from go.mod).
set -euo pipefail

# PATCH_TAG is the semver pre-release kwok reports (v0.8.0-churn.2). Bump it
# whenever the patches change, so a binary built from other patches never
# claims the same version.
PATCH_TAG=churn.2

usage="usage: hack/build-kwok.sh OUT BUILD_DIR"
out=${1:?$usage}
build=${2:?$usage}
GO=${GO:-go}

die() {
	echo "build-kwok: $*" >&2
	exit 1
}

root=$(cd "$(dirname "$0")/.." && pwd)
cp_dir=$root/deploy/controlplane
patch_dir=$cp_dir/patches/kwok

version=${KWOK_VERSION:-$(awk '$1=="sigs.k8s.io/kwok"{print $2} $1=="require" && $2=="sigs.k8s.io/kwok"{print $3}' "$cp_dir/go.mod")}
if [[ ! $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	die "kwok version '$version' from $cp_dir/go.mod is not a release vX.Y.Z"
fi
command -v patch >/dev/null || die "patch(1) is needed to apply $patch_dir/*.patch"
shopt -s nullglob
patches=("$patch_dir"/*.patch)
((${#patches[@]} > 0)) || die "no patches in $patch_dir: build upstream kwok with go build instead"

mkdir -p "$build"
build=$(cd "$build" && pwd)
case $out in /*) ;; *) out=$PWD/$out ;; esac
# One build at a time per BUILD_DIR: the patched copy is rebuilt in place
# (a stable path keeps Go's build cache warm).
if command -v flock >/dev/null; then
	exec 9>"$build/kwok.lock"
	flock 9
fi

# -json prints the module's directory in the cache, downloading it first.
modinfo=$(cd "$cp_dir" && GOWORK=off "$GO" mod download -json "sigs.k8s.io/kwok@$version") ||
	die "go mod download sigs.k8s.io/kwok@$version failed: $modinfo"
src=$(awk -F'"' '$2=="Dir"{print $4}' <<<"$modinfo")
[[ -n $src && -f $src/go.mod ]] || die "sigs.k8s.io/kwok@$version: no module directory in: $modinfo"

# A fresh copy every time: a half-patched tree from an earlier failure
# must never be built.
dir=$build/kwok-$version-patched
rm -rf "$dir"
cp -R "$src" "$dir"
chmod -R u+w "$dir"
for p in "${patches[@]}"; do
	# --fuzz=0: a patch whose context moved must be looked at, not applied
	# somewhere near. --dry-run first so one that no longer applies leaves
	# no partial change behind and says so plainly.
	if ! msg=$(patch -p1 --forward --batch --fuzz=0 --dry-run -d "$dir" <"$p" 2>&1); then
		die "$(basename "$p") no longer applies to sigs.k8s.io/kwok@$version:
$msg
Update it against the new release (or drop it if upstream fixed the bug), and bump PATCH_TAG in $0."
	fi
	patch -p1 --forward --batch --fuzz=0 --silent --no-backup-if-mismatch -d "$dir" <"$p" ||
		die "applying $(basename "$p") to $dir failed"
	echo "build-kwok: applied $(basename "$p")"
done

# -modfile wants NAME.mod with NAME.sum beside it.
modfile=$build/kwok-build.mod
cp "$cp_dir/go.mod" "$modfile"
cp "$cp_dir/go.sum" "${modfile%.mod}.sum"
"$GO" mod edit -replace "sigs.k8s.io/kwok=$dir" "$modfile"

ldflags="-X sigs.k8s.io/kwok/pkg/consts.Version=${version#v} -X sigs.k8s.io/kwok/pkg/consts.PreRelease=$PATCH_TAG"
# Built beside OUT and renamed over it, so a kwok running from OUT (a
# local cluster) neither blocks the build nor sees a half-written file.
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
(cd "$cp_dir" && GOWORK=off "$GO" build -modfile="$modfile" -ldflags "$ldflags" -o "$tmp" sigs.k8s.io/kwok/cmd/kwok) ||
	die "go build of patched kwok $version failed"
mv -f "$tmp" "$out"
echo "build-kwok: $out is kwok $version-$PATCH_TAG"
