//! The single writer of the device registration policy within a process. Graph has no ETag
//! for this object and PUT replaces it whole, so two concurrent read-modify-writes lose one of
//! the additions. Here, callers queue their additions; whoever gets the turn folds everything
//! queued into one GET → modify → PUT, re-reads to verify each addition landed, and folds again
//! (bounded) when another replica's PUT replaced ours.
//!
//! Not for: the rails (`policy.rs`, applied by the store's write) or HTTP (`ops_directory.rs`
//! implements [`PolicyStore`] for the real client; tests use an in-memory store).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::error::GraphError;
use super::model::UserId;
use super::policy::{JoinScope, RegistrationPolicy};

/// Where the policy is read from and written to.
pub trait PolicyStore: Send + Sync + 'static {
    fn read_policy(&self) -> impl Future<Output = Result<RegistrationPolicy, GraphError>> + Send;
    /// Writes `desired`, derived from `read` (the store checks the rails between the two).
    fn write_policy(
        &self,
        read: &RegistrationPolicy,
        desired: &RegistrationPolicy,
    ) -> impl Future<Output = Result<Written, GraphError>> + Send;
}

/// Whether a write reached Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Sent,
    /// Shadow mode: logged and counted, not sent.
    Shadowed,
}

/// What `ensure_users_allowed_to_join` found or did for the caller's users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// `allowedToJoin` is "all": nothing to add.
    EveryoneMayJoin,
    /// `allowedToJoin` is "none": an admin turned joining off; we do not switch it on.
    NobodyMayJoin,
    /// Every user was already in the Selected list.
    AlreadyAllowed,
    /// At least one user was added and verified present (shadow mode: would have been added).
    Added,
}

/// Retries of the fold after a verification read shows an addition was lost.
pub const MAX_FOLD_ROUNDS: u32 = 3;

struct Pending {
    users: Vec<UserId>,
    reply: oneshot::Sender<Result<JoinOutcome, GraphError>>,
}

struct Inner<S> {
    store: S,
    queue: Mutex<Vec<Pending>>,
    // Held for the whole GET → PUT → verify of one fold; the std mutex above only guards the
    // queue and is never held across an await.
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// Cheap to clone; all clones share one queue.
pub struct PolicyWriter<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for PolicyWriter<S> {
    fn clone(&self) -> Self {
        PolicyWriter {
            inner: self.inner.clone(),
        }
    }
}

impl<S: PolicyStore> PolicyWriter<S> {
    pub fn new(store: S) -> Self {
        PolicyWriter {
            inner: Arc::new(Inner {
                store,
                queue: Mutex::new(Vec::new()),
                turn: Arc::new(tokio::sync::Mutex::new(())),
            }),
        }
    }

