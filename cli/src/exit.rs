//! The exit codes scripts rely on, in one place: every verb returns an [`Exit`], and `main`
//! turns it (or the error a verb failed with) into the process's exit code.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done; everything asked for was done |
//! | 1 | failed (the error is printed with its causes: on stderr, or as JSON on stdout under `--output json`) |
//! | 2 | the command line was wrong (clap's usage error) |
//! | 3 | done in part: some CSV rows were rejected (each reported by line); the rest were published; or `dead replay` republished some selected messages and failed on others (those stay in the dead-letter queue) |
//! | 4 | `preflight`: something in the tenant must be fixed (each BLOCKED step says what); `status`: a user or device is not ready yet (pending) or blocked |
//!
//! Not for: printing anything (`output`, `failure`).

/// How a run ended, as the exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything asked for was done, or everything checked is ready.
    Done,
    /// 1: failed.
    Failed,
    /// 2: the command line was wrong.
    Usage,
    /// 3: done in part (rows rejected, some replays failed).
    Partial,
    /// 4: not ready: `preflight` or `status` found something to fix or not yet done.
    NotReady,
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Partial => 3,
            Exit::NotReady => 4,
        }
    }

    /// `Done` when `ok`, else `otherwise`: most verbs' whole decision.
    pub fn unless(ok: bool, otherwise: Exit) -> Exit {
        if ok { Exit::Done } else { otherwise }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}
