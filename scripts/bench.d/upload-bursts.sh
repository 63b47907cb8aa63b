#!/usr/bin/env bash
# RSS over repeated upload bursts (the figures in docs/performance.md, "Uploads"): serves the
# embedded default from a temp dir with the release binary (BIN to override), then BURSTS bursts of
# N concurrent MIB MiB uploads, printing after each the server's VmRSS, and at the end the
# server's CPU per MiB and VmHWM. Environment for the server (e.g. MALLOC_ARENA_MAX) passes through.
#   scripts/bench.d/upload-bursts.sh [BURSTS=10] [N=100] [MIB=20]
set -euo pipefail
cd "$(dirname "$0")/../.."
BURSTS=${1:-10} N=${2:-100} MIB=${3:-20}
BIN=${BIN:-target/release/cutover}
WORK=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(port)
export CUTOVER_DATA_DIR="$WORK/data" CUTOVER_LISTEN="127.0.0.1:$PORT" CUTOVER_ADMIN_LISTEN="127.0.0.1:$(port)" \
       CUTOVER_LOG=warn CUTOVER_RATE_PER_MINUTE=1000000000 CUTOVER_RATE_BURST=10000000 \
       CUTOVER_MAX_UPLOAD_BYTES=$(( (MIB + 1) * 1024 * 1024 ))
mkdir -p "$CUTOVER_DATA_DIR"
"$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"; do kill -0 $PID; sleep 0.1; done
for i in $(seq 1 "$N"); do "$BIN" token --sub "$(printf 'user%04d' "$i")"; done >"$WORK/tokens.txt"
echo "idle: VmRSS $(awk '/^VmRSS/ {print $2}' /proc/$PID/status) KiB"
ticks() { sed 's/^.*) //' "/proc/$PID/stat" | awk '{print $12 + $13}'; }
t0=$(ticks)
BENCH_PID=$PID BENCH_PURGE="$CUTOVER_DATA_DIR" python3 scripts/bench.d/uploads.py burst "$PORT" "$WORK/tokens.txt" "$N" "$MIB" "$BURSTS"
t1=$(ticks)
awk -v t=$((t1 - t0)) -v k="$(getconf CLK_TCK)" -v mib=$((BURSTS * N * MIB)) \
    'BEGIN {printf "server CPU: %.2f ms per MiB over %d MiB\n", t / k * 1000 / mib, mib}'
echo "peak: $(awk '/^VmHWM/ {print $2}' /proc/$PID/status) KiB"