    /// Ensures `users` are in `azureADJoin.allowedToJoin` (Selected). Safe to repeat and to
    /// call concurrently: concurrent callers share one policy write.
    pub async fn ensure_users_allowed_to_join(
        &self,
        users: &[UserId],
    ) -> Result<JoinOutcome, GraphError> {
        let (reply, answer) = oneshot::channel();
        self.queue().push(Pending {
            users: users.to_vec(),
            reply,
        });
        let turn = self.inner.turn.clone().lock_owned().await;
        let batch = std::mem::take(&mut *self.queue());
        if !batch.is_empty() {
            let inner = self.inner.clone();
            // Spawned, so that a caller cancelled mid-write cannot abandon the others' fold.
            tokio::spawn(async move {
                inner.serve(batch).await;
                drop(turn);
            });
        } else {
            // An earlier turn already served our additions; its answer is waiting for us.
            drop(turn);
        }
        answer.await.unwrap_or(Err(GraphError::PolicyWriteLost {
            missing: users.len(),
            rounds: 0,
        }))
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // A poisoned queue only means a panic elsewhere; the Vec itself is still consistent.
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The end state of one fold.
enum Folded {
    All,
    Nobody,
    Selected {
        added: BTreeSet<UserId>,
        missing: BTreeSet<UserId>,
        rounds: u32,
    },
}

impl Folded {
    fn outcome_for(&self, users: &[UserId]) -> Result<JoinOutcome, GraphError> {
        match self {
            Folded::All => Ok(JoinOutcome::EveryoneMayJoin),
            Folded::Nobody => Ok(JoinOutcome::NobodyMayJoin),
            Folded::Selected {
                added,
                missing,
                rounds,
            } => {
                let lost = users.iter().filter(|u| missing.contains(*u)).count();
                if lost > 0 {
                    Err(GraphError::PolicyWriteLost {
                        missing: lost,
                        rounds: *rounds,
                    })
                } else if users.iter().any(|u| added.contains(u)) {
                    Ok(JoinOutcome::Added)
                } else {
                    Ok(JoinOutcome::AlreadyAllowed)
                }
            }
        }
    }
}

impl<S: PolicyStore> Inner<S> {
    async fn serve(&self, batch: Vec<Pending>) {
        let wanted: BTreeSet<UserId> = batch.iter().flat_map(|p| p.users.clone()).collect();
        tracing::debug!(
            callers = batch.len(),
            users = wanted.len(),
            "Folding join-list additions into one policy write."
        );
        let folded = self.fold(&wanted).await;
        for p in batch {
            let answer = match &folded {
                Ok(f) => f.outcome_for(&p.users),
                Err(e) => Err(e.clone()),
            };
            // The caller may have gone away (cancelled); its users were still handled.
            let _ = p.reply.send(answer);
        }
    }

    async fn fold(&self, wanted: &BTreeSet<UserId>) -> Result<Folded, GraphError> {
        let mut policy = self.store.read_policy().await?;
        let mut added = BTreeSet::new();
        for round in 1..=MAX_FOLD_ROUNDS {
            let missing = match missing_from(&policy, wanted)? {
                Scope::All => return Ok(Folded::All),
                Scope::Nobody => return Ok(Folded::Nobody),
                Scope::Missing(m) => m,
            };
            if missing.is_empty() {
                return Ok(selected(added, BTreeSet::new(), round));
            }
            let add: Vec<UserId> = missing.iter().cloned().collect();
            let desired = policy.with_users_added(&add).ok_or_else(not_selected)?;
            let written = self.store.write_policy(&policy, &desired).await?;
            added.extend(missing);
            if written == Written::Shadowed {
                return Ok(selected(added, BTreeSet::new(), round));
            }
            // No ETag: another replica's PUT may have replaced ours. Only a fresh read can tell.
            policy = self.store.read_policy().await?;
        }
        match missing_from(&policy, wanted)? {
            Scope::All => Ok(Folded::All),
            Scope::Nobody => Ok(Folded::Nobody),
            Scope::Missing(m) => {
                if !m.is_empty() {
                    tracing::warn!(
                        missing = m.len(),
                        rounds = MAX_FOLD_ROUNDS,
                        "Join-list additions kept being overwritten by a concurrent writer."
                    );
                }
                Ok(selected(added, m, MAX_FOLD_ROUNDS))
            }
        }
    }
}

enum Scope {
    All,
    Nobody,
    Missing(BTreeSet<UserId>),
}

fn missing_from(
    policy: &RegistrationPolicy,
    wanted: &BTreeSet<UserId>,
) -> Result<Scope, GraphError> {
    match policy.join_scope() {
        Some(JoinScope::All) => Ok(Scope::All),
        Some(JoinScope::Nobody) => Ok(Scope::Nobody),
        Some(JoinScope::Selected { users, .. }) => Ok(Scope::Missing(
            wanted
                .iter()
                .filter(|u| !users.contains(u))
                .cloned()
                .collect(),
        )),
        Some(JoinScope::Unknown(_)) | None => Err(not_selected()),
    }
}

fn not_selected() -> GraphError {
    GraphError::InvalidResponse {
        operation: "allow users to join devices",
        detail:
            "azureADJoin.allowedToJoin has a shape this client does not know; refusing to modify it"
                .into(),
    }
}

fn selected(added: BTreeSet<UserId>, missing: BTreeSet<UserId>, rounds: u32) -> Folded {
    Folded::Selected {
        added,
        missing,
        rounds,
    }
}

#[cfg(test)]
#[path = "policy_writer_tests.rs"]
mod tests;
