#!/usr/bin/env bash
# Builds the Debian package (debian/) with Debian's own tools, from a copy of
# the tree in build/deb/, so that dpkg-buildpackage's outputs (written beside
# the source folder) stay in build/deb/ too. Prints the path of the .deb.
#
#   scripts/build-deb.sh            (what `make deb` runs)
#
# Environment: DEB_OUT (default build/deb), DEB_BUILD_OPTIONS (default
# nocheck parallel=2: the test suite runs in CI, not in the package build).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${DEB_OUT:-$root/build/deb}"
"$root/scripts/install-deps.sh" --deb

version="$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)"
src="$out/src/quicksilver-$version"
rm -rf "$out/src"
mkdir -p "$src"
# The tracked and new files (not build folders, not node_modules).
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$src"
else
  tar -C "$root" --exclude=./build --exclude=node_modules --exclude=./debian/quicksilver -cf - . | tar -xf - -C "$src"
fi

export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck parallel=2}"
(cd "$src" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) || {
  tail -n 40 "$out/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
  exit 1
}
arch="$(dpkg --print-architecture)"
deb="$out/src/quicksilver_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "build-deb: $deb was not made" >&2; exit 1; }
mv -f "$out"/src/quicksilver_"${version}"_* "$out"/src/quicksilver-dbgsym_"${version}"_* "$out"/ 2>/dev/null || true
echo "$out/quicksilver_${version}_${arch}.deb"
