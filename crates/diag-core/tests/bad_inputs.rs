//! The bad-input corpus: every case under `fixtures/bad/` either loads with the warnings it
//! should, or fails with the one error it should. Nothing panics, nothing is lost, nothing is
//! written. Each case's outcome is a snapshot named after it.

use std::fmt::Write as _;
use std::path::Path;

use diag_core::Cluster;
use diag_core::bundle::Limits;
use diag_core::model::{InstanceConfig, LoadOptions};

/// Tight limits so the corpus can hold small bombs.
fn options() -> LoadOptions {
    LoadOptions::default().limits(
        Limits::default()
            .with_max_entry_bytes(4 << 20)
            .with_max_total_bytes(16 << 20)
            .with_max_ratio(100)
            .with_max_entries(10_000)
            .with_max_read_bytes(4 << 20),
    )
}

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bad")
}

/// Renders what loading a case gives: the hard error, or the model summary, the warnings, and
/// the errors of every lazily parsed file.
fn outcome(name: &str) -> String {
    let path = corpus().join(name);
    let mut out = String::new();
    let cluster = match Cluster::open_with(&path, &options()) {
        Ok(c) => c,
        Err(e) => {
            let message = e
                .to_string()
                .replace(&corpus().display().to_string(), "fixtures/bad");
            let _ = writeln!(out, "error ({}): {message}", e.kind());
            return out;
        }
    };
    let _ = writeln!(
        out,
        "loaded: cluster `{}` version {} layout {:?}",
        cluster.name, cluster.version.text, cluster.layout
    );
    for inst in &cluster.instances {
        let state = match &inst.config {
            InstanceConfig::Loaded(_) => "config loaded",
            InstanceConfig::Absent { .. } => "no config",
            InstanceConfig::Invalid { .. } => "config invalid",
            _ => "config not read",
        };
        let _ = writeln!(out, "  {} [{}] {state}", inst.tag(), inst.dir);
    }
    let _ = writeln!(out, "warnings: {}", cluster.warnings.len());
    for w in &cluster.warnings {
        let _ = writeln!(out, "  ({}) {w}", w.kind());
    }
    let files = cluster
        .instances
        .iter()
        .flat_map(|i| &i.files)
        .chain(cluster.hosts.values().flatten())
        .chain(&cluster.files);
    let mut lazy = Vec::new();
    for f in files {
        if let Err(e) = f.tree() {
            lazy.push(format!("  ({}) {e}", e.kind()));
        }
    }
    lazy.sort();
    if !lazy.is_empty() {
        let _ = writeln!(out, "lazy parse errors: {}", lazy.len());
        for l in lazy {
            let _ = writeln!(out, "{l}");
        }
    }
    out
}

#[test]
fn every_bad_input_gives_its_expected_outcome() {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .unwrap_or_else(|e| panic!("fixtures/bad: {e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert!(
        names.len() >= 30,
        "the corpus must hold at least 30 cases, found {}",
        names.len()
    );
    let before = tree_listing(&corpus());
    for name in &names {
        insta::assert_snapshot!(name.as_str(), outcome(name));
    }
    assert_eq!(
        before,
        tree_listing(&corpus()),
        "loading wrote into the corpus"
    );
}

fn tree_listing(root: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = walkdir(root);
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else {
                out.push((
                    p.display().to_string(),
                    e.metadata().map(|m| m.len()).unwrap_or(0),
                ));
            }
        }
    }
    out
}
