//! The `automatic-enrollment` step: MDM user scope, Intune's MDM policy (graph-behaviour §10), which
//! decides whose devices enroll in Intune when they join Entra. Graph refuses it to every
//! application ("Application: Not supported"), so without a person's sign-in the step is
//! `manual` and says how to check it: the portal path, or `--delegated azure-cli`. With that
//! option this one read is made with the Azure CLI's signed-in account (`delegated.rs`) and
//! judged against the groups the new-hire service puts every hire in.
//!
//! Not for: any other read. Every other step keeps the configured app's credential, whose
//! permissions are what preflight judges.

use graph::{GroupId, MdmScope};
use shared::config::{JoinMode, NewHireSettings, Settings};

use super::delegated::{self, SignedIn, Unread};
use crate::readiness::Step;

const STEP: &str = "automatic-enrollment";
/// Where an admin checks automatic enrollment by hand.
pub const MDM_PORTAL_PATH: &str =
    "Microsoft Intune admin center > Devices > Enrollment > Windows > Automatic Enrollment";
const HOW_TO_CHECK: &str = "or let preflight read it: sign in with `az login` as a user with \
    a reader role (e.g. Global Reader) and run `onboardctl preflight --delegated azure-cli`";

/// Whose sign-in reads what application permissions cannot (MDM user scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DelegatedSignIn {
    /// The account signed in to the Azure CLI (`az login`); its token needs the delegated
    /// permission Policy.Read.All, and the user a reader role (Global Reader, Intune
    /// Administrator, ...).
    AzureCli,
}

/// The step: `manual` without a sign-in; with one, the scope read and judged.
pub async fn step(settings: &Settings, sign_in: Option<DelegatedSignIn>) -> Step {
    let Some(DelegatedSignIn::AzureCli) = sign_in else {
        return Step::manual(
            STEP,
            "MDM user scope cannot be read with application permissions (Graph: \"Application: Not supported\")",
            format!(
                "check by hand that MDM user scope is All, or Some with the join group: {MDM_PORTAL_PATH}; {HOW_TO_CHECK}"
            ),
        );
    };
    match delegated::read_mdm_scope(settings).await {
        Ok((scope, who)) => {
            let mut step = judge(&scope, &HireGroups::of(&settings.new_hire));
            step.found = format!("{} (read as {})", step.found, who.describe());
            step
        }
        Err(unread) => unread_step(&unread, settings),
    }
}

/// The groups new-hire makes hires direct members of: every hire (the join group in mode
/// `group`, and `new_hire.groups`), and per department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HireGroups {
    pub join_mode: JoinMode,
    pub every_hire: Vec<(GroupId, &'static str)>,
    pub by_department: Vec<(String, GroupId)>,
}

impl HireGroups {
    pub fn of(cfg: &NewHireSettings) -> HireGroups {
        let mut every_hire = Vec::new();
        if cfg.join_mode == JoinMode::Group && !cfg.join_group_id.is_empty() {
            every_hire.push((GroupId::new(cfg.join_group_id.clone()), "the join group"));
        }
        for g in &cfg.groups {
            every_hire.push((GroupId::new(g.clone()), "new_hire.groups"));
        }
        let by_department = cfg
            .department_groups
            .iter()
            .flat_map(|(dept, ids)| ids.iter().map(|g| (dept.clone(), GroupId::new(g.clone()))))
            .collect();
        HireGroups {
            join_mode: cfg.join_mode,
            every_hire,
            by_department,
        }
    }

    /// What to include in MDM user scope: the first group every hire joins.
    fn suggestion(&self) -> String {
        match self.every_hire.first() {
            Some((g, label)) => format!("add {g} ({label}) to MDM user scope > Some, or set it to All"),
            None => "set MDM user scope to All, or put every hire in a group (new_hire.groups) and add it to MDM user scope > Some".into(),
        }
    }
}

