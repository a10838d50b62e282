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
#    (.data + .bss + .uninit; .bss includes the whole heap arena). Also
#    builds one image per sealing suite (features seal-x25519, seal-xwing;
#    M4_LAMP_SEAL_SUITES="" skips them), kept apart in
#    examples/firmware/target/m4-images.
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
#    verdicts, and the details; m4_update_check_instructions (the lamp
#    installs 1.1: decode the offer, check the release at its trusted
#    header, stream the 64 KiB image through the hash; the update cases'
#    verdicts in "update_verdicts"); and per sealing suite, from its own
#    QEMU run, m4_seal_instructions (seal a 64-byte reading to the owner's
#    key, proven on the device), the flash and static RAM the suite adds
#    over the default image, its peak stack and heap and whether the image
#    fits the budgets ("seal"). The host opens every sealed reading with the
#    owner's secret key (lamp-vectors --open).
#
# M4_LAMP_TRACE=1 adds a cross-check of the instruction count (about a
# minute): QEMU runs again with -singlestep -d exec,nochain, which logs every
# executed instruction, and the log is counted from the entry of the
# firmware's run_case to its return for the first (granted) case. The JSON
# then has "trace_instructions_granted" next to the SysTick figure.
#
# Exit status: 0 when every verdict is the expected one (or the run was
# skipped), 1 when a verdict differs, a sealed reading does not open on the
# host, or the firmware fails. Missed size or speed goals are reported in
# "goals" (and a seal image over budget in "seal"), not turned into
# failures.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=never

target=thumbv7em-none-eabihf
firmware_dir=examples/firmware
vectors_dir=$root/$firmware_dir/target/vectors
# Where cargo leaves the firmware, and where each image's ELF is kept.
built_elf=$root/$firmware_dir/target/$target/release/itc-lamp-firmware
images_dir=$root/$firmware_dir/target/m4-images
elf=$images_dir/default.elf
# The sealing images to build and run (one suite each); empty: none.
seal_suites=${M4_LAMP_SEAL_SUITES-x25519 xwing}
qemu_timeout_seconds=${M4_LAMP_QEMU_TIMEOUT:-120}

# Goals of issue 4.
flash_bytes_max=$((96 * 1024))
ram_bytes_max=$((32 * 1024))
lamp_check_instructions_max=8000000
# Goal of issue 14: check a release and hash its 64 KiB image.
update_check_instructions_max=10000000

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

# build_image NAME [FEATURES]: build the firmware (with FEATURES) and keep
# its ELF as $images_dir/NAME.elf. The images share one target dir, so only
# the crates whose features differ are built twice.
build_image() {
    local name=$1 features=${2:-} started=$SECONDS
    log "building the firmware image $name${features:+ (features $features)}"
    # The firmware's .cargo/config.toml (target, linker script) applies only
    # from inside its directory; its target dir is its own, whatever
    # CARGO_TARGET_DIR says for the workspace.
    (cd "$firmware_dir" && ITC_LAMP_VECTORS_DIR=$vectors_dir CARGO_TARGET_DIR=$root/$firmware_dir/target \
        cargo build --quiet --release ${features:+--features "$features"} >&2)
    cp "$built_elf" "$images_dir/$name.elf"
    log "image $name built in $((SECONDS - started)) s"
}
rm -rf "$images_dir"
mkdir -p "$images_dir"
build_image default
for suite in $seal_suites; do
    build_image "seal-$suite" "seal-$suite"
done

# --- sizes -----------------------------------------------------------------
# image_sizes ELF: ".vector_table .text .rodata .data .bss .uninit" sizes.
image_sizes() {
    arm-none-eabi-size -A "$1" | awk '
        { size[$1] = $2 }
        END { printf "%d %d %d %d %d %d\n", size[".vector_table"], size[".text"], size[".rodata"], size[".data"], size[".bss"], size[".uninit"] }'
}
read -r vector_table text rodata data bss uninit <<<"$(image_sizes "$elf")"
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
output_dir=$(mktemp -d)
trap 'rm -rf "$output_dir"' EXIT
# run_image ELF OUTPUT: run under QEMU, print the output to stderr, and
# return QEMU's status.
run_image() {
    log "running $(basename "$1") under qemu-system-arm -machine mps2-an386 -icount shift=0 (timeout ${qemu_timeout_seconds}s)"
    local status=0
    timeout "$qemu_timeout_seconds" qemu-system-arm \
        -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native \
        -icount shift=0 \
        -kernel "$1" >"$2" 2>&1 || status=$?
    # The seal line's hex is long: shorten it in the log.
    sed -E 's/("sealed_hex":")([0-9a-f]{32})[0-9a-f]*/\1\2.../' "$2" >&2
    return "$status"
}
output_file=$output_dir/default.out
qemu_status=0
run_image "$elf" "$output_file" || qemu_status=$?

