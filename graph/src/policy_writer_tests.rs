//! Fold-writer tests over an in-memory store that can play "another replica" by dropping
//! our PUTs. Time is paused: the store's one-second latency only orders events.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::policy::check_rails;
use shared::error::Classify;

/// Simulated Graph latency. Time is paused in these tests, so it orders events (a read in flight
/// while another caller queues an addition) and never makes a test wait.
const STORE_LATENCY: Duration = Duration::from_secs(1);

struct FakeStore {
    policy: Mutex<RegistrationPolicy>,
    reads: AtomicU32,
    writes: AtomicU32,
    /// The next this-many PUTs are overwritten by a concurrent replica (ours is lost).
    lose_writes: AtomicU32,
    shadow: bool,
}

impl PolicyStore for Arc<FakeStore> {
    async fn read_policy(&self) -> Result<RegistrationPolicy, GraphError> {
        tokio::time::sleep(STORE_LATENCY).await;
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.policy.lock().unwrap().clone())
    }

    async fn write_policy(
        &self,
        read: &RegistrationPolicy,
        desired: &RegistrationPolicy,
    ) -> Result<Written, GraphError> {
        check_rails(read, desired)?;
        if self.shadow {
            return Ok(Written::Shadowed);
        }
        tokio::time::sleep(STORE_LATENCY).await;
        self.writes.fetch_add(1, Ordering::SeqCst);
        let lost = self
            .lose_writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !lost {
            *self.policy.lock().unwrap() = desired.clone();
        }
        Ok(Written::Sent)
    }
}

fn store(scope: JoinScope) -> Arc<FakeStore> {
    let policy = serde_json::from_value(serde_json::json!({
        "id": "deviceRegistrationPolicy",
        "userDeviceQuota": 20,
        "azureADRegistration": {"isAdminConfigurable": false},
        "azureADJoin": {"isAdminConfigurable": true, "allowedToJoin": scope},
        "localAdminPassword": {"isEnabled": false}
    }))
    .unwrap();
    Arc::new(FakeStore {
        policy: Mutex::new(policy),
        reads: AtomicU32::new(0),
        writes: AtomicU32::new(0),
        lose_writes: AtomicU32::new(0),
        shadow: false,
    })
}

fn selected(users: &[&str]) -> JoinScope {
    JoinScope::Selected {
        users: users.iter().map(|u| UserId::new(*u)).collect(),
        groups: vec![],
    }
}

fn users_in(s: &FakeStore) -> Vec<UserId> {
    match s.policy.lock().unwrap().join_scope() {
        Some(JoinScope::Selected { users, .. }) => users.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn thirty_concurrent_hires_share_at_most_two_puts() {
    let s = store(selected(&["existing"]));
    let writer = PolicyWriter::new(s.clone());
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let w = writer.clone();
            tokio::spawn(async move {
                w.ensure_users_allowed_to_join(&[UserId::new(format!("u{i}"))])
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(JoinOutcome::Added));
    }
    // The first caller's fold was under way when the other 29 queued; they share the second.
    assert!(
        s.writes.load(Ordering::SeqCst) <= 2,
        "{} PUTs",
        s.writes.load(Ordering::SeqCst)
    );
    let users = users_in(&s);
    assert_eq!(users.len(), 31);
    assert!(users.contains(&UserId::new("existing")));
}

#[tokio::test(start_paused = true)]
async fn users_already_selected_cause_no_write() {
    let s = store(selected(&["u1", "u2"]));
    let writer = PolicyWriter::new(s.clone());
    let got = writer
        .ensure_users_allowed_to_join(&[UserId::new("u2")])
        .await;
    assert_eq!(got, Ok(JoinOutcome::AlreadyAllowed));
    assert_eq!(s.writes.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn all_and_none_scopes_are_reported_and_never_written() {
    for (scope, expected) in [
        (JoinScope::All, JoinOutcome::EveryoneMayJoin),
        (JoinScope::Nobody, JoinOutcome::NobodyMayJoin),
    ] {
        let s = store(scope);
        let got = PolicyWriter::new(s.clone())
            .ensure_users_allowed_to_join(&[UserId::new("u1")])
            .await;
        assert_eq!(got, Ok(expected));
        assert_eq!(s.writes.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test(start_paused = true)]
async fn an_addition_lost_to_another_replica_is_folded_again() {
    let s = store(selected(&[]));
    s.lose_writes.store(1, Ordering::SeqCst);
    let got = PolicyWriter::new(s.clone())
        .ensure_users_allowed_to_join(&[UserId::new("u1")])
        .await;
    assert_eq!(got, Ok(JoinOutcome::Added));
    assert_eq!(s.writes.load(Ordering::SeqCst), 2);
    assert_eq!(users_in(&s), vec![UserId::new("u1")]);
}

#[tokio::test(start_paused = true)]
async fn additions_lost_every_round_end_in_a_transient_error() {
    let s = store(selected(&[]));
    s.lose_writes.store(u32::MAX, Ordering::SeqCst);
    let got = PolicyWriter::new(s.clone())
        .ensure_users_allowed_to_join(&[UserId::new("u1")])
        .await;
    let err = got.unwrap_err();
    assert_eq!(
        err,
        GraphError::PolicyWriteLost {
            missing: 1,
            rounds: MAX_FOLD_ROUNDS
        }
    );
    assert!(err.class().is_transient());
    assert_eq!(s.writes.load(Ordering::SeqCst), MAX_FOLD_ROUNDS);
}

#[tokio::test(start_paused = true)]
async fn shadow_mode_reports_added_without_verifying() {
    let mut fake = Arc::try_unwrap(store(selected(&[]))).ok().unwrap();
    fake.shadow = true;
    let s = Arc::new(fake);
    let got = PolicyWriter::new(s.clone())
        .ensure_users_allowed_to_join(&[UserId::new("u1")])
        .await;
    assert_eq!(got, Ok(JoinOutcome::Added));
    assert_eq!(s.reads.load(Ordering::SeqCst), 1);
    assert!(users_in(&s).is_empty());
}
