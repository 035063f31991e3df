# syntax=docker/dockerfile:1.7
# Two images from one build:
#   runtime (the default, last stage): new-hire | device-purchased | device-shipped | onboardctl
#     on a distroless base; the container's command picks the binary.
#   emulator (--target emulator): the Graph emulator, test infrastructure for compose and the
#     dev overlay only. It is a token issuer, so it never ships in the production image.
# Build:  docker build -t onboarding:dev .
#         docker build --target emulator -t onboarding-emulator:dev .
# Run:    docker run --rm onboarding:dev new-hire --help

ARG RUST_IMAGE=rust:1.95-bookworm
# distroless/cc: glibc, libgcc, CA roots and a nonroot user (65532), no shell, no package
# manager. Same Debian release as the builder, so the binaries find the glibc they linked.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG EMULATOR_IMAGE=debian:bookworm-slim

# --- planner: a dependency-only "recipe" so the expensive layer below is reused until
# Cargo.toml/Cargo.lock change, whatever the workspace layout (members come and go).
FROM ${RUST_IMAGE} AS chef
# cargo-chef is pinned so a rebuild months from now produces the same recipe format.
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --- cook: every dependency of the workspace compiled once; both builds below start here.
FROM chef AS cook
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

# --- build: the production binaries, named one by one (not --workspace), so features are
# unified over what ships only and the emulator binary is never built into this stage.
FROM cook AS build
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo build --release --locked \
        --bin new-hire --bin device-purchased --bin device-shipped --bin onboardctl \
 && mkdir -p /out \
 && for bin in new-hire device-purchased device-shipped onboardctl; do \
        install -m 0755 "target/release/${bin}" "/out/${bin}"; \
    done

# --- build-emulator: the Graph emulator alone, for the emulator image below.
FROM cook AS build-emulator
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo build --release --locked --bin graph-emulator \
 && install -D -m 0755 target/release/graph-emulator /out/graph-emulator

# --- emulator: debian-slim rather than distroless, because compose's healthcheck tests the
# CA file and the port with bash, and the dev overlay's publish-emulator-ca.sh reads the CA
# with `kubectl exec … cat`.
FROM ${EMULATOR_IMAGE} AS emulator
RUN groupadd --system --gid 65532 onboarding \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin onboarding \
 && install -d -o 65532 -g 65532 -m 0755 /var/lib/onboarding/ca
COPY --from=build-emulator /out/graph-emulator /usr/local/bin/graph-emulator
# /var/lib/onboarding/ca exists, owned by the runtime user, so a fresh docker named volume
# mounted there inherits that owner and the emulator can write its CA into it (--ca-out).
USER 65532:65532
WORKDIR /tmp
EXPOSE 8443
ENV RUST_BACKTRACE=1
CMD ["graph-emulator", "--help"]

# --- runtime (last stage: what `docker build .` produces): the services and onboardctl.
# The services reach Graph and Entra over TLS (rustls with the platform verifier reads the
# system roots the base image ships). Health checks need no shell: every service binary
# answers `--probe live|ready` against its own /healthz or /readyz (exit 0 healthy, 1 not).
FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=build /out/ /usr/local/bin/
# Numeric user so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
WORKDIR /tmp
# The health/metrics listener of every service (set ONBOARDING__HTTP__LISTEN=0.0.0.0:9464).
EXPOSE 9464
ENV RUST_BACKTRACE=1
# No HEALTHCHECK here: the command picks the binary (onboardctl has no listener), so compose
# sets one per service (`<service> --probe ready`) and Kubernetes uses its httpGet probes.
# No default service: say which one to run. Kubernetes and compose always set the command.
CMD ["onboardctl", "--help"]
