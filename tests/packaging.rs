//! The Debian packaging agrees with itself and with the code: the package's unit and the
//! example unit for a source install share every directive but where the files are, the
//! unit's paths are those of the packaged configuration, and the Debian changelog carries the
//! crate's version. (`packaging/test-install` builds and installs the package itself.)

use retracker::config::keys::{find, PACKAGED};
use std::path::Path;

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The directives of a unit file in order, as `[Section] Key=value`, without comments and
/// blank lines.
fn directives(unit: &str) -> Vec<String> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        assert!(line.contains('='), "not a directive: {line}");
        out.push(format!("{section} {line}"));
    }
    out
}

/// The value of `key` in `unit` (exactly one line).
fn value(unit: &str, key: &str) -> String {
    let found: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .collect();
    assert_eq!(found.len(), 1, "{key}: {found:?}");
    found[0].to_owned()
}

/// The lines between the hardening markers, comments included.
fn hardening_block(unit: &str) -> String {
    let start = unit
        .find("# --- hardening")
        .expect("hardening start marker");
    let end = unit.find("# --- end of hardening ---").expect("end marker");
    unit[start..end].to_owned()
}

/// What differs between a packaged and a source install, and so may differ between the units.
const INSTALL_SPECIFIC: &[&str] = &["Documentation", "ExecStart", "ConfigurationDirectory"];

#[test]
fn the_example_unit_has_the_packaged_units_hardening_and_settings() {
    let packaged = read("packaging/retracker.service");
    let example = read("retracker.service_example");
    assert_eq!(
        hardening_block(&packaged),
        hardening_block(&example),
        "the hardening blocks differ"
    );
    let shared = |unit: &str| -> Vec<String> {
        directives(unit)
            .into_iter()
            .filter(|d| {
                let key = d.split_once(' ').unwrap().1.split('=').next().unwrap();
                !INSTALL_SPECIFIC.contains(&key)
            })
            .collect()
    };
    assert_eq!(shared(&packaged), shared(&example));
    for key in [
        "NoNewPrivileges",
        "ProtectSystem",
        "SystemCallFilter",
        "CapabilityBoundingSet",
        "User",
        "Type",
    ] {
        assert!(
            directives(&example)
                .iter()
                .any(|d| d.contains(&format!(" {key}="))),
            "{key} missing"
        );
    }
}

#[test]
fn the_units_start_the_installed_binary_with_the_installed_configuration() {
    let packaged = read("packaging/retracker.service");
    assert_eq!(
        value(&packaged, "ExecStart"),
        format!(
            "/usr/bin/retracker --config {}",
            retracker::cli::PACKAGED_CONFIG
        )
    );
    let example = read("retracker.service_example");
    assert_eq!(
        value(&example, "ExecStart"),
        "/usr/local/bin/retracker --config /usr/local/etc/retracker/config.ini"
    );
    // The example's install steps copy the packaged configuration to where ExecStart reads it.
    assert!(example.contains("packaging/config.ini /usr/local/etc/retracker/config.ini"));
    assert_eq!(value(&packaged, "User"), "retracker");
    assert_eq!(value(&packaged, "Type"), "notify");
}

#[test]
fn the_units_writable_folders_are_where_the_packaged_configuration_writes() {
    let unit = read("packaging/retracker.service");
    let packaged = |section: &str, name: &str| {
        let key = find(section, name).unwrap();
        assert!(PACKAGED.iter().any(|(s, n, _)| key.is(s, n)));
        key.packaged_value()
    };
    let state = format!("/var/lib/{}/", value(&unit, "StateDirectory"));
    let logs = format!("/var/log/{}/", value(&unit, "LogsDirectory"));
    assert!(packaged("DB", "path").starts_with(&state), "{state}");
    assert!(packaged("LOGGING", "log_file").starts_with(&logs), "{logs}");
    assert_eq!(
        format!("/var/lib/{}", value(&unit, "StateDirectory")),
        value(&unit, "WorkingDirectory")
    );
    // The package's configuration file is the generated one.
    let text = read("packaging/config.ini");
    assert!(text.contains(&format!("\npath = {}\n", packaged("DB", "path"))));
}

#[test]
fn the_debian_changelog_carries_the_crate_version() {
    let changelog = read("packaging/debian/changelog");
    let first = changelog.lines().next().unwrap();
    let version = format!("retracker ({}-", env!("CARGO_PKG_VERSION"));
    assert!(
        first.starts_with(&version),
        "packaging/debian/changelog starts with {first:?}: add an entry for the new version"
    );
    assert!(first.ends_with("; urgency=medium") || first.contains("urgency="));
    let trailer = changelog
        .lines()
        .find(|l| l.starts_with(" -- "))
        .expect("a trailer line");
    assert!(
        trailer.contains(">  ") && trailer.ends_with("+0000"),
        "{trailer}"
    );
}

#[test]
fn maintainer_scripts_keep_the_debhelper_marker_once_and_are_executable() {
    use std::os::unix::fs::PermissionsExt;
    for name in ["postinst", "prerm", "postrm"] {
        let path = format!("packaging/debian/{name}");
        let text = read(&path);
        assert!(text.starts_with("#!/bin/sh\n"), "{name}");
        assert!(text.contains("\nset -e\n"), "{name}");
        // cargo-deb replaces every occurrence, comments too.
        assert_eq!(text.matches("#DEBHELPER#").count(), 1, "{name}");
        let mode = std::fs::metadata(Path::new(env!("CARGO_MANIFEST_DIR")).join(&path))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{name} is not executable");
    }
    let postinst = read("packaging/debian/postinst");
    // Ownership first, then the snippets that start the service.
    assert!(postinst.find("chown root:retracker").unwrap() < postinst.find("#DEBHELPER#").unwrap());
}
