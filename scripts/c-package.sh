#!/usr/bin/env bash
# Install the C library under a temporary prefix (scripts/install-c.sh) and
# build bindings/c/lamp_demo.c the way a C project would, from pkg-config
# alone: once against the shared library (`pkg-config --cflags --libs itc`),
# once statically (`pkg-config --static --libs itc`, libitc_ffi.a). Each
# binary passes the lamp demo under valgrind (no leak, no invalid access).
#
#   bash scripts/c-package.sh                 # debug build: reuses target/debug
#   ITC_C_PROFILE=release bash scripts/c-package.sh
#
# Needs cc, pkg-config, valgrind and readelf (binutils).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
for tool in cc pkg-config valgrind readelf; do
    command -v "$tool" >/dev/null 2>&1 || { echo "c-package: $tool not found" >&2; exit 2; }
done
work="$(mktemp -d -t itc-c-package.XXXXXX)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

bash scripts/install-c.sh --profile "${ITC_C_PROFILE:-debug}" "$prefix"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists --print-errors itc
echo "c-package: pkg-config itc $(pkg-config --modversion itc)"
echo "  --cflags --libs:          $(pkg-config --cflags --libs itc)"
echo "  --static --libs:          $(pkg-config --static --libs itc)"

# Copy the demo away from bindings/c so that only the installed header can be found.
cp bindings/c/lamp_demo.c "$work/lamp_demo.c"
cflags=(-std=c11 -g -O0 -Wall -Wextra -Werror -pedantic)
# shellcheck disable=SC2046
cc "${cflags[@]}" -o "$work/lamp_demo_shared" "$work/lamp_demo.c" \
    $(pkg-config --cflags --libs itc) -Wl,-rpath,"$(pkg-config --variable=libdir itc)"
# shellcheck disable=SC2046
cc "${cflags[@]}" -o "$work/lamp_demo_static" "$work/lamp_demo.c" \
    $(pkg-config --cflags itc) $(pkg-config --static --libs itc | sed 's/-litc_ffi/-l:libitc_ffi.a/')

readelf -d "$work/lamp_demo_shared" | grep -q 'NEEDED.*libitc_ffi' \
    || { echo "c-package: the shared build does not link libitc_ffi.so" >&2; exit 1; }
if readelf -d "$work/lamp_demo_static" | grep -q 'NEEDED.*libitc_ffi'; then
    echo "c-package: the static build still needs libitc_ffi.so" >&2; exit 1
fi

for kind in shared static; do
    echo "c-package: lamp demo ($kind) under valgrind"
    valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
        --suppressions=bindings/c/valgrind.supp --track-origins=yes \
        "$work/lamp_demo_$kind" > "$work/$kind.out"
    grep -q 'all checks passed' "$work/$kind.out" \
        || { echo "c-package: lamp demo ($kind) did not pass:" >&2; cat "$work/$kind.out" >&2; exit 1; }
    echo "c-package: lamp demo ($kind): $(grep -c '^ok ' "$work/$kind.out") checks passed"
done
echo "c-package: ok"
