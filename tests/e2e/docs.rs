//! The README's promises that can drift from the code: every configuration key is documented.

const DEFAULTS: &str = include_str!("../../config/defaults.toml");
const README: &str = include_str!("../../README.md");

/// `section.key` for every key line of the embedded defaults.
fn config_keys() -> Vec<String> {
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in DEFAULTS.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, _)) = line.split_once(" = ")
            && !line.starts_with('#')
        {
            keys.push(format!("{section}.{}", key.trim()));
        }
    }
    keys
}

#[test]
fn the_readme_documents_every_configuration_key() {
    let keys = config_keys();
    assert!(keys.len() > 30, "parsed the defaults: {keys:?}");
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !README.contains(&format!("`{k}`")))
        .collect();
    assert!(missing.is_empty(), "README lacks {missing:?}");
}