# --- optional cross-check: count the first case's instructions one by one --
trace_instructions=null
if [ "${M4_LAMP_TRACE:-0}" = 1 ]; then
    # awk stops reading early on purpose: a writer killed by SIGPIPE is fine.
    set +o pipefail
    run_case_address=$(arm-none-eabi-nm "$elf" | awk '$3 ~ /run_case/ && $3 !~ /run_update_case/ { print $1; exit }')
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
number() { local value=${1:-}; [[ $value =~ ^[0-9]+$ ]] && echo "$value" || echo null; }
# The host's case counts, from expected.json.
expected_count() { awk -v key="\"$1\":" 'index($0, key) { gsub(/[^0-9]/, "", $0); print; exit }' "$vectors_dir/expected.json"; }
expected_cases=$(expected_count case_count)
expected_update_cases=$(expected_count update_case_count)

failures=0
# check_run LABEL OUTPUT STATUS: check every verdict of one firmware run
# against the host's, count what is wrong in `failures`, and leave the run's
# figures in the run_* variables.
check_run() {
    local label=$1 output=$2 status=$3 line name verdict expected header expected_header
    run_verdicts="" run_instructions="" run_update_verdicts=""
    run_granted_update="" run_granted_check="" run_signature_check=""
    run_installed_check="" run_installed_image="" run_installed_receive="" run_installed_bytes=""
    run_update_header=""
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        name=$(field "$line" case)
        verdict=$(field "$line" verdict)
        expected=$(field "$line" expected)
        header=$(field "$line" header)
        expected_header=$(field "$line" expected_header)
        local update_instructions check_instructions
        update_instructions=$(field "$line" update_instructions)
        check_instructions=$(field "$line" check_instructions)
        if [ "$(field "$line" ok)" != true ] || [ "$verdict" != "$expected" ] || [ "$header" != "$expected_header" ]; then
            log "$label: case $name: verdict '$verdict' (expected '$expected'), header '$header' (expected '$expected_header')"
            failures=$((failures + 1))
        fi
        run_verdicts+="${run_verdicts:+,}\"$name\":\"$verdict\""
        run_instructions+="${run_instructions:+,}\"$name\":$((update_instructions + check_instructions))"
        case $name in
            granted)
                run_granted_update=$update_instructions
                run_granted_check=$check_instructions
                ;;
            forged_signature) run_signature_check=$check_instructions ;;
        esac
    done <<<"$(grep '^{"case":' "$output" || true)"
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        name=$(field "$line" update_case)
        verdict=$(field "$line" verdict)
        expected=$(field "$line" expected)
        header=$(field "$line" header)
        expected_header=$(field "$line" expected_header)
        if [ "$(field "$line" ok)" != true ] || [ "$verdict" != "$expected" ] || [ "$header" != "$expected_header" ]; then
            log "$label: update case $name: verdict '$verdict' (expected '$expected'), header '$header' (expected '$expected_header')"
            failures=$((failures + 1))
        fi
        run_update_verdicts+="${run_update_verdicts:+,}\"$name\":\"$verdict\""
        if [ -z "$run_update_header" ] && [ "$header" != null ]; then
            run_update_header=$(field "$line" header_update_instructions)
        fi
        # The measured case: the first one the host expects to install.
        if [ -z "$run_installed_check" ] && [ "${expected#Installed}" != "$expected" ]; then
            run_installed_check=$(field "$line" check_instructions)
            run_installed_image=$(field "$line" image_instructions)
            run_installed_receive=$(field "$line" receive_instructions)
            run_installed_bytes=$(field "$line" image_bytes)
        fi
    done <<<"$(grep '^{"update_case":' "$output" || true)"
    run_summary=$(grep '^{"summary":' "$output" || true)
    local seen_cases seen_updates
    seen_cases=$(grep -c '^{"case":' "$output" || true)
    seen_updates=$(grep -c '^{"update_case":' "$output" || true)
    if [ "$status" -ne 0 ]; then
        log "$label: qemu exited with status $status (124 = timeout)"
        failures=$((failures + 1))
    fi
    if [ "$seen_cases" -ne "$expected_cases" ] || [ "$seen_updates" -ne "$expected_update_cases" ] ||
        [ -z "$run_summary" ] || [ -z "$run_granted_update" ] || [ -z "$run_installed_check" ]; then
        log "$label: the firmware reported $seen_cases of $expected_cases cases and $seen_updates of $expected_update_cases update cases${run_summary:+}${run_summary:- and no summary}"
        failures=$((failures + 1))
    fi
}

