//! The generated system bundle: every planted fault is cited (file and line) by an abnormal
//! row of its rule, the healthy twin raises nothing above info, and the committed fixtures are
//! what the generator writes (`DIAG_REGENERATE=1 cargo test -p diag-bundlegen --test
//! system_bundle` rewrites them).

use std::path::{Path, PathBuf};

use diag_bundlegen::DirSink;
use diag_bundlegen::system::{SystemBundle, system_bundle};
use diag_core::Cluster;
use diag_core::engine::{CheckOptions, RowState, check};
use diag_core::rules::{CheckKind, RuleSet, Severity};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn written(bundle: &SystemBundle) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut sink = DirSink::create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    bundle.write(&mut sink).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn options() -> CheckOptions {
    CheckOptions {
        kinds: vec![CheckKind::System, CheckKind::Topology],
        ..CheckOptions::default()
    }
}

#[test]
fn every_planted_fault_is_cited_by_an_abnormal_row() {
    let bundle = system_bundle(true);
    let dir = written(&bundle);
    let cluster = Cluster::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let outcome = check(&cluster, &RuleSet::builtin(), &options());
    let mut missed = Vec::new();
    for fault in &bundle.faults {
        let Some(finding) = outcome.findings.iter().find(|f| f.rule.name == fault.rule) else {
            missed.push(format!("{}: rule not run", fault.rule));
            continue;
        };
        let cited = finding.rows.iter().any(|row| {
            matches!(row.state, RowState::Abnormal(_))
                && row
                    .evidence
                    .iter()
                    .chain(row.values.iter().filter_map(|v| v.evidence.as_ref()))
                    .any(|e| *e.file == *fault.file && e.line > 0)
        });
        if !cited {
            let rows: Vec<String> = finding
                .rows
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {:?} {:?}",
                        r.tag,
                        r.state.as_str(),
                        r.message,
                        r.evidence
                    )
                })
                .collect();
            missed.push(format!(
                "{} not cited at {}: {rows:#?}",
                fault.rule, fault.file
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn the_healthy_twin_raises_nothing_above_info() {
    let dir = written(&system_bundle(false));
    let cluster = Cluster::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let outcome = check(&cluster, &RuleSet::builtin(), &options());
    let loud: Vec<String> = outcome
        .findings
        .iter()
        .flat_map(|f| f.rows.iter().map(move |r| (f, r)))
        .filter(|(_, r)| {
            matches!(r.state, RowState::Abnormal(s) if s > Severity::Info)
                || r.state == RowState::Error
        })
        .map(|(f, r)| {
            format!(
                "{} {} {} {:?}",
                f.rule.name,
                r.tag,
                r.state.as_str(),
                r.message
            )
        })
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    // Every system and topology rule ran and most have something to say about this bundle.
    assert!(outcome.findings.len() >= 40, "{}", outcome.findings.len());
}

#[test]
fn the_committed_fixtures_are_the_generated_bundles() {
    for (name, faulty) in [("diag-system-faults", true), ("diag-system-healthy", false)] {
        let bundle = system_bundle(faulty);
        let root = fixture(name);
        if std::env::var_os("DIAG_REGENERATE").is_some() {
            let _ = std::fs::remove_dir_all(&root);
            let mut sink = DirSink::create(&root).unwrap_or_else(|e| panic!("{e}"));
            bundle.write(&mut sink).unwrap_or_else(|e| panic!("{e}"));
        }
        for (path, bytes) in &bundle.files {
            let on_disk = std::fs::read(root.join(path)).unwrap_or_else(|e| {
                panic!("{name}/{path}: {e} (regenerate with DIAG_REGENERATE=1)")
            });
            assert!(
                on_disk == *bytes,
                "{name}/{path} differs from the generator (regenerate with DIAG_REGENERATE=1)"
            );
        }
    }
}

#[test]
fn system_and_topology_findings_are_identical_at_any_thread_count() {
    let dir = written(&system_bundle(true));
    let cluster = Cluster::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        pool.install(|| check(&cluster, &rules, &options()))
    };
    assert_eq!(run(1), run(4));
}
