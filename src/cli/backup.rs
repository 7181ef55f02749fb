//! `streamd backup --list`, `streamd restore FILE|latest` and `streamd check`: what they print,
//! and where restore finds its backup and key.

use std::path::Path;

use anyhow::bail;

use crate::backup::{BackupKey, Summary, check::Report, shelf};
use crate::config::Config;
use crate::manage::Outcome;
use crate::media::Bucket;

/// The bucket named by the config alone: a new machine has no data dir yet.
fn bucket(config: &Config) -> anyhow::Result<Bucket> {
    Ok(Bucket::from_config(config, None)?)
}

pub fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let all = shelf::list(&bucket(config)?)?;
    if json {
        println!("{}", serde_json::to_string(&all)?);
    } else if all.is_empty() {
        eprintln!("No backups in the object store yet ([backup] every schedules them).");
    } else {
        for b in &all {
            println!("{}  {:>12} bytes  {}", b.taken_at, b.bytes, b.key);
        }
    }
    Ok(())
}

pub fn restore(
    config: &Config,
    file: &str,
    key_file: Option<&Path>,
    force: bool,
) -> anyhow::Result<Summary> {
    let key = BackupKey::find(config, key_file)?;
    let data_dir = &config.server.data_dir;
    if file == "latest" {
        let (object, bytes) = shelf::latest(&bucket(config)?)?;
        let summary = crate::backup::restore_bytes(&bytes, &object, data_dir, force, key.as_ref())?;
        return Ok(summary);
    }
    Ok(crate::backup::restore(
        Path::new(file),
        data_dir,
        force,
        key.as_ref(),
    )?)
}

pub fn check(outcome: Outcome, json: bool) -> anyhow::Result<()> {
    let Outcome::Check(report) = outcome else {
        bail!("the server answered something else than a check report");
    };
    print_report(&report, json)?;
    if !report.problems.is_empty() {
        bail!(
            "{} problem(s) in the object store: restore the objects named above (rsync, or the \
             S3 bucket's versions), then run check again",
            report.problems.len()
        );
    }
    Ok(())
}

pub fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    for p in &report.problems {
        let sizes = match (p.expected_bytes, p.found_bytes) {
            (Some(e), Some(f)) => format!(" ({f} of {e} bytes)"),
            (Some(e), None) => format!(" ({e} bytes)"),
            _ => String::new(),
        };
        println!(
            "{} {:?}: movies/{}/{} {}{sizes}",
            p.movie, p.title, p.movie, p.object, p.problem
        );
    }
    println!(
        "checked {} ready movies: {} objects whole ({}), {} problem(s)",
        report.movies,
        report.objects,
        bytesize::ByteSize(report.bytes),
        report.problems.len()
    );
    if !report.unrecorded.is_empty() {
        println!(
            "{} ready movie(s) have no recorded objects yet (published before streamd recorded \
             them): start `streamd serve` once to record them",
            report.unrecorded.len()
        );
    }
    Ok(())
}
