#!/usr/bin/env bash
# A local 4-validator ITC network and the smart-lighting flow across it.
#
#   bash scripts/testnet.sh
#
# 1. Builds itc-node and its examples (debug; CARGO_TARGET_DIR is honoured;
#    ITC_PROFILE=test reuses what `cargo test` built, as CI does).
# 2. `itc-node init --testnet 4 --dir <tmpdir>`: keys, genesis, configs on
#    free loopback ports.
# 3. Starts the four validators as separate processes and waits until each
#    serves /v1/status.
# 4. Runs the lamp gateway (itc-node/examples/lamp_gateway.rs) against them:
#    register the lamp, grant a guest, the guest's command allowed, replayed
#    and forged commands refused; then the primary (found through
#    /v1/status) is killed with kill -9; the owner revokes (committed after
#    the view change), the guest's command with a current proof and with its
#    pre-revocation proof are refused, the owner's command is allowed.
# 5. Shows the view change from the surviving nodes' /v1/status (view above
#    0, another primary) and checks they agree on every header.
#
# Every process it starts is killed on any exit (trap), every wait has a
# timeout, and the exit status is non-zero if any step misbehaves.
# KEEP=1 keeps the testnet directory (configs, data, logs) for inspection.
# Needs curl and jq.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/debug/itc-node
GATEWAY=$TARGET/debug/examples/lamp_gateway

# Internal: the gateway's crash command. Kill -9 the node whose key is
# $ITC_PRIMARY (the primary, as the gateway read it from /v1/status).
if [[ "${1:-}" == "--kill-primary" ]]; then
  dir=$2
  for ready in "$dir"/node-*/ready.json; do
    if [[ "$(jq -r .public_key "$ready")" == "${ITC_PRIMARY:?}" ]]; then
      node_dir=$(dirname "$ready")
      pid=$(cat "$node_dir/pid")
      echo "testnet: kill -9 $(basename "$node_dir") (pid $pid), the primary"
      kill -9 "$pid"
      echo "$(basename "$node_dir")" > "$dir/killed"
      exit 0
    fi
  done
  echo "testnet: no node has key $ITC_PRIMARY" >&2
  exit 1
fi

for tool in curl jq cargo; do
  command -v "$tool" >/dev/null || { echo "testnet: $tool is required" >&2; exit 1; }
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/itc-testnet.XXXXXX")
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ "${KEEP:-0}" == 1 || $status -ne 0 ]]; then
    echo "testnet: files kept in $DIR"
  else
    rm -rf "$DIR"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "testnet: FAIL: $*" >&2
  for log in "$DIR"/node-*/log; do
    [[ -f "$log" ]] && { echo "--- tail of $log" >&2; tail -n 15 "$log" >&2; }
  done
  exit 1
}

status() { curl -fsS --max-time 5 "$1/v1/status"; }

echo "== build (debug)"
(cd "$ROOT" && timeout 1800 cargo build --profile "${ITC_PROFILE:-dev}" -p itc-node --bins --examples --quiet) || fail "build"

echo "== init --testnet 4 --dir $DIR"
"$BIN" init --testnet 4 --dir "$DIR" >/dev/null || fail "init"

echo "== start 4 validators"
for i in 0 1 2 3; do
  node_dir=$DIR/node-$i
  ITC_LOG=${ITC_LOG:-info,libp2p=warn} "$BIN" run --config "$node_dir/config.toml" \
    >"$node_dir/log" 2>&1 </dev/null &
  PIDS+=($!)
  echo $! >"$node_dir/pid"
done

URLS=()
for i in 0 1 2 3; do
  node_dir=$DIR/node-$i
  deadline=$((SECONDS + 60))
  until [[ -f "$node_dir/ready.json" ]] && url="http://$(jq -r .http "$node_dir/ready.json")" \
        && status "$url" >/dev/null 2>&1; do
    kill -0 "$(cat "$node_dir/pid")" 2>/dev/null || fail "node-$i exited"
    ((SECONDS < deadline)) || fail "node-$i not ready within 60 s"
    sleep 0.2
  done
  URLS+=("$url")
  echo "node-$i: $url pid $(cat "$node_dir/pid")"
done

show_status() {
  local i url
  for i in 0 1 2 3; do
    url=${URLS[$i]}
    if s=$(status "$url" 2>/dev/null); then
      echo "node-$i: $(jq -c '{height, view, primary: .primary[0:16], view_change}' <<<"$s")"
    else
      echo "node-$i: down"
    fi
  done
}
echo "== status before the flow"
show_status
view_before=$(status "${URLS[0]}" | jq .view)

echo "== lamp gateway: grant, use, replay, forged, kill -9 the primary, revoke, stale"
GATEWAY_ARGS=()
for url in "${URLS[@]}"; do GATEWAY_ARGS+=(--node "$url"); done
timeout 300 "$GATEWAY" "${GATEWAY_ARGS[@]}" \
  --genesis "$DIR/genesis.json" --owner-key "$DIR/accounts/0.key" \
  --crash-cmd "bash '$ROOT/scripts/testnet.sh' --kill-primary '$DIR'" \
  || fail "the lamp gateway flow misbehaved"

[[ -f "$DIR/killed" ]] || fail "the primary was not killed"
killed=$(cat "$DIR/killed")
killed_key=$(jq -r .public_key "$DIR/$killed/ready.json")

echo "== status after the flow ($killed was killed)"
show_status
deadline=$((SECONDS + 30))
while :; do
  ok=1
  for i in 0 1 2 3; do
    [[ "node-$i" == "$killed" ]] && continue
    s=$(status "${URLS[$i]}") || fail "node-$i stopped answering"
    view=$(jq .view <<<"$s")
    primary=$(jq -r .primary <<<"$s")
    if ((view <= view_before)) || [[ "$primary" == "$killed_key" ]]; then ok=0; fi
  done
  ((ok)) && break
  ((SECONDS < deadline)) || fail "no view change seen on every surviving node"
  sleep 0.2
done
echo "view change: view $view_before -> $view, primary ${killed_key:0:16}… -> ${primary:0:16}…"

# The survivors agree on every header.
heights=()
for i in 0 1 2 3; do
  [[ "node-$i" == "$killed" ]] && continue
  heights+=("$(status "${URLS[$i]}" | jq .height)")
done
min=$(printf '%s\n' "${heights[@]}" | sort -n | head -1)
for ((h = 1; h <= min; h++)); do
  hashes=$(for i in 0 1 2 3; do
    [[ "node-$i" == "$killed" ]] && continue
    curl -fsS --max-time 5 "${URLS[$i]}/v1/headers/$h" | jq -r .hash
  done | sort -u | wc -l)
  [[ "$hashes" == 1 ]] || fail "survivors disagree at height $h"
done
echo "survivors agree on headers 1..$min"
echo "testnet: OK"
