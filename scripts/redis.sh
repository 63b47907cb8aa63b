# Sourced by scripts/test: installs redis-server from the Debian packages when missing, starts it
# on a free loopback port (no persistence) and exports TEST_REDIS_URL for the shared-limit tests.
# `redis_stop` stops it by pid.

redis_install() {
    if ! command -v redis-server >/dev/null; then
        echo "installing redis-server (Debian)" >&2
        apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
    fi
}

redis_start() {
    redis_install
    REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    REDIS_LOG="${TMPDIR:-/tmp}/cutover-redis-$REDIS_PORT.log"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize no >"$REDIS_LOG" 2>&1 </dev/null &
    REDIS_PID=$!
    local deadline=$((SECONDS + 60))
    until redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; do
        if ! kill -0 "$REDIS_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            echo "redis-server did not start within 60 s; its log:" >&2; cat "$REDIS_LOG" >&2
            return 1
        fi
        sleep 0.1
    done
    export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    echo "redis-server on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID, log $REDIS_LOG)" >&2
}

redis_stop() {
    if [ -n "${REDIS_PID:-}" ]; then
        kill "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=
    fi
}
