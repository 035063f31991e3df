//! The vocabulary `preflight` and `status` report in: a list of steps in the order an admin
//! follows them (the Autopilot user-driven Entra join steps), each `ready`, `pending`,
//! `blocked` or `manual`, with what was found and, when not ready, what to do.
//!
//! Not for: reading Graph (each verb reads what it needs) or exit codes (`main.rs`).

use graph::GraphError;
use serde::Serialize;

/// Where a step (or a whole subject) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Done; nothing to do.
    Ready,
    /// Not yet, but it will get there without an admin (provisioning lag, an import running).
    Pending,
    /// Will not get there until someone fixes what `fix` says.
    Blocked,
    /// Cannot be read with application permissions: check by hand where `fix` says.
    Manual,
}

impl State {
    fn label(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Pending => "pending",
            State::Blocked => "BLOCKED",
            State::Manual => "manual",
        }
    }
}

/// One step of a readiness report.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Short name, stable for scripts (`join-setting`, `user-device-quota`, ...).
    pub step: String,
    /// Where it stands.
    pub state: State,
    /// What was found, in an admin's words.
    pub found: String,
    /// What to do about it, when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The step could not be judged because Graph refused the read (403).
    #[serde(skip)]
    pub denied: bool,
}

impl Step {
    /// Done: `found` says what is there.
    pub fn ready(step: &str, found: impl Into<String>) -> Step {
        Step {
            step: step.to_owned(),
            state: State::Ready,
            found: found.into(),
            fix: None,
            denied: false,
        }
    }

    /// Not yet, but it will get there without an admin; `fix` says who gets it there.
    pub fn pending(step: &str, found: impl Into<String>, fix: impl Into<String>) -> Step {
        Step {
            step: step.to_owned(),
            state: State::Pending,
            found: found.into(),
            fix: Some(fix.into()),
            denied: false,
        }
    }

    /// An admin must act, as `fix` says.
    pub fn blocked(step: &str, found: impl Into<String>, fix: impl Into<String>) -> Step {
        Step {
            step: step.to_owned(),
            state: State::Blocked,
            found: found.into(),
            fix: Some(fix.into()),
            denied: false,
        }
    }

    /// Unreadable with application permissions: `fix` says where to check by hand.
    pub fn manual(step: &str, found: impl Into<String>, fix: impl Into<String>) -> Step {
        Step {
            step: step.to_owned(),
            state: State::Manual,
            found: found.into(),
            fix: Some(fix.into()),
            denied: false,
        }
    }

    /// A read that failed: the step cannot be judged, which an admin must look at.
    pub fn unreadable(step: &str, what: &str, err: &GraphError) -> Step {
        let mut s = Step::blocked(
            step,
            format!("could not read {what}: {err}"),
            "grant the permission named above to this app registration, or run with one that has it",
        );
        s.denied = matches!(err, GraphError::PermissionDenied { .. });
        s
    }
}

/// The steps, one per line: state, name, what was found, and the fix indented below.
pub fn render(title: &str, steps: &[Step]) -> String {
    // One column for every name of this report, so a long one (`member-of <group id>`) does
    // not push its own line out of line with the rest.
    let width = steps
        .iter()
        .map(|s| s.step.len())
        .max()
        .unwrap_or(0)
        .max(24);
    let mut lines = vec![title.to_owned()];
    for s in steps {
        lines.push(format!(
            "  [{:7}] {:width$} {}",
            s.state.label(),
            s.step,
            s.found
        ));
        if let Some(fix) = &s.fix {
            lines.push(format!("  {:9} {:width$} -> {fix}", "", ""));
        }
    }
    lines.join("\n")
}

/// Whether any step is `blocked` (or, with `pending_counts`, `pending`).
pub fn any_not_ready(steps: &[Step], pending_counts: bool) -> bool {
    steps
        .iter()
        .any(|s| s.state == State::Blocked || (pending_counts && s.state == State::Pending))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_step_name_widens_the_column_for_every_line_of_the_report() {
        let steps = [
            Step::ready("user-exists", "Entra user 1"),
            Step::pending(
                "member-of c1000000-0000-4000-8000-000000000002",
                "not yet a member",
                "wait",
            ),
        ];

        let text = render("user ada@contoso.test: pending", &steps);

        let found_at: Vec<usize> = text
            .lines()
            .skip(1)
            .map(|l| {
                l.find("Entra user")
                    .or_else(|| l.find("not yet"))
                    .or_else(|| l.find("-> "))
                    .expect("every line has its text")
            })
            .collect();
        assert_eq!(found_at.len(), 3, "{text}");
        assert!(found_at.iter().all(|&c| c == found_at[0]), "{text}");
    }

    #[test]
    fn short_step_names_keep_the_usual_column() {
        let text = render("t", &[Step::ready("a", "x")]);

        assert_eq!(
            text.lines().nth(1),
            Some(&*format!("  [ready  ] {:24} x", "a"))
        );
    }
}
