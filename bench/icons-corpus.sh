#!/usr/bin/env bash
# A real catalogue of ~100k illustrations for the scale benches (issue 12): the desktop icon themes Debian
# packages (Papirus, Breeze, Oxygen, elementary-xfce, Numix Circle, Suru, Moka, Faenza; SVG and PNG, free
# licences stated in each package's copyright file), fetched with the system's package tool as
# `parasol corpus fetch openclipart` does — `apt-get download` + `dpkg-deb -x`, no root needed — and reduced to
# their image files (the themes' symlinked aliases dropped). The synthetic corpus has no low-dimensional
# structure (its fused floor is the pessimistic case); these are the pack's own vectors of real drawings.
#
#   bash bench/icons-corpus.sh [OUT]          OUT defaults to ${TMPDIR:-/tmp}/parasol-icons
#   PARASOL_DATA=DIR node dist/src/cli.js index OUT/icons --source icons
#
# Writes OUT/icons/<package>/… (about 99,800 distinct files, ~600 MB) and OUT/packages.txt (name and version of
# every package used); a package already extracted is skipped, so a rerun only finishes what is missing.
set -euo pipefail

OUT="${1:-${TMPDIR:-/tmp}/parasol-icons}"
PACKAGES=(papirus-icon-theme breeze-icon-theme oxygen-icon-theme elementary-xfce-icon-theme
  numix-icon-theme-circle suru-icon-theme moka-icon-theme faenza-icon-theme)

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
  { echo "icons-corpus: needs apt-get and dpkg-deb (a Debian or Ubuntu system) to fetch ${PACKAGES[*]}" >&2; exit 1; }
mkdir -p "$OUT/debs" "$OUT/icons"
: >"$OUT/packages.txt.tmp"
for package in "${PACKAGES[@]}"; do
  if [[ ! -f "$OUT/icons/$package/.done" ]]; then
    echo "icons-corpus: fetching $package" >&2
    (cd "$OUT/debs" && apt-get download "$package" >/dev/null) ||
      { echo "icons-corpus: apt-get download $package failed (run apt-get update, or check the network)" >&2; exit 1; }
    deb=$(ls -t "$OUT/debs/${package}"_*.deb | head -n 1)
    rm -rf "$OUT/icons/$package" "$OUT/extract"
    dpkg-deb -x "$deb" "$OUT/extract"
    mkdir -p "$OUT/icons/$package"
    # image files only, under their theme-relative paths; the themes' aliases are symlinks and are left out
    (cd "$OUT/extract/usr/share/icons" && find . -type f \( -name '*.svg' -o -name '*.png' \) \
      -exec cp --parents -t "$OUT/icons/$package" {} +)
    rm -rf "$OUT/extract"
    dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >"$OUT/icons/$package/.done"
  fi
  cat "$OUT/icons/$package/.done" >>"$OUT/packages.txt.tmp"
done
mv "$OUT/packages.txt.tmp" "$OUT/packages.txt"
echo "icons-corpus: $(find "$OUT/icons" -type f \( -name '*.svg' -o -name '*.png' \) | wc -l) image files in $OUT/icons" >&2