check_run default "$output_file" "$qemu_status"
verdicts=$run_verdicts
instructions=$run_instructions
update_verdicts=$run_update_verdicts
summary=$run_summary
calibration=$(grep '^{"calibration":' "$output_file" || true)
boot=$(grep '^{"boot":' "$output_file" || true)

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
granted_update=$(number "$run_granted_update")
granted_check=$(number "$run_granted_check")
signature_check=$(number "$run_signature_check")
installed_check=$(number "$run_installed_check")
installed_image=$(number "$run_installed_image")
installed_receive=$(number "$run_installed_receive")
installed_bytes=$(number "$run_installed_bytes")
update_header=$(number "$run_update_header")

update_check=null
if [ "$installed_check" != null ] && [ "$installed_image" != null ]; then
    update_check=$((installed_check + installed_image))
fi

# --- sealing images --------------------------------------------------------
seal_instructions="" seal_key_instructions="" seal_flash_added="" seal_ram_added="" seal_details=""
for suite in $seal_suites; do
    seal_elf=$images_dir/seal-$suite.elf
    seal_output=$output_dir/seal-$suite.out
    seal_status=0
    run_image "$seal_elf" "$seal_output" || seal_status=$?
    failures_before=$failures
    check_run "seal-$suite" "$seal_output" "$seal_status"
    s_verdicts_ok=$([ "$failures" -eq "$failures_before" ] && echo true || echo false)
    read -r s_vector_table s_text s_rodata s_data s_bss s_uninit <<<"$(image_sizes "$seal_elf")"
    s_flash=$((s_vector_table + s_text + s_rodata + s_data))
    s_static=$((s_data + s_bss + s_uninit))
    seal_line=$(grep '^{"seal":' "$seal_output" || true)
    s_instructions=$(number "$(field "$seal_line" seal_instructions)")
    s_key_instructions=$(number "$(field "$seal_line" key_proof_instructions)")
    s_sealed_bytes=$(number "$(field "$seal_line" sealed_bytes)")
    s_stack=$(number "$(field "$seal_line" stack_peak_bytes)")
    s_heap_used=$(number "$(field "$seal_line" heap_used_peak_bytes)")
    s_heap_requested=$(number "$(field "$seal_line" heap_requested_peak_bytes)")
    s_heap_arena=$(number "$(field "$run_summary" heap_arena_bytes)")
    s_run_stack=$(number "$(field "$run_summary" stack_peak_bytes)")
    opened=false
    same_bytes=null
    if [ "$(field "$seal_line" ok)" = true ]; then
        field "$seal_line" sealed_hex >"$output_dir/seal-$suite.hex"
        log "opening the $suite payload on the host with the owner's secret key"
        if open_report=$(cargo run --quiet --release -p itc-examples --bin lamp-vectors -- \
            --open "$suite" "$output_dir/seal-$suite.hex"); then
            opened=true
        fi
        log "host: $open_report"
        same_bytes=$(field "$open_report" same_bytes_as_host_seal)
        [ "$same_bytes" = true ] || [ "$same_bytes" = false ] || same_bytes=null
    else
        log "seal-$suite: the firmware sealed nothing: $(field "$seal_line" error)"
    fi
    if [ "$opened" != true ]; then
        log "seal-$suite: the sealed reading does not open to the reading on the host"
        failures=$((failures + 1))
    fi
    s_ram=null s_fits_ram=null s_over_ram=null
    if [ "$s_stack" != null ] && [ "$s_run_stack" != null ]; then
        s_peak_stack=$((s_stack > s_run_stack ? s_stack : s_run_stack))
        s_ram=$((s_static + s_peak_stack))
        s_over_ram=$((s_ram > ram_bytes_max ? s_ram - ram_bytes_max : 0))
        s_fits_ram=$([ "$s_ram" -le "$ram_bytes_max" ] && echo true || echo false)
    fi
    s_over_flash=$((s_flash > flash_bytes_max ? s_flash - flash_bytes_max : 0))
    s_fits_flash=$([ "$s_flash" -le "$flash_bytes_max" ] && echo true || echo false)
    seal_instructions+="${seal_instructions:+,}\"$suite\":$s_instructions"
    seal_key_instructions+="${seal_key_instructions:+,}\"$suite\":$s_key_instructions"
    seal_flash_added+="${seal_flash_added:+,}\"$suite\":$((s_flash - flash_bytes))"
    seal_ram_added+="${seal_ram_added:+,}\"$suite\":$((s_static - static_ram_bytes))"
    seal_details+="${seal_details:+,}\"$suite\":{\"flash_bytes\":$s_flash,\"static_ram_bytes\":$s_static,\"ram_bytes\":$s_ram,\"seal_peak_stack\":$s_stack,\"seal_peak_heap_used\":$s_heap_used,\"seal_peak_heap_requested\":$s_heap_requested,\"heap_arena\":$s_heap_arena,\"fits_flash\":$s_fits_flash,\"over_flash_bytes\":$s_over_flash,\"fits_ram\":$s_fits_ram,\"over_ram_bytes\":$s_over_ram,\"sealed_bytes\":$s_sealed_bytes,\"opened_on_host\":$opened,\"same_bytes_as_host_seal\":$same_bytes,\"key_proof_instructions\":$s_key_instructions,\"verdicts_ok\":$s_verdicts_ok}"
