//! contrib/streamd.service: systemd accepts the unit, and every `STREAMD_*` variable it sets is
//! one streamd reads.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_streamd");

fn unit() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/streamd.service"))
        .expect("contrib/streamd.service")
}

#[test]
fn the_unit_sets_only_variables_streamd_reads() {
    let help = String::from_utf8(
        Command::new(BIN)
            .args(["serve", "--help"])
            .output()
            .expect("streamd serve --help")
            .stdout,
    )
    .expect("utf8");
    let unit = unit();
    let set: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.trim_start_matches('#').strip_prefix("Environment="))
        .filter_map(|v| v.split('=').next())
        .collect();
    assert!(set.contains(&"STREAMD_DATA_DIR"), "{set:?}");
    for name in set {
        assert!(
            help.contains(name),
            "{name} is not a variable streamd reads"
        );
    }
    assert!(
        unit.lines()
            .any(|l| l.starts_with("ExecStart=") && l.ends_with(" serve")),
        "ExecStart runs `streamd serve`"
    );
}

#[test]
fn systemd_accepts_the_unit() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        // Not every machine has systemd (containers); the unit's names are checked above.
        eprintln!("systemd-analyze not installed: skipping the unit check");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("streamd.service");
    let unit = unit().replace(
        "ExecStart=/usr/local/bin/streamd",
        &format!("ExecStart={BIN}"),
    );
    std::fs::write(&path, unit).expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze verify");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What systemd says about its own surroundings (no bus in a container, other units) is not
    // ours to fix; anything it says about this unit is.
    let about_ours: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("streamd.service"))
        .collect();
    assert!(about_ours.is_empty(), "{said}");
}
