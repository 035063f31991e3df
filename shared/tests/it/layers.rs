//! The AMQP runtime is a one-way stack (`shared/src/amqp/mod.rs`): each module may use only the
//! modules of lower layers. Read from the sources, so a new `use super::…` that points up or
//! sideways fails here instead of growing a cycle again.

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, top first; a module may use modules of strictly lower layers only.
const LAYERS: &[&[&str]] = &[
    &["consumer"],
    &["session"],
    &["settle"],
    &["retry", "publish", "topology", "headers"],
    &["handler", "connection"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("amqp/{module}.rs is in no layer of this test: add it"))
}

/// `use super::a::…;`, `use super::{a, b::…}` and inline `super::a::` paths outside tests.
fn uses(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
    let mut found = Vec::new();
    for (i, _) in code.match_indices("super::") {
        let rest = &code[i + "super::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            found.extend(group.split(',').map(|m| module_name(m.trim())));
        } else {
            found.push(module_name(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "*");
    found
}

fn module_name(path: &str) -> String {
    path.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '*'))
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_amqp_runtime_modules_only_use_lower_layers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/amqp");
    let mut edges = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("src/amqp") {
        let path = entry.expect("entry").path();
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if module == "mod" {
            continue; // the parent: declares and re-exports, uses nothing of its own
        }
        let source = std::fs::read_to_string(&path).expect("readable");
        edges.insert(module, uses(&source));
    }
    assert!(edges.len() >= 9, "read the runtime's modules: {edges:?}");
    let upward: Vec<String> = edges
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |to| (from, to)))
        .filter(|(from, to)| layer_of(to) <= layer_of(from))
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect();
    assert!(
        upward.is_empty(),
        "edges that do not point down: {upward:?}"
    );
    assert!(
        edges["settle"].iter().any(|m| m == "retry"),
        "the parser sees the known edge settle -> retry: {edges:?}"
    );
}

#[test]
fn the_use_parser_finds_groups_and_paths() {
    let src = "use super::{handler::Handler, connection};\nfn f() { super::retry::x(); }\n#[cfg(test)]\nmod tests { use super::*; use super::session::y; }";
    assert_eq!(uses(src), ["handler", "connection", "retry"]);
}
