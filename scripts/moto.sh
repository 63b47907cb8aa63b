# Sourced by scripts/test: installs moto (and the linters scripts/test runs: cfn-lint,
# openapi-spec-validator; and PyJWT, the independent verifier of the gateway's assertions in the
# API suite) into .venv-aws, starts it on a free loopback port and
# exports the AWS variables the SDK reads. `moto_stop` stops it by pid.

MOTO_VERSION=5.2.5
VENV="${AWS_TEST_VENV:-$PWD/.venv-aws}"  # not CUTOVER_*: the service refuses unknown CUTOVER_ settings it inherits
MOTO_LAUNCHER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/moto_server.py"

moto_install() {
    if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ] \
        || [ ! -x "$VENV/bin/openapi-spec-validator" ] \
        || ! "$VENV/bin/python" -c 'import jwt' 2>/dev/null; then
        echo "installing moto $MOTO_VERSION, cfn-lint and openapi-spec-validator into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            "moto[server]==$MOTO_VERSION" boto3 cfn-lint openapi-spec-validator \
            "PyJWT[crypto]==2.10.1" >&2
    fi
}

moto_start() {
    moto_install
    MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    MOTO_LOG="${TMPDIR:-/tmp}/cutover-moto-$MOTO_PORT.log"
    # moto's server with DynamoDB's per-item atomicity (scripts/moto_server.py says why).
    "$VENV/bin/python" "$MOTO_LAUNCHER" -H 127.0.0.1 -p "$MOTO_PORT" \
        >"$MOTO_LOG" 2>&1 </dev/null &
    MOTO_PID=$!
    # By the clock, generously: a busy machine can take many seconds to import moto.
    local deadline=$((SECONDS + 120))
    until curl -sf -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/"; do
        if ! kill -0 "$MOTO_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            echo "moto did not start within 120 s; its log:" >&2; cat "$MOTO_LOG" >&2; return 1
        fi
        sleep 0.1
    done
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
        AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
    # The test suite asks for its moto site-packages (Cognito's signing key) and port here.
    export TEST_MOTO_VENV="$VENV"
    echo "moto $MOTO_VERSION on 127.0.0.1:$MOTO_PORT (pid $MOTO_PID, log $MOTO_LOG)" >&2
}

moto_stop() {
    if [ -n "${MOTO_PID:-}" ]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
        MOTO_PID=
    fi
}
