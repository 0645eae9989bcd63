#!/usr/bin/env bash
# Builds an ONNXRUNTIME_ROOT folder (include/ + lib/) for edgeemo's C/C++ bindings on Debian
# bookworm, following docs/cpp.md and shared/design/CPP_BUILD.md:
#   * runtime library: copied from the onnxruntime wheel in $PYTHON's environment
#     (onnxruntime/capi/libonnxruntime.so.<ver>), plus the two names the linker and loader need
#     (libonnxruntime.so.1 -> the file, libonnxruntime.so -> libonnxruntime.so.1);
#   * headers: Debian trixie's libonnxruntime-dev, downloaded with a private apt state (a source
#     list derived from this machine's own Debian source with the suite changed). The system's apt
#     configuration, lists and cache are never touched, and nothing is installed.
#
# Usage: fetch_onnxruntime.sh OUT_DIR          (PYTHON defaults to <repo>/.venv/bin/python)
# Idempotent: a second run with the same wheel does nothing. Exit codes: 0 ok, 1 usage or local
# problem (message says what), 75 the header download failed (no network / no mirror): the caller
# may treat that as "cannot build offline".
set -euo pipefail

die() { echo "fetch_onnxruntime: error: $1" >&2; exit "${2:-1}"; }
[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$1
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
PYTHON=${PYTHON:-$repo/.venv/bin/python}
HEADER_PKG=${EDGEEMO_ORT_HEADER_PKG:-libonnxruntime-dev}
HEADER_SUITE=${EDGEEMO_ORT_HEADER_SUITE:-trixie}

# ---- 1. runtime library from the wheel -------------------------------------------------------
[ -x "$PYTHON" ] || command -v "$PYTHON" >/dev/null 2>&1 \
  || die "no Python at '$PYTHON' (set PYTHON=/path/to/python of an environment with onnxruntime)"
capi=$("$PYTHON" - <<'PY' 2>/dev/null
import pathlib, onnxruntime
print(pathlib.Path(onnxruntime.__file__).parent / "capi")
PY
) || die "'$PYTHON' cannot import onnxruntime: pip install onnxruntime (the edgeemo[cpu] extra)"
so=$(ls "$capi"/libonnxruntime.so.[0-9]* 2>/dev/null | head -n 1 || true)
[ -n "$so" ] || die "no libonnxruntime.so.<version> in $capi (an onnxruntime wheel without the shared library?)"
so_name=$(basename "$so")
mkdir -p "$out/lib" "$out/include"
if ! cmp -s "$so" "$out/lib/$so_name"; then
  rm -f "$out"/lib/libonnxruntime.so*
  cp "$so" "$out/lib/$so_name"
  echo "fetch_onnxruntime: copied $so_name from $capi"
fi
if [ -f "$capi/libonnxruntime_providers_shared.so" ] \
   && ! cmp -s "$capi/libonnxruntime_providers_shared.so" "$out/lib/libonnxruntime_providers_shared.so"; then
  cp "$capi/libonnxruntime_providers_shared.so" "$out/lib/"
fi
ln -sfn "$so_name" "$out/lib/libonnxruntime.so.1"
ln -sfn libonnxruntime.so.1 "$out/lib/libonnxruntime.so"

# ---- 2. headers from Debian's libonnxruntime-dev (private apt state) -------------------------
if [ ! -f "$out/include/onnxruntime_c_api.h" ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: put ONNX Runtime headers in $out/include by hand (any release tarball's include/)"
  command -v dpkg >/dev/null 2>&1 || die "dpkg not found"
  src=/etc/apt/sources.list.d/debian.sources
  [ -f "$src" ] || die "$src not found: this recipe needs a deb822 Debian source to derive the $HEADER_SUITE one from"
  d="$out/.apt"
  rm -rf "$d"
  mkdir -p "$d/parts" "$d/lists/partial" "$d/cache/archives/partial" "$d/x"
  sed "s/^Suites:.*/Suites: $HEADER_SUITE/" "$src" | awk 'BEGIN{RS="";ORS="\n\n"} NR==1' > "$d/parts/$HEADER_SUITE.sources"
  grep -q "^URIs:" "$d/parts/$HEADER_SUITE.sources" || die "could not derive a source from $src"
  o=(-qq -oDir::Etc::SourceList=/dev/null -oDir::Etc::SourceParts="$d/parts" -oDir::State::Lists="$d/lists"
     -oDir::Cache="$d/cache" -oAPT::Sandbox::User="$(id -un)" -oDebug::NoLocking=1)
  if ! apt-get "${o[@]}" update >"$d/update.log" 2>&1; then
    cat "$d/update.log" >&2
    die "apt-get update for the private $HEADER_SUITE source failed (offline?); see above" 75
  fi
  if ! (cd "$d" && apt-get "${o[@]}" download "$HEADER_PKG") >"$d/download.log" 2>&1; then
    cat "$d/download.log" >&2
    die "could not download $HEADER_PKG from $HEADER_SUITE (offline?); see above" 75
  fi
  deb=$(ls "$d"/"$HEADER_PKG"_*.deb | head -n 1)
  dpkg -x "$deb" "$d/x" || die "dpkg -x $deb failed"
  [ -f "$d/x/usr/include/onnxruntime/onnxruntime_c_api.h" ] || die "$deb has no usr/include/onnxruntime/onnxruntime_c_api.h"
  cp -r "$d/x/usr/include/onnxruntime/." "$out/include/"
  mkdir -p "$out/share"
  cp "$d/x/usr/share/doc/$HEADER_PKG/copyright" "$out/share/headers-copyright" 2>/dev/null || true
  echo "fetch_onnxruntime: headers from $(basename "$deb")" | tee "$out/share/headers-source.txt"
  rm -rf "$d"
fi

api=$(sed -n 's/^#define ORT_API_VERSION \([0-9]*\).*/\1/p' "$out/include/onnxruntime_c_api.h")
ver=${so_name#libonnxruntime.so.}
printf 'runtime %s (from %s)\nheaders ORT_API_VERSION %s\n' "$ver" "$capi" "$api" > "$out/VERSION.txt"
# The headers' API version must not be newer than the runtime's (OrtGetApiBase()->GetApi fails).
minor=$(echo "$ver" | cut -d. -f2)
[ "$api" -le "$minor" ] || die "headers are ORT_API_VERSION $api but the runtime is $ver (API $minor): use older headers"
echo "fetch_onnxruntime: ONNXRUNTIME_ROOT=$out (runtime $ver, headers API $api)"
