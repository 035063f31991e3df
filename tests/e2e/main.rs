//! The one end-to-end test binary: the real RabbitMQ on this machine, the Graph emulator over
//! HTTPS, the real azure_identity credential, services running in-process (the SIGTERM test
//! runs the built binary). Every test owns its broker names and its emulator, so they run in
//! parallel. `TEST_LOG=debug` shows the services' logs; `TEST_PATIENCE=3` stretches deadlines.

// New hires: the three join modes, idempotency, provisioning lag, concurrency, shadow mode.
mod new_hire;
// What the new-hire binary warns about at start (the device quota floor).
mod new_hire_start;
// Shipped devices: assignment, duplicates, someone else's device, waiting for the device or the user.
mod device_shipped;
// What goes to the dead-letter queue, at once, and why: bad input and missing permissions.
mod dead_letters;
// Throttling storms, cut broker connections and SIGTERM: nothing lost, nothing done twice.
mod resilience;
// Our Graph client against the emulator: escaping, paging, credentials.
mod graph_client;
// onboardctl publish --from-csv: sample files, 5,000 rows, the same file twice.
mod cli_publish;
// The three services together, events in the worst order.
mod converge;
// The README's main job (scripts/demo: the onboard-demo binary) as a test.
mod demo;
// The README's walk-through on scripts/stack: feed, break, dead letter, trace, fix, replay.
mod walkthrough;
// The README stays true to the code.
mod docs;
// Purchased devices: Autopilot import followed on the broker, device group, sync, errors.
mod device_purchased;
// onboardctl's operator verbs: dead letters (list, show, replay, purge).
mod cli_dead;
// onboardctl preflight: the ready demo tenant, and each missing piece reported.
mod cli_preflight;
// onboardctl status: users and devices ready, pending or blocked; HR start dates.
mod cli_status;
// `<service> --probe live|ready`, the health check of the distroless image: exit codes.
mod probe;
// onboardctl like its neighbours: completions, man page, JSON errors, NO_COLOR.
mod cli_conventions;
