//! Conformance suite: one test per emulated behaviour, each naming the reference section
//! (`shared/graph-reference.md`) it checks. Plain reqwest against a real HTTPS emulator per
//! test (127.0.0.1:0), plus the real azure_identity credentials for the token tests.

/// Starting emulators, fetching tokens, calling Graph, waiting for conditions.
mod helpers;

/// Admin API, request log, counters, reset, fixture loading, traceparent.
mod admin;
/// §13 401/403, request-id and client-request-id on every response.
mod auth;
/// §5–§8 Autopilot import, device identities, sync, Entra devices.
mod autopilot;
/// §4 JSON batching.
mod batch;
/// The `graph-emulator` binary: flags, start-up time, CA file, SIGTERM.
mod cli;
/// Delegated tokens: the password grant (§12's endpoint), the MDM policy (§10), `scp` (§13).
mod delegated;
/// §11 throttling, injected faults.
mod faults;
/// §3 group membership writes and reads, paging.
mod groups;
/// §9 corporate identifiers; §10 read-only configuration.
mod intune_config;
/// App Service managed identity (stack-notes §3), with the real ManagedIdentityCredential.
mod managed_identity;
/// §1 device registration policy.
mod policy;
/// Same seed + same requests = same answers (proptest).
mod seed;
/// §12 token endpoint, with the real azure_identity credentials; managed identity.
mod token;
/// §2 users: keys, escaping, filters, provisioning lag, creation.
mod users;
