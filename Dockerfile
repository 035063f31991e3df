# syntax=docker/dockerfile:1.7
# One image with every binary of the workspace; the container's command picks the service:
#   new-hire | device-purchased | device-shipped | graph-emulator | onboardctl
# Build:  docker build -t onboarding:dev .
# Run:    docker run --rm onboarding:dev new-hire --help

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- planner: a dependency-only "recipe" so the expensive layer below is reused until
# Cargo.toml/Cargo.lock change, whatever the workspace layout (members come and go).
FROM ${RUST_IMAGE} AS chef
# cargo-chef is pinned so a rebuild months from now produces the same recipe format.
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --- builder
FROM chef AS builder
# aws-lc-sys (rustls' crypto provider) compiles C; cmake and clang make its build
# independent of which of its build paths a future version prefers.
# Unpinned on purpose: build tools only, and the base image tag already fixes the release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang \
 && rm -rf /var/lib/apt/lists/*
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is the cache. --locked: the image must build exactly
# what CI tested, never a freshly resolved dependency tree.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo chef cook --release --locked --workspace --recipe-path recipe.json
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo build --release --locked --workspace --bins \
 && mkdir -p /out \
 && for bin in new-hire device-purchased device-shipped graph-emulator onboardctl; do \
        install -m 0755 "target/release/${bin}" "/out/${bin}"; \
    done

# --- runtime: glibc + CA roots, nothing else. The services reach Graph and Entra over
# TLS (rustls with the platform verifier reads the system roots from ca-certificates).
# debian-slim rather than distroless so compose healthchecks can use bash's /dev/tcp.
FROM ${RUNTIME_IMAGE} AS runtime
# ca-certificates unpinned on purpose: a rebuild should pick up revoked or added roots.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 onboarding \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin onboarding \
 && install -d -o 65532 -g 65532 -m 0755 /var/lib/onboarding/ca
COPY --from=builder /out/ /usr/local/bin/
# /var/lib/onboarding/ca exists, owned by the runtime user, so a fresh docker named volume
# mounted there inherits that owner and the emulator can write its CA into it (--ca-out).
# Numeric user so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
WORKDIR /tmp
# The health/metrics listener of every service (set ONBOARDING__HTTP__LISTEN=0.0.0.0:9464)
# and the emulator's HTTPS port (--listen 0.0.0.0:8443).
EXPOSE 9464 8443
ENV RUST_BACKTRACE=1
# No default service: say which one to run. Kubernetes and compose always set the command.
CMD ["onboardctl", "--help"]
