# syntax=docker/dockerfile:1
# cutover's container image: a release build on Debian bookworm, run on bookworm-slim as a
# non-root user. Build: `docker build -t cutover .` (README: "Run it on AWS").

# The toolchain the repository is built and tested with.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Dependencies first, in a layer of their own: it is rebuilt only when Cargo.toml or Cargo.lock
# change, not on every source edit. The stubs stand in for the targets the manifest declares.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && for b in auth_hot_path limiter_memory verify; do echo 'fn main() {}' > "benches/$b.rs"; done \
    && cargo build --release --locked \
    && rm -rf src benches

# The sources, and what they include at compile time (the dashboard and alarm templates).
COPY src src
COPY benches benches
COPY dashboards dashboards
# The stubs' build left newer timestamps behind; touch so cargo rebuilds the real crate.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/cutover /usr/local/bin/cutover

FROM debian:bookworm-slim
# CA certificates: the AWS SDK, the JWKS fetch and Redis over TLS verify servers against them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/cutover --create-home cutover
COPY --from=build /usr/local/bin/cutover /usr/local/bin/cutover

USER 10001:10001
WORKDIR /var/lib/cutover
# Listen on every interface inside the container; the task's security groups decide who reaches
# which port (the admin listener only from inside the VPC, see rollout/service.yaml).
ENV CUTOVER_LISTEN=0.0.0.0:8080 \
    CUTOVER_ADMIN_LISTEN=0.0.0.0:9090 \
    CUTOVER_DATA_DIR=/var/lib/cutover \
    CUTOVER_LOG_FORMAT=json
EXPOSE 8080 9090

# Liveness only (`/healthz`, no curl needed); readiness (`/readyz`) is the load balancer's.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["cutover", "healthcheck"]

ENTRYPOINT ["cutover"]
CMD ["serve"]
