//! `onboardctl`: the operator's command-line tool. (Verbs are added as they land.)
#![forbid(unsafe_code)]

mod intake;

fn main() {}
