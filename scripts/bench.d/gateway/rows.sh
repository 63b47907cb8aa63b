# shellcheck shell=bash
# The gateway rows of scripts/bench (sourced by it; uses its row, emit, want, start_server, stop,
# free_port and the seeded tokens and key). One upstream for all of them: nginx answering a fixed
# 200 JSON (upstream-nginx.conf), so what differs between rows is only the gateway in front:
#   the upstream served directly     the floor; CPU and RSS are nginx's
#   HAProxy jwt_verify               RS256 verified per request, iss/exp ACLs, X-User, access log on
#   cutover gateway, JWT / API key   an [[upstreams]] table, the log at its default `info` (the
#                                    access log on, sampled as in production, to a file), as
#                                    HAProxy's is on; a build that does not proxy the prefix
#                                    says "unavailable" and the run goes on
# Server CPU per request and RSS are the gateway process's alone (the upstream's are not counted).

GATEWAY_D="$BENCH_D/gateway"
GATEWAY_PATH="/bench/items"

# Starts nginx as the bench upstream on a free port; sets UPSTREAM_PID and UPSTREAM_ADDR.
gateway_upstream_start() {
    local dir="$WORK/upstream-nginx" port
    port=$(free_port)
    mkdir -p "$dir/tmp"
    sed -e "s|@PREFIX@|$dir|g" -e "s|@LISTEN@|127.0.0.1:$port|" "$GATEWAY_D/upstream-nginx.conf" >"$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >>"$WORK/upstream-nginx.log" 2>&1 &
    UPSTREAM_PID=$!
    PIDS+=("$UPSTREAM_PID")
    UPSTREAM_ADDR="127.0.0.1:$port"
    wait_for "http://$UPSTREAM_ADDR/healthz" "$UPSTREAM_PID"
}

# The dev issuer's RS256 public key as PEM, from its JWKS on the admin listener.
gateway_public_key() { # out-file
    start_server
    python3 "$GATEWAY_D/jwks_pem.py" "http://127.0.0.1:$ADMIN/.well-known/jwks.json" >"$1"
    stop "$SERVER"
}

# `cutover serve` with the gateway's config and its default log level (the other rows run at
# `warn`); returns non-zero (and leaves no process) when it
# does not come up, rather than ending the run as start_server does.
gateway_cutover_start() { # config-file
    env CUTOVER_CONFIG="$1" CUTOVER_LOG=info "$BIN" serve >>"$WORK/gateway.log" 2>&1 &
    SERVER=$!
    PIDS+=("$SERVER")
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
        kill -0 "$SERVER" 2>/dev/null || return 1
        sleep 0.1
    done
    stop "$SERVER"
    return 1
}

# Whether `url` answers 200 with the bench upstream's body, given extra curl arguments.
gateway_reaches_upstream() { # url curl-args...
    local url=$1; shift
    curl -s --max-time 10 "$@" "$url" 2>/dev/null | grep -q '"from":"bench-upstream"'
}

gateway_unavailable() { # row-name why
    ROWS+=("| $1 | – | – | – | – | – | – | unavailable: $2 |")
}

gateway_rows() {
    local floor="upstream served directly (nginx \`return 200\`)"
    local haproxy_row="HAProxy \`jwt_verify\` RS256, $USERS users rotating, access log on"
    local jwt_row="cutover gateway, JWT, $USERS users rotating" key_row="cutover gateway, \`X-API-KEY\`"
    want "$floor" || want "$haproxy_row" || want "$jwt_row" || want "$key_row" || return 0
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
    command -v nginx >/dev/null || export PATH="$PATH:/usr/sbin"
    command -v haproxy >/dev/null || apt_install haproxy
    haproxy_row="HAProxy $(haproxy -v | sed -n 's/^HAProxy version \([0-9.]*\).*/\1/p') ${haproxy_row#HAProxy }"
    gateway_upstream_start

    if want "$floor"; then
        row "$floor" "$UPSTREAM_PID" -- -s "$BENCH_D/plain.lua" "http://$UPSTREAM_ADDR$GATEWAY_PATH"
    fi

    if want "$haproxy_row"; then
        local port cfg="$WORK/haproxy.cfg"
        port=$(free_port)
        gateway_public_key "$WORK/issuer.pem"
        sed -e "s|@LISTEN@|127.0.0.1:$port|" -e "s|@UPSTREAM@|$UPSTREAM_ADDR|" \
            -e "s|@ISSUER@|urn:cutover:dev-issuer|" -e "s|@PUBKEY@|$WORK/issuer.pem|" \
            "$GATEWAY_D/haproxy-jwt.cfg" >"$cfg"
        haproxy -db -f "$cfg" >>"$WORK/haproxy.log" 2>&1 &
        local ha=$!
        PIDS+=("$ha")
        local url="http://127.0.0.1:$port$GATEWAY_PATH"
        for _ in $(seq 1 300); do
            gateway_reaches_upstream "$url" -H "Authorization: Bearer $TOKEN" && break
            kill -0 "$ha" 2>/dev/null || break
            sleep 0.1
        done
        if ! gateway_reaches_upstream "$url" -H "Authorization: Bearer $TOKEN"; then
            echo "HAProxy refused a dev-issuer token; see its log:" >&2; tail -n 5 "$WORK/haproxy.log" >&2; exit 1
        fi
        # And it does check: no token, no answer from the upstream.
        if gateway_reaches_upstream "$url"; then echo "HAProxy let a request without a token through" >&2; exit 1; fi
        row "$haproxy_row" "$ha" -- -s "$BENCH_D/rotate.lua" "$url"
        stop "$ha"
    fi

    if want "$jwt_row" || want "$key_row"; then
        local conf="$WORK/gateway.toml"
        printf '[[upstreams]]\nname = "bench"\nprefix = "/bench"\nurl = "http://%s"\n' "$UPSTREAM_ADDR" >"$conf"
        local url="http://127.0.0.1:$PORT$GATEWAY_PATH" name auth
        for name in "$jwt_row" "$key_row"; do
            want "$name" || continue
            if [ "$name" = "$jwt_row" ]; then auth="Authorization: Bearer $TOKEN"; else auth="X-API-KEY: $KEY"; fi
            if ! gateway_cutover_start "$conf"; then
                gateway_unavailable "$name" "this build does not start with an \`[[upstreams]]\` table (see the server log)"
                continue
            fi
            if ! gateway_reaches_upstream "$url" -H "$auth"; then
                gateway_unavailable "$name" "this build does not proxy \`/bench\` to its upstream"
            elif [ "$name" = "$jwt_row" ]; then
                row "$name" "$SERVER" -- -s "$BENCH_D/rotate.lua" "$url"
            else
                row "$name" "$SERVER" -- -s "$BENCH_D/plain.lua" -H "$auth" "$url"
            fi
            stop "$SERVER"
        done
    fi
    stop "$UPSTREAM_PID"
}
