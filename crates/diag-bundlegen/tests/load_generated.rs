//! Generated bundles load cleanly through `diag_core`, in every layout and container.

use diag_bundlegen::{BundleSpec, Format, Layout, write_bundle};
use diag_core::Cluster;
use diag_core::model::ComponentKind;

/// The cluster, what was written, and the folder (dropped, and deleted, by the caller).
fn open(
    spec: &BundleSpec,
    format: Format,
) -> (Cluster, diag_bundlegen::Written, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let written = write_bundle(spec, format, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cluster = Cluster::open(&written.bundle)
        .unwrap_or_else(|e| panic!("{}: {e}", written.bundle.display()));
    (cluster, written, dir)
}

#[test]
fn a_generated_tiup_bundle_loads_without_warnings() {
    let spec = BundleSpec::with_instances(200, Layout::Tiup, 11).log_bytes(200_000);
    let (cluster, written, _dir) = open(&spec, Format::Dir);
    assert!(cluster.warnings.is_empty(), "{:?}", cluster.warnings);
    assert_eq!(cluster.instances_of(ComponentKind::Monitor).count(), 1);
    let configs: Vec<_> = cluster
        .instances
        .iter()
        .filter(|i| i.component != ComponentKind::Monitor)
        .collect();
    assert_eq!(configs.len(), 200);
    assert!(
        configs.iter().all(|i| i.config.tree().is_some()),
        "every instance has a parsed config"
    );
    assert!(
        configs
            .iter()
            .all(|i| i.files.iter().any(|f| f.path.ends_with(".log"))),
        "every instance has its log"
    );
    assert_eq!(cluster.version.text, "v5.4.0");
    assert_eq!(
        diag_bundlegen::measure::config_bytes(&cluster),
        written.summary.config_bytes
    );
}

#[test]
fn operator_layout_and_archives_load_the_same_instances() {
    let spec = BundleSpec::with_instances(40, Layout::Operator, 12);
    let (dir, _, _d1) = open(&spec, Format::Dir);
    assert!(dir.warnings.is_empty(), "{:?}", dir.warnings);
    let tags = |c: &Cluster| {
        c.instances
            .iter()
            .map(|i| (i.tag(), i.config.tree().map(|t| t.root.clone())))
            .collect::<Vec<_>>()
    };
    for format in [Format::Zip, Format::TarGz] {
        let (archive, _, _d2) = open(&spec, format);
        assert!(
            archive.warnings.is_empty(),
            "{format:?}: {:?}",
            archive.warnings
        );
        assert!(
            tags(&archive) == tags(&dir),
            "{format:?} loads what the directory loads"
        );
    }
}

#[test]
fn expected_tags_are_the_loaders_tags() {
    let spec = BundleSpec::with_instances(60, Layout::Operator, 13).violation_share(1.0);
    let (cluster, written, _dir) = open(&spec, Format::Dir);
    let known: std::collections::HashSet<String> =
        cluster.instances.iter().map(|i| i.tag()).collect();
    for rule in &written.summary.expected.rules {
        for tag in &rule.abnormal {
            assert!(
                known.contains(tag),
                "{tag} ({}) is not an instance the loader sees",
                rule.name
            );
        }
    }
}