done

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
        [ "$lamp_check" -le "$lamp_check_instructions_max" ] &&
        [ "$update_check" != null ] && [ "$update_check" -le "$update_check_instructions_max" ]; then
        goals_met=true
    fi
fi
ok=true
[ "$failures" -eq 0 ] || ok=false

printf '{"m4_flash_bytes":%s,"m4_ram_bytes":%s,"m4_lamp_check_instructions":%s,"m4_replay_table_bytes":%s,' \
    "$flash_bytes" "$ram_bytes" "$lamp_check" "$replay_table_bytes"
printf '"m4_update_check_instructions":%s,"m4_seal_instructions":{%s},"m4_seal_flash_added_bytes":{%s},"m4_seal_ram_added_bytes":{%s},' \
    "$update_check" "$seal_instructions" "$seal_flash_added" "$seal_ram_added"
printf '"verdicts":{%s},"update_verdicts":{%s},"ok":%s,' "$verdicts" "$update_verdicts" "$ok"
printf '"m4_header_update_instructions":%s,"m4_command_check_instructions":%s,"m4_bad_signature_check_instructions":%s,' \
    "$granted_update" "$granted_check" "$signature_check"
printf '"instructions_per_case":{%s},' "$instructions"
printf '"update_check":{"release_check_instructions":%s,"image_hash_instructions":%s,"image_receive_instructions":%s,"image_bytes":%s,"chunk_bytes":%s,"release_header_update_instructions":%s},' \
    "$installed_check" "$installed_image" "$installed_receive" "$installed_bytes" \
    "$(expected_count image_chunk_bytes)" "$update_header"
printf '"seal":{%s},"m4_seal_key_proof_instructions":{%s},' "$seal_details" "$seal_key_instructions"
printf '"flash":{"vector_table":%s,"text":%s,"rodata":%s,"data":%s},' "$vector_table" "$text" "$rodata" "$data"
printf '"ram":{"data":%s,"bss":%s,"uninit":%s,"heap_arena":%s,"peak_heap_used":%s,"peak_heap_requested":%s,"peak_stack":%s,"peak_stack_harness":%s,"needed":%s,"lamp_state":%s,"replay_table":%s,"replay_table_in_static_ram":%s},' \
    "$data" "$bss" "$uninit" "$heap_arena" "$heap_used_peak" "$heap_requested_peak" "$stack_peak" "$stack_harness" "$ram_needed_bytes" \
    "$lamp_state_bytes" "$replay_table_bytes" "$replay_table_static"
printf '"goals":{"flash_bytes_max":%s,"ram_bytes_max":%s,"lamp_check_instructions_max":%s,"update_check_instructions_max":%s,"met":%s},' \
    "$flash_bytes_max" "$ram_bytes_max" "$lamp_check_instructions_max" "$update_check_instructions_max" "$goals_met"
printf '"method":{"machine":"qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -icount shift=0","instructions":"SysTick on the icount virtual clock (25 MHz, 1 ns per instruction), calibrated on a loop of known length","instructions_per_tick":%s,"calibration_ticks":%s,"trace_instructions_granted":%s,"validators":4,"ram":"static .data+.bss+.uninit (heap arena included) plus painted peak stack","update_check":"release check (offer decode, two state proofs, release-key signature, versions) plus the streaming hash of the image (receiving the chunks measured apart and subtracted)","seal":"separate images with feature seal-<suite>; instructions of seal() and encoding for one recipient and a 64-byte reading; added bytes are over the default image"}}\n' \
    "$instructions_per_tick" "$calibration_ticks" "$trace_instructions"

log "done in $SECONDS s"
if [ "$failures" -ne 0 ]; then
    log "FAILED: $failures problem(s) above"
    exit 1
fi
