#!/usr/bin/env bash
# Build itc-ffi and install the C library under a prefix:
#
#   PREFIX/lib/libitc_ffi.a            static library
#   PREFIX/lib/libitc_ffi.so           shared library (.dylib on macOS)
#   PREFIX/include/itc.h               the header (bindings/c/itc.h)
#   PREFIX/lib/pkgconfig/itc.pc        pkg-config file
#
#   bash scripts/install-c.sh /usr/local                  # release build
#   bash scripts/install-c.sh --profile debug "$HOME/.local"
#
# then:
#   cc app.c $(pkg-config --cflags --libs itc)                                 # shared
#   cc app.c $(pkg-config --cflags itc) \
#      $(pkg-config --static --libs itc | sed 's/-litc_ffi/-l:libitc_ffi.a/')   # static
#
# (the linker prefers the .so when both are installed; -l:libitc_ffi.a picks the
# static one and Libs.private adds the system libraries it needs.)
#
# cargo-c (`cargo cinstall`) does the same job, but installing it compiles
# cargo itself (several minutes on a 2-core machine, every fresh CI run);
# this script needs only cargo and a shell.
set -euo pipefail
usage() { echo "usage: $0 [--profile release|debug] PREFIX" >&2; exit 2; }
profile=release
prefix=""
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) [ $# -ge 2 ] || usage; profile="$2"; shift 2 ;;
        --profile=*) profile="${1#--profile=}"; shift ;;
        -h|--help) usage ;;
        -*) echo "install-c: unknown option $1" >&2; usage ;;
        *) [ -z "$prefix" ] || usage; prefix="$1"; shift ;;
    esac
done
[ -n "$prefix" ] || usage
case "$profile" in
    release) cargo_profile=(--release) ;;
    debug) cargo_profile=() ;;
    *) echo "install-c: --profile must be release or debug, not $profile" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

case "$(uname -s)" in
    Darwin) shared=libitc_ffi.dylib ;;
    *) shared=libitc_ffi.so ;;
esac

# One rustc run builds every crate type (staticlib, cdylib, rlib) and reports
# the system libraries a static link needs, for Libs.private.
log="$(mktemp -t itc-install-c.XXXXXX)"
trap 'rm -f "$log"' EXIT
echo "install-c: building itc-ffi ($profile)"
if ! cargo rustc -p itc-ffi --lib "${cargo_profile[@]}" -- --print native-static-libs 2>"$log"; then
    cat "$log" >&2
    exit 1
fi
# Duplicates dropped, keeping the last occurrence of each (link order).
libs_private="$(sed -n 's/^note: native-static-libs: //p' "$log" | tail -n 1 | tr ' ' '\n' \
    | awk 'NF { a[++n] = $0 } END { for (i = n; i > 0; i--) if (!seen[a[i]]++) o[++m] = a[i];
                                    for (i = m; i > 0; i--) printf "%s%s", o[i], (i > 1 ? " " : "") }')"
[ -n "$libs_private" ] || { echo "install-c: rustc did not report native-static-libs" >&2; cat "$log" >&2; exit 1; }

target_dir="$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[ "$profile" = release ] && out="$target_dir/release" || out="$target_dir/debug"
version="$(cargo metadata --no-deps --format-version 1 \
    | tr '{' '\n' | sed -n 's/^"name":"itc-ffi","version":"\([^"]*\)".*/\1/p' | head -n 1)"
[ -n "$version" ] || { echo "install-c: could not read itc-ffi's version" >&2; exit 1; }

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 644 "$out/libitc_ffi.a" "$prefix/lib/libitc_ffi.a"
install -m 755 "$out/$shared" "$prefix/lib/$shared"
install -m 644 bindings/c/itc.h "$prefix/include/itc.h"
cat > "$prefix/lib/pkgconfig/itc.pc" <<PC
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: itc
Description: ITC ledger C API: keys, transactions, light client, the lamp's offline check (itc-ffi)
Version: $version
URL: https://example.invalid/itc
Libs: -L\${libdir} -litc_ffi
Libs.private: $libs_private
Cflags: -I\${includedir}
PC
echo "install-c: installed itc $version under $prefix"
echo "  $prefix/lib/libitc_ffi.a"
echo "  $prefix/lib/$shared"
echo "  $prefix/include/itc.h"
echo "  $prefix/lib/pkgconfig/itc.pc (Libs.private: $libs_private)"
