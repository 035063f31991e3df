//! onboardctl behaves like its neighbours: shell completions and a manual page generated from
//! its clap definitions, errors also as one JSON object under `--output json`, and no colour with
//! `NO_COLOR` set. The built binary, run as an admin would run it.

use std::process::{Command, Output};

use e2e::TestEnv;
use graph_emulator::demo;

/// Every verb and the `dead` and `trace` verbs under them.
const VERBS: &[&str] = &[
    "publish",
    "preflight",
    "status",
    "dead",
    "trace",
    "completions",
    "man",
];
const SUB_VERBS: &[&str] = &["list", "show", "replay", "purge", "collect"];

fn onboardctl(args: &[&str]) -> Output {
    Command::new(e2e::binary("onboardctl"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("onboardctl runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn cli_bash_completions_name_every_verb() {
    let out = onboardctl(&["completions", "bash"]);

    let script = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(script.contains("complete -F"), "a bash script: {script}");
    for verb in VERBS.iter().chain(SUB_VERBS) {
        assert!(script.contains(verb), "completes {verb}");
    }
    assert!(script.contains("--reason-contains"), "and the verbs' flags");
}

#[test]
fn cli_the_man_page_renders_with_every_verb() {
    let out = onboardctl(&["man"]);

    let roff = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        roff.contains(".TH onboardctl 1"),
        "a section-1 page: {roff}"
    );
    assert!(roff.contains(".SH SUBCOMMANDS"), "{roff}");
    for verb in VERBS {
        assert!(roff.contains(&format!("onboardctl\\-{verb}(1)")), "{verb}");
    }
    // Rendered as `man` shows it, where man(1) is installed (it is on our machines and CI's).
    if let Some(page) = rendered_by_man(&out.stdout) {
        assert!(page.contains("NAME"), "{page}");
        for verb in VERBS {
            assert!(
                page.contains(&format!("onboardctl-{verb}(1)")),
                "{verb}: {page}"
            );
        }
    }
}

/// The page as `man -l -` renders it, or `None` without man(1).
fn rendered_by_man(roff: &[u8]) -> Option<String> {
    use std::io::Write as _;
    let mut man = Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    man.stdin.take()?.write_all(roff).ok()?;
    let out = man.wait_with_output().ok()?;
    out.status.success().then(|| text(&out.stdout))
}

#[test]
fn cli_a_failure_under_output_json_is_one_json_object_with_its_causes() {
    let missing = std::env::temp_dir().join("onboardctl-no-such-settings.toml");
    let missing = missing.to_str().unwrap();

    let failed = onboardctl(&[
        "--output",
        "json",
        "--config",
        missing,
        "status",
        "--user",
        "ada@contoso.test",
    ]);
    let refused = onboardctl(&["dead", "list", "--service", "nobody", "--output=json"]);

    for (out, code) in [(failed, 1), (refused, 2)] {
        let stdout = text(&out.stdout);
        let report: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {stdout}"));
        assert_eq!(out.status.code(), Some(code), "{stdout}");
        assert_eq!(report["exit_code"], code, "{report}");
        assert!(
            report["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{report}"
        );
        assert!(report["causes"].is_array(), "{report}");
        let said = text(&out.stderr);
        let first = report["error"].as_str().unwrap_or_default();
        assert!(said.contains(first), "and for a person on stderr: {said}");
    }
}

#[tokio::test]
async fn cli_no_color_leaves_no_escape_codes_in_logs_on_a_terminal() {
    let env = TestEnv::spawn("cli_no_color").await;
    // Debug logs of a publish to this test's exchange (lapin's channel set-up among them): on
    // a terminal the pretty log format colours every level. Whether the event is routed does
    // not matter here.
    let on_terminal = |no_color: bool| {
        let command = format!(
            "{} publish hire --employee-id E1001 --upn {}",
            e2e::binary("onboardctl").display(),
            demo::UPN_ADA
        );
        let mut script = tokio::process::Command::new("script");
        script
            .args(["--quiet", "--return", "--command", &command, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TERM", "xterm")
            .env("RUST_LOG", "debug")
            .envs(env.service_env(demo::ONBOARDCTL, &[]))
            .stdin(std::process::Stdio::null());
        if no_color {
            script.env("NO_COLOR", "1");
        }
        script.output()
    };

    let coloured = on_terminal(false).await.expect("script(1) runs");
    let plain = on_terminal(true).await.expect("script(1) runs");

    let (coloured, plain) = (text(&coloured.stdout), text(&plain.stdout));
    assert!(
        coloured.contains("DEBUG"),
        "debug logs were drawn: {coloured}"
    );
    assert!(
        coloured.contains("\x1b["),
        "colour without NO_COLOR: {coloured}"
    );
    assert!(plain.contains("DEBUG"), "debug logs were drawn: {plain}");
    assert!(
        !plain.contains('\x1b'),
        "no escape code with NO_COLOR: {plain:?}"
    );
    env.finish().await;
}
