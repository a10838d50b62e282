#!/usr/bin/env bash
# The lamp's check on a Cortex-M4, under QEMU.
#
#   bash scripts/m4-lamp.sh
#
# 1. Checks (and installs, when it can) what it needs: the Rust target
#    thumbv7em-none-eabihf, and the Debian packages qemu-system-arm and
#    binutils-arm-none-eabi (installed with apt-get only when running as
#    root). If anything is missing it says why, prints a JSON object with
#    "m4_skipped", and exits 0.
# 2. Generates the test vectors on the host (itc-examples' lamp-vectors: a
#    real 4-validator chain, certified headers, grant and absence proofs,
#    signed commands, expected verdicts).
# 3. Builds examples/firmware in release (opt-level z, LTO) and reports its
#    flash (.vector_table + .text + .rodata + .data image) and static RAM
#    (.data + .bss + .uninit; .bss includes the whole heap arena).
# 4. Runs it on QEMU's mps2-an386 with -icount shift=0 (one instruction is
#    one nanosecond of virtual time) and a timeout. The firmware counts
#    instructions with SysTick, which QEMU drives from that virtual clock at
#    25 MHz (one tick per 40 instructions; the firmware calibrates this on a
#    loop of known length and prints the ratio), and measures its peak stack
#    (painted) and heap (counting allocator).
# 5. Prints one JSON object: m4_flash_bytes, m4_ram_bytes (static RAM plus
#    peak stack), m4_lamp_check_instructions (the granted case: decode and
#    verify a 4-validator header update, then decode and check the command
#    with its proofs), m4_replay_table_bytes (the lamp's per-sender replay
#    table, a fixed array in .bss and part of m4_ram_bytes; the firmware
#    checks at boot that it is in static RAM, not in the heap arena), the
#    verdicts, and the details.
#
# M4_LAMP_TRACE=1 adds a cross-check of the instruction count (about a
# minute): QEMU runs again with -singlestep -d exec,nochain, which logs every
# executed instruction, and the log is counted from the entry of the
# firmware's run_case to its return for the first (granted) case. The JSON
# then has "trace_instructions_granted" next to the SysTick figure.
#
# Exit status: 0 when every verdict is the expected one (or the run was
# skipped), 1 when a verdict differs or the firmware fails. Missed size or
# speed goals are reported in "goals", not turned into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=never

target=thumbv7em-none-eabihf
firmware_dir=examples/firmware
vectors_dir=$root/$firmware_dir/target/vectors
elf=$root/$firmware_dir/target/$target/release/itc-lamp-firmware
qemu_timeout_seconds=${M4_LAMP_QEMU_TIMEOUT:-120}

# Goals of issue 4.
flash_bytes_max=$((96 * 1024))
ram_bytes_max=$((32 * 1024))
lamp_check_instructions_max=8000000

log() { printf 'm4-lamp: %s\n' "$*" >&2; }

