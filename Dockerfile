# syntax=docker/dockerfile:1
# cutover's container image: a release build on Debian bookworm, run on bookworm-slim as a
# non-root user. Build: `docker build -t cutover .` (README: "Run it on AWS").
#
# Offline, where no registry is reachable (scripts/image): the target `host` takes the binary
# built on the host, the file `cutover` at the root of the build context, and BASE names a Debian
# bookworm image imported locally (mmdebstrap):
#   podman build --target host --build-arg BASE=localhost/cutover-base DIR
# Only the stages the target needs are built (BuildKit, buildah), so that pulls no rust image.

# The runtime base: debian:bookworm-slim, or any Debian bookworm (the binary links its glibc).
ARG BASE=debian:bookworm-slim

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

# Everything but the binary, shared by both ways of building the image.
FROM ${BASE} AS runtime
# CA certificates: the AWS SDK, the JWKS fetch and Redis over TLS verify servers against them.
# Installed only when the base lacks them (an mmdebstrap base has them, and no network).
# hadolint ignore=DL3008
RUN if [ "$(dpkg-query -W -f='${db:Status-Status}' ca-certificates 2>/dev/null)" != installed ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --system --uid 10001 --home-dir /var/lib/cutover --create-home cutover
USER 10001:10001
WORKDIR /var/lib/cutover
# Listen on every interface inside the container; the task's security groups decide who reaches
# which port (the admin listener only from the load balancer, on the console's host name, and
# only for signed-in operators: see rollout/service.yaml).
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

# The offline image: a binary built outside (scripts/image: the host's target/debug or
# target/release on Debian bookworm), from a build context that holds only that file.
FROM runtime AS host
COPY cutover /usr/local/bin/cutover

# The default image (last, so a build without --target makes it): the release build above.
FROM runtime
COPY --from=build /usr/local/bin/cutover /usr/local/bin/cutover
