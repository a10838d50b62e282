#!/usr/bin/env bash
# Build the C demos (lamp_demo.c: the smart-lighting flow; chaincode_demo.c:
# a ChainCode campaign; seal_firmware_demo.c: sealed readings and a firmware
# update) against the static itc-ffi library and run each under
# valgrind; exits non-zero on any leak, invalid access or failed check.
#
#   bash bindings/c/run_valgrind.sh
#
# Needs valgrind (Debian: apt-get install valgrind) and a C compiler (cc).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind not found: install it (apt-get install -y valgrind)" >&2
    exit 2
fi
cargo build -p itc-ffi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
for demo in lamp_demo chaincode_demo seal_firmware_demo; do
    out="$target_dir/${demo}_valgrind"
    cc -std=c11 -g -O0 -Wall -Wextra -Werror -pedantic -I bindings/c \
        -o "$out" "bindings/c/$demo.c" "$target_dir/debug/libitc_ffi.a" -lpthread -ldl -lm
    valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
        --suppressions=bindings/c/valgrind.supp \
        --track-origins=yes "$out"
done