skip() {
    log "skipped: $*"
    local reason=${*//\\/\\\\}
    printf '{"m4_skipped":"%s"}\n' "${reason//\"/\\\"}"
    exit 0
}

# --- prerequisites ---------------------------------------------------------
command -v cargo >/dev/null 2>&1 || skip "cargo is not installed"
if ! rustc --print target-list 2>/dev/null | grep -qx "$target"; then
    skip "this rustc does not know the target $target"
fi
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        log "installing the Rust target $target"
        rustup target add "$target" >&2 || skip "rustup target add $target failed (no network?)"
    fi
else
    # Without rustup, the target's standard library must already be there.
    sysroot=$(rustc --print sysroot)
    [ -d "$sysroot/lib/rustlib/$target" ] || skip "no rustup, and no $target standard library in $sysroot"
fi

missing_packages=()
command -v qemu-system-arm >/dev/null 2>&1 || missing_packages+=(qemu-system-arm)
command -v arm-none-eabi-size >/dev/null 2>&1 || missing_packages+=(binutils-arm-none-eabi)
if [ ${#missing_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        skip "missing ${missing_packages[*]} and not root, so apt-get cannot install them"
    fi
    command -v apt-get >/dev/null 2>&1 || skip "missing ${missing_packages[*]} and there is no apt-get"
    log "installing ${missing_packages[*]}"
    install() {
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends \
            "${missing_packages[@]}" >&2
    }
    if ! install; then
        log "apt-get install failed; refreshing the package lists once"
        if ! timeout 300 apt-get update -qq >&2 || ! install; then
            skip "apt-get install ${missing_packages[*]} failed (no package lists or no network?)"
        fi
    fi
fi
if ! qemu-system-arm -machine help 2>/dev/null | grep -q '^mps2-an386 '; then
    skip "this qemu-system-arm has no mps2-an386 machine"
fi

# --- vectors and firmware --------------------------------------------------
log "generating the lamp's test vectors in $vectors_dir"
rm -rf "$vectors_dir"
cargo run --quiet --release -p itc-examples --bin lamp-vectors -- "$vectors_dir" >&2

log "building the firmware"
# The firmware's .cargo/config.toml (target, linker script) applies only
# from inside its directory.
(cd "$firmware_dir" && ITC_LAMP_VECTORS_DIR=$vectors_dir cargo build --quiet --release >&2)

# --- sizes -----------------------------------------------------------------
section_size() {
    arm-none-eabi-size -A "$elf" | awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }'
}
vector_table=$(section_size .vector_table)
text=$(section_size .text)
rodata=$(section_size .rodata)
data=$(section_size .data)
bss=$(section_size .bss)
uninit=$(section_size .uninit)
flash_bytes=$((vector_table + text + rodata + data))
static_ram_bytes=$((data + bss + uninit))
log "flash: .vector_table $vector_table + .text $text + .rodata $rodata + .data $data = $flash_bytes bytes"
log "static RAM: .data $data + .bss $bss + .uninit $uninit = $static_ram_bytes bytes"
# Cross-check with readelf: every allocated section must be one of the above.
others=$(arm-none-eabi-readelf -SW "$elf" | awk '
    /^ *\[ *[0-9]+\]/ {
        sub(/^ *\[ *[0-9]+\] */, "")
        # Name Type Address Offset Size EntrySize Flags ...
        if ($7 ~ /A/ && $1 !~ /^\.(vector_table|text|rodata|data|bss|uninit|gnu\.sgstubs)$/ && $5 !~ /^0+$/) print $1
    }')
if [ -n "$others" ]; then
    log "warning: allocated sections not counted above: $others"
fi

# --- run -------------------------------------------------------------------
log "running under qemu-system-arm -machine mps2-an386 -icount shift=0 (timeout ${qemu_timeout_seconds}s)"
output_file=$(mktemp)
trap 'rm -f "$output_file"' EXIT
set +e
timeout "$qemu_timeout_seconds" qemu-system-arm \
    -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native \
    -icount shift=0 \
    -kernel "$elf" >"$output_file" 2>&1
qemu_status=$?
set -e
cat "$output_file" >&2

# --- optional cross-check: count the first case's instructions one by one --
trace_instructions=null
if [ "${M4_LAMP_TRACE:-0}" = 1 ]; then
    # awk stops reading early on purpose: a writer killed by SIGPIPE is fine.
    set +o pipefail
    run_case_address=$(arm-none-eabi-nm "$elf" | awk '$3 ~ /run_case/ { print $1; exit }')
    return_address=$(arm-none-eabi-objdump -d --no-show-raw-insn "$elf" |
        awk -v target="$run_case_address" '
            $2 == "bl" && $3 ~ ("^0*" substr(target, match(target, /[^0]/))) && $4 ~ /run_case/ {
                sub(/:$/, "", $1); printf "%08x\n", strtonum_hex($1) + 4; exit
            }
            function strtonum_hex(text,    value, i, digit) {
                value = 0
                for (i = 1; i <= length(text); i++) {
                    digit = index("0123456789abcdef", substr(text, i, 1)) - 1
                    value = value * 16 + digit
                }
                return value
            }')
    if [ -n "$run_case_address" ] && [ -n "$return_address" ]; then
        log "cross-check: counting instructions from run_case ($run_case_address) to its return ($return_address), one by one"
        trace_instructions=$(timeout "$((qemu_timeout_seconds * 5))" qemu-system-arm \
            -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
            -semihosting-config enable=on,target=native -icount shift=0 \
            -singlestep -d exec,nochain -D /dev/stderr -kernel "$elf" 2>&1 >/dev/null |
            awk -v entry="$run_case_address" -v back="$return_address" '
                /^Trace/ {
                    count++
                    match($0, /\/[0-9a-f]+\//)
                    pc = substr($0, RSTART + 1, RLENGTH - 2)
                    if (!inside && pc == entry) { inside = 1; start = count }
                    else if (inside && pc == back) { print count - start; exit }
                }')
        [[ $trace_instructions =~ ^[0-9]+$ ]] || trace_instructions=null
    else
        log "cross-check: run_case or its call not found in the ELF; skipped"
    fi
    set -o pipefail
fi

# --- report ----------------------------------------------------------------
# Reads the firmware's one-line JSON objects with awk (no jq on a bare CI
# machine): `field LINE NAME` prints the value of a number, boolean, null or
# quote-free string field.
field() {
    awk -v name="$2" '{
        key = "\"" name "\":"
        at = index($0, key)
        if (!at) exit
        rest = substr($0, at + length(key))
        if (substr(rest, 1, 1) == "\"") {
            rest = substr(rest, 2)
            print substr(rest, 1, index(rest, "\"") - 1)
        } else {
            match(rest, /^[^,}]*/)
            print substr(rest, 1, RLENGTH)
        }
    }' <<<"$1"
}

case_lines=$(grep '^{"case":' "$output_file" || true)
summary=$(grep '^{"summary":' "$output_file" || true)
calibration=$(grep '^{"calibration":' "$output_file" || true)
boot=$(grep '^{"boot":' "$output_file" || true)
expected_cases=$(grep -c '"name":' "$vectors_dir/expected.json")

failures=0
verdicts=""
instructions=""
granted_update=""
granted_check=""
signature_check=""
while IFS= read -r line; do
    [ -n "$line" ] || continue
    name=$(field "$line" case)
    verdict=$(field "$line" verdict)
    expected=$(field "$line" expected)
    header=$(field "$line" header)
    expected_header=$(field "$line" expected_header)
    update_instructions=$(field "$line" update_instructions)
    check_instructions=$(field "$line" check_instructions)
    if [ "$(field "$line" ok)" != true ] || [ "$verdict" != "$expected" ] || [ "$header" != "$expected_header" ]; then
        log "case $name: verdict '$verdict' (expected '$expected'), header '$header' (expected '$expected_header')"
        failures=$((failures + 1))
    fi
    verdicts+="${verdicts:+,}\"$name\":\"$verdict\""
    instructions+="${instructions:+,}\"$name\":$((update_instructions + check_instructions))"
    case $name in
        granted)
            granted_update=$update_instructions
            granted_check=$check_instructions
            ;;
        forged_signature) signature_check=$check_instructions ;;
    esac
done <<<"$case_lines"

seen_cases=$(grep -c '^{"case":' "$output_file" || true)
if [ "$qemu_status" -ne 0 ]; then
    log "qemu exited with status $qemu_status (124 = timeout)"
    failures=$((failures + 1))
fi
if [ "$seen_cases" -ne "$expected_cases" ] || [ -z "$summary" ] || [ -z "$granted_update" ]; then
    log "the firmware reported $seen_cases of $expected_cases cases${summary:+}${summary:- and no summary}"
    failures=$((failures + 1))
fi

number() { local value=${1:-}; [[ $value =~ ^[0-9]+$ ]] && echo "$value" || echo null; }
stack_peak=$(number "$(field "$summary" stack_peak_bytes)")
stack_harness=$(number "$(field "$summary" stack_harness_bytes)")
heap_arena=$(number "$(field "$summary" heap_arena_bytes)")
heap_used_peak=$(number "$(field "$summary" heap_used_peak_bytes)")
heap_requested_peak=$(number "$(field "$summary" heap_requested_peak_bytes)")
instructions_per_tick=$(number "$(field "$summary" instructions_per_tick)")
calibration_ticks=$(number "$(field "$calibration" ticks)")
replay_table_bytes=$(number "$(field "$boot" replay_table_bytes)")
lamp_state_bytes=$(number "$(field "$boot" lamp_bytes)")
replay_table_static=$(field "$boot" replay_table_in_static_ram)
[ "$replay_table_static" = true ] || [ "$replay_table_static" = false ] || replay_table_static=null
granted_update=$(number "$granted_update")
granted_check=$(number "$granted_check")
signature_check=$(number "$signature_check")

ram_bytes=null
ram_needed_bytes=null
lamp_check=null
goals_met=false
if [ "$stack_peak" != null ] && [ "$granted_update" != null ] && [ "$granted_check" != null ]; then
    ram_bytes=$((static_ram_bytes + stack_peak))
    if [ "$heap_arena" != null ] && [ "$heap_used_peak" != null ]; then
        # What the run really touched: the arena only up to its peak use.
        ram_needed_bytes=$((static_ram_bytes - heap_arena + heap_used_peak + stack_peak))
    fi
    lamp_check=$((granted_update + granted_check))
    if [ "$flash_bytes" -le "$flash_bytes_max" ] && [ "$ram_bytes" -le "$ram_bytes_max" ] &&
        [ "$lamp_check" -le "$lamp_check_instructions_max" ]; then
        goals_met=true
    fi
fi
ok=true
[ "$failures" -eq 0 ] || ok=false

printf '{"m4_flash_bytes":%s,"m4_ram_bytes":%s,"m4_lamp_check_instructions":%s,"m4_replay_table_bytes":%s,' \
    "$flash_bytes" "$ram_bytes" "$lamp_check" "$replay_table_bytes"
printf '"verdicts":{%s},"ok":%s,' "$verdicts" "$ok"
printf '"m4_header_update_instructions":%s,"m4_command_check_instructions":%s,"m4_bad_signature_check_instructions":%s,' \
    "$granted_update" "$granted_check" "$signature_check"
printf '"instructions_per_case":{%s},' "$instructions"
printf '"flash":{"vector_table":%s,"text":%s,"rodata":%s,"data":%s},' "$vector_table" "$text" "$rodata" "$data"
printf '"ram":{"data":%s,"bss":%s,"uninit":%s,"heap_arena":%s,"peak_heap_used":%s,"peak_heap_requested":%s,"peak_stack":%s,"peak_stack_harness":%s,"needed":%s,"lamp_state":%s,"replay_table":%s,"replay_table_in_static_ram":%s},' \
    "$data" "$bss" "$uninit" "$heap_arena" "$heap_used_peak" "$heap_requested_peak" "$stack_peak" "$stack_harness" "$ram_needed_bytes" \
    "$lamp_state_bytes" "$replay_table_bytes" "$replay_table_static"
printf '"goals":{"flash_bytes_max":%s,"ram_bytes_max":%s,"lamp_check_instructions_max":%s,"met":%s},' \
    "$flash_bytes_max" "$ram_bytes_max" "$lamp_check_instructions_max" "$goals_met"
printf '"method":{"machine":"qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -icount shift=0","instructions":"SysTick on the icount virtual clock (25 MHz, 1 ns per instruction), calibrated on a loop of known length","instructions_per_tick":%s,"calibration_ticks":%s,"trace_instructions_granted":%s,"validators":4,"ram":"static .data+.bss+.uninit (heap arena included) plus painted peak stack"}}\n' \
    "$instructions_per_tick" "$calibration_ticks" "$trace_instructions"

if [ "$failures" -ne 0 ]; then
    log "FAILED: $failures problem(s) above"
    exit 1
fi
