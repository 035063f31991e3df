//! Conformance suite: one test per emulated behaviour, each naming the reference section
//! (`docs/graph-behaviour.md`) it checks. Plain reqwest against a real HTTPS emulator per
//! test (127.0.0.1:0), plus the real azure_identity credentials for the token tests.

/// Starting emulators, fetching tokens, calling Graph, waiting for conditions.
mod helpers;

/// Admin API, request log, counters, reset, fixture loading, traceparent.
mod admin;
/// graph-behaviour §13 401/403, request-id and client-request-id on every response.
mod auth;
/// graph-behaviour §16 Temporary Access Pass: methods, policy, bounds, refusals.
mod auth_methods;
/// graph-behaviour §5–§8 Autopilot import, device identities, sync, Entra devices.
mod autopilot;
/// graph-behaviour §19 Autopilot deployment events (beta autopilotEvents).
mod autopilot_events;
/// graph-behaviour §4 JSON batching.
mod batch;
/// The emulated calendar at days per second: graph-behaviour §2 provisioning lags; graph-behaviour §16 TAP validity.
mod calendar;
/// The `graph-emulator` binary: flags, start-up time, CA file, SIGTERM.
mod cli;
/// Delegated tokens: the password grant (graph-behaviour §12's endpoint), the MDM policy (graph-behaviour §10), `scp` (graph-behaviour §13).
mod delegated;
/// graph-behaviour §18 profile assignment status over time; graph-behaviour §21 partner registrations, updateDeviceProperties.
mod deployment;
/// graph-behaviour §20 device preparation policies, device group validation, owners, service principals.
mod device_preparation;
/// graph-behaviour §11 throttling, injected faults.
mod faults;
/// graph-behaviour §3 group membership writes and reads, paging.
mod groups;
/// graph-behaviour §9 corporate identifiers; graph-behaviour §10 read-only configuration.
mod intune_config;
/// graph-behaviour §17 manager and sendMail, the outbox, faults on sendMail.
mod mail;
/// App Service managed identity (stack §3), with the real ManagedIdentityCredential.
mod managed_identity;
/// graph-behaviour §1 device registration policy.
mod policy;
/// Same seed + same requests = same answers (proptest).
mod seed;
/// graph-behaviour §12 token endpoint, with the real azure_identity credentials; managed identity.
mod token;
/// graph-behaviour §2 users: keys, escaping, filters, provisioning lag, creation.
mod users;