/// Judges a scope that was read. A `selected` scope covers the hires when it includes a group
/// new-hire makes **every** hire a direct member of; a group that merely contains one of those
/// (nesting) is not counted, and department groups cover only their department.
pub fn judge(scope: &MdmScope, hires: &HireGroups) -> Step {
    let MdmScope::Readable {
        applies_to,
        included_groups,
    } = scope
    else {
        return Step::manual(
            STEP,
            "MDM user scope cannot be read with application permissions",
            format!("check it by hand: {MDM_PORTAL_PATH}"),
        );
    };
    match applies_to.as_str() {
        "all" => Step::ready(
            STEP,
            "MDM user scope: All: every user's device enrolls in Intune",
        ),
        "none" => Step::blocked(
            STEP,
            "MDM user scope: None: devices join Entra but do not enroll in Intune",
            format!("{}: {MDM_PORTAL_PATH}", hires.suggestion()),
        ),
        "selected" => judge_selected(included_groups, hires),
        other => Step::manual(
            STEP,
            format!("MDM user scope has a value this tool does not know: {other}"),
            format!("check it by hand: {MDM_PORTAL_PATH}"),
        ),
    }
}

fn judge_selected(included: &[GroupId], hires: &HireGroups) -> Step {
    if let Some((g, label)) = hires.every_hire.iter().find(|(g, _)| included.contains(g)) {
        return Step::ready(
            STEP,
            format!(
                "MDM user scope: Some, including {g} ({label}): every hire is made a direct member of it, so their devices enroll"
            ),
        );
    }
    let listed = if included.is_empty() {
        "no group".to_owned()
    } else {
        included
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut found = match hires.every_hire.as_slice() {
        [] => format!(
            "MDM user scope: Some ({listed}), and no configured group holds every hire (join_mode {:?}, new_hire.groups empty)",
            hires.join_mode
        ),
        candidates => format!(
            "MDM user scope: Some ({listed}), but not {}: hires outside the included groups will not enroll",
            candidates
                .iter()
                .map(|(g, label)| format!("{g} ({label})"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    let departments: Vec<&str> = hires
        .by_department
        .iter()
        .filter(|(_, g)| included.contains(g))
        .map(|(d, _)| d.as_str())
        .collect();
    if !departments.is_empty() {
        found.push_str(&format!(
            "; only hires of {} are covered (their department group is included)",
            departments.join(", ")
        ));
    }
    Step::blocked(
        STEP,
        found,
        format!("{}: {MDM_PORTAL_PATH}", hires.suggestion()),
    )
}

/// Why the read did not happen, as a `manual` step naming the cause and the portal path.
fn unread_step(unread: &Unread, settings: &Settings) -> Step {
    let by_hand = format!("or check by hand: {MDM_PORTAL_PATH}");
    let tenant = &settings.graph.tenant_id;
    let (found, fix) = match unread {
        Unread::NotSignedIn(said) => (
            format!("MDM user scope not read: the Azure CLI is not signed in (az: {said})"),
            format!(
                "run `az login --tenant {tenant}` as a user with a reader role and run preflight again; {by_hand}"
            ),
        ),
        Unread::NoAzureCli(said) => (
            format!("MDM user scope not read: the Azure CLI (az) was not found ({said})"),
            format!(
                "install the Azure CLI and sign in with `az login --tenant {tenant}`; {by_hand}"
            ),
        ),
        Unread::NoToken(said) => (
            format!("MDM user scope not read: the Azure CLI gave no token ({said})"),
            format!("check `az account get-access-token --tenant {tenant}`; {by_hand}"),
        ),
        Unread::Refused(who) => refused(who, &by_hand),
        Unread::Failed(said) => (
            format!("MDM user scope could not be read with the Azure CLI's sign-in: {said}"),
            by_hand.clone(),
        ),
    };
    Step::manual(STEP, found, fix)
}

/// A 403 with a delegated token: the scope is missing from its `scp`, or the user lacks a role.
fn refused(who: &SignedIn, by_hand: &str) -> (String, String) {
    if who.has_policy_read() {
        (
            format!(
                "Graph refused the MDM policy to {} (403): the account needs a role that may read it",
                who.describe()
            ),
            format!(
                "use an account with Global Reader, Intune Administrator, Windows 365 Administrator or Cloud Device Administrator; {by_hand}"
            ),
        )
    } else {
        (
            format!(
                "Graph refused the MDM policy to {} (403): the token's delegated permissions ({}) lack Policy.Read.All",
                who.describe(),
                who.scopes_text()
            ),
            format!(
                "an admin consents Policy.Read.All (delegated) for the Azure CLI app 04b07795-8ddb-461a-bbee-02f9e1bf7b46 (docs/operations.md); {by_hand}"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readiness::State;

    const JOIN: &str = "join";
    const ALL_HIRES: &str = "everyone";
    const SALES: &str = "sales";

    fn hires(join_mode: JoinMode) -> HireGroups {
        let mut every_hire = Vec::new();
        if join_mode == JoinMode::Group {
            every_hire.push((GroupId::new(JOIN), "the join group"));
        }
        every_hire.push((GroupId::new(ALL_HIRES), "new_hire.groups"));
        HireGroups {
            join_mode,
            every_hire,
            by_department: vec![("Sales".into(), GroupId::new(SALES))],
        }
    }

    fn scope(applies_to: &str, groups: &[&str]) -> MdmScope {
        MdmScope::Readable {
            applies_to: applies_to.into(),
            included_groups: groups.iter().map(|g| GroupId::new(*g)).collect(),
        }
    }

    #[test]
    fn scope_is_judged_against_the_groups_every_hire_joins() {
        let none = HireGroups {
            join_mode: JoinMode::All,
            every_hire: vec![],
            by_department: vec![],
        };
        let cases: Vec<(&str, MdmScope, HireGroups, State, &str)> = vec![
            (
                "all",
                scope("all", &[]),
                hires(JoinMode::Group),
                State::Ready,
                "All",
            ),
            (
                "selected, join group",
                scope("selected", &[JOIN]),
                hires(JoinMode::Group),
                State::Ready,
                "including join (the join group)",
            ),
            (
                "selected, every-hire group",
                scope("selected", &[ALL_HIRES]),
                hires(JoinMode::Users),
                State::Ready,
                "new_hire.groups",
            ),
            (
                "selected, other group",
                scope("selected", &["other"]),
                hires(JoinMode::Group),
                State::Blocked,
                "but not join (the join group) or everyone",
            ),
            (
                "selected, department only",
                scope("selected", &[SALES]),
                hires(JoinMode::Group),
                State::Blocked,
                "only hires of Sales are covered",
            ),
            (
                "selected, empty",
                scope("selected", &[]),
                hires(JoinMode::Group),
                State::Blocked,
                "Some (no group)",
            ),
            (
                "selected, no hire group",
                scope("selected", &["x"]),
                none,
                State::Blocked,
                "no configured group holds every hire",
            ),
            (
                "none",
                scope("none", &[]),
                hires(JoinMode::Group),
                State::Blocked,
                "None",
            ),
            (
                "unknown value",
                scope("some", &[]),
                hires(JoinMode::Group),
                State::Manual,
                "does not know: some",
            ),
            (
                "refused",
                MdmScope::NotReadableWithApplicationPermissions,
                hires(JoinMode::Group),
                State::Manual,
                "cannot be read",
            ),
        ];
        for (case, scope, hires, state, needle) in cases {
            let step = judge(&scope, &hires);
            assert_eq!(step.state, state, "{case}: {step:?}");
            assert!(step.found.contains(needle), "{case}: {}", step.found);
            if state == State::Blocked {
                let fix = step.fix.as_deref().unwrap_or_default();
                assert!(fix.contains(MDM_PORTAL_PATH), "{case}: {fix}");
            }
        }
    }

    #[test]
    fn a_blocked_scope_names_the_join_group_to_add() {
        let step = judge(&scope("none", &[]), &hires(JoinMode::Group));
        assert!(
            step.fix
                .unwrap()
                .starts_with("add join (the join group) to MDM user scope > Some")
        );
    }
}
