//! The fixtures load into the model we expect, the same from a directory, a `.zip` and a
//! `.tar.gz`; and an older cluster's configs, in the shapes real v5.2 clusters print, load and
//! coerce as they should.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use diag_core::Cluster;
use diag_core::model::inspect::Inspection;
use diag_core::model::{ComponentKind, ConfigNode, Lookup};

const FIXTURES: [&str; 3] = ["diag-fPrz0RnDxRn", "diag-lili-fNTnz5MGhr6", "minimal"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// The inspection JSON with the container details removed, for comparing containers.
fn model_json(cluster: &Cluster) -> serde_json::Value {
    let mut v = serde_json::to_value(Inspection::of(cluster)).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("source");
    }
    v
}

fn files_under(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            e.path().strip_prefix(root).ok().map(|rel| {
                (
                    rel.to_string_lossy().replace('\\', "/"),
                    e.path().to_path_buf(),
                )
            })
        })
        .collect();
    out.sort();
    out
}

fn write_zip(src: &Path, dest: &Path, top: &str) {
    let file = std::fs::File::create(dest).unwrap_or_else(|e| panic!("{e}"));
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (rel, path) in files_under(src) {
        zip.start_file(format!("{top}/{rel}"), options)
            .unwrap_or_else(|e| panic!("{e}"));
        zip.write_all(&std::fs::read(path).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    zip.finish().unwrap_or_else(|e| panic!("{e}"));
}

fn write_tar_gz(src: &Path, dest: &Path, top: &str) {
    let file = std::fs::File::create(dest).unwrap_or_else(|e| panic!("{e}"));
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::fast(),
    ));
    for (rel, path) in files_under(src) {
        tar.append_path_with_name(path, format!("{top}/{rel}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_fixture_loads_the_same_from_directory_zip_and_tar_gz() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for name in FIXTURES {
        let dir = Cluster::open(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            dir.warnings.is_empty(),
            "{name}: {:?}",
            dir.warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        let zip_path = tmp.path().join(format!("{name}.zip"));
        let tgz_path = tmp.path().join(format!("{name}.tar.gz"));
        write_zip(&fixture(name), &zip_path, name);
        write_tar_gz(&fixture(name), &tgz_path, name);
        for archive in [&zip_path, &tgz_path] {
            let loaded =
                Cluster::open(archive).unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
            assert_eq!(
                model_json(&dir),
                model_json(&loaded),
                "{} differs from the directory",
                archive.display()
            );
            // Lazily parsed files read the same bytes through every container.
            for (a, b) in dir.files.iter().zip(&loaded.files) {
                assert_eq!(a.bytes().ok(), b.bytes().ok(), "{}", a.path);
            }
        }
    }
}

#[test]
fn fixture_models_match_their_snapshots() {
    for name in FIXTURES {
        let cluster = Cluster::open(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = Inspection::of(&cluster).to_text().replace(
            &fixture(name).display().to_string(),
            &format!("fixtures/{name}"),
        );
        insta::assert_snapshot!(format!("inspect-{name}"), text);
    }
}

/// A checked bundle holds the report directories the checks wrote into it (and, after a killed
/// run, a staging folder); it loads exactly as before, in every container.
#[test]
fn report_directories_inside_a_bundle_are_not_read() {
    let name = "diag-fPrz0RnDxRn";
    let pristine = Cluster::open(&fixture(name)).unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let copy = tmp.path().join(name);
    diag_core::testing::copy_bundle(&fixture(name), &copy).unwrap_or_else(|e| panic!("{e}"));
    for dir in [
        "report-261201152100",
        "report-261201152100-1",
        ".diag-report-x1",
    ] {
        let at = copy.join(dir);
        std::fs::create_dir_all(&at).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(at.join("check-report.txt"), "# Check Result Report\n")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            at.join("tikv.log"),
            "[2022/02/07 12:00:00.000 +08:00] [FATAL] [x.rs:1] [\"planted\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let zip_path = tmp.path().join(format!("{name}.zip"));
    let tgz_path = tmp.path().join(format!("{name}.tar.gz"));
    write_zip(&copy, &zip_path, name);
    write_tar_gz(&copy, &tgz_path, name);
    let expected = Inspection::of(&pristine)
        .to_text()
        .replace(&fixture(name).display().to_string(), "BUNDLE");
    for path in [&copy, &zip_path, &tgz_path] {
        let loaded = Cluster::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            model_json(&pristine),
            model_json(&loaded),
            "{}",
            path.display()
        );
        if path == &copy {
            let text = Inspection::of(&loaded)
                .to_text()
                .replace(&copy.display().to_string(), "BUNDLE");
            assert_eq!(expected, text);
        }
    }
}

#[test]
fn seed_fixture_is_the_seed_cluster() {
    let c = Cluster::open(&fixture("diag-fPrz0RnDxRn")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (c.name.as_str(), c.id.as_str(), c.version.text.as_str()),
        ("basic", "7039963340562527412", "v5.4.0")
    );
    assert_eq!(c.sample.id, "fPrz0RnDxRn");
    assert_eq!(c.sample.begin_time, "2022-02-07T12:00:00+08:00");
    assert_eq!(c.sample.collectors, ["monitor", "config"]);
    let pd: Vec<String> = c
        .instances_of(ComponentKind::Pd)
        .map(|i| i.address())
        .collect();
    assert_eq!(
        pd,
        [
            "172.20.22.100:2379",
            "172.20.14.102:2379",
            "172.20.15.222:2379"
        ]
    );
    let tidb = c
        .instances_of(ComponentKind::Tidb)
        .next()
        .and_then(|i| i.config.tree())
        .map(|t| t.lookup("log.file.max-days"));
    assert!(matches!(tidb, Some(Lookup::Present(n)) if n.to_int() == Ok(0) && n.line > 1));
    // The zstd-compressed metric decodes to the same JSON shape as the plain one.
    for m in c.files_of(diag_core::model::DataKind::Metric) {
        let tree = m.tree().unwrap_or_else(|e| panic!("{}: {e}", m.path));
        assert_eq!(
            tree.lookup("status").present().and_then(ConfigNode::as_str),
            Some("success"),
            "{}",
            m.path
        );
    }
}

/// `fixtures/diag-hX7qWm42Tzv`: an Operator bundle of an older cluster (v5.2.1) in the shapes
/// real v5.2 runtime configs have (see `fixtures/README.md`), with the relative `begin_time`
/// old bundles carry and a TiDB slow log under `logs/<pod>/`. It lives in the repository, so
/// these tests pass on a clone that has nothing beside it.
fn older_operator_bundle() -> PathBuf {
    fixture("diag-hX7qWm42Tzv")
}

#[test]
fn an_older_operator_bundle_with_a_relative_begin_time_loads() {
    let c = Cluster::open(&older_operator_bundle()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        c.warnings.is_empty(),
        "{:?}",
        c.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    assert_eq!(c.version.text, "v5.2.1");
    assert!(c.sample.begin_is_relative(), "begin_time is the raw `-4h`");
    // …normalised against end_time (4 hours later), as diag computed it.
    let window = c.sample.window();
    assert_eq!(
        window.begin.map(|t| t.to_string()).as_deref(),
        Some("2021-12-02T02:30:00.000+00:00")
    );
    assert_eq!(window.begin_relative.as_deref(), Some("-4h"));
    let text = diag_core::model::inspect::Inspection::of(&c).to_text();
    assert!(
        text.contains(
            "from 2021-12-02T02:30:00.000+00:00 (begin_time `-4h`, relative to end_time)"
        ),
        "{text}"
    );
    assert_eq!(
        c.instances
            .iter()
            .filter(|i| i.config.tree().is_some())
            .count(),
        9
    );
    let slow = c
        .instances_of(ComponentKind::Tidb)
        .flat_map(|i| &i.files)
        .filter(|f| f.kind == diag_core::model::DataKind::Log(diag_core::model::LogKind::Slow))
        .count();
    assert_eq!(slow, 1);
}

/// The runtime config of one pod of [`older_operator_bundle`].
fn pod_config(pod: &str) -> diag_core::model::ConfigTree {
    let file = format!("{pod}/conf/config.json");
    let bytes = std::fs::read(older_operator_bundle().join(&file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    diag_core::model::ConfigTree::parse_json(&file, &bytes)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn at<'a>(t: &'a diag_core::model::ConfigTree, path: &str) -> &'a ConfigNode {
    t.lookup(path)
        .present()
        .unwrap_or_else(|| panic!("{}: {path} missing", t.file))
}

#[test]
fn coercions_hold_on_an_older_pd_config() {
    let pd = pod_config("olden-pd-0");
    assert_eq!(
        at(&pd, "schedule.split-merge-interval").to_duration(),
        Ok(std::time::Duration::from_secs(3600))
    );
    assert_eq!(
        at(&pd, "schedule.patrol-region-interval").to_duration(),
        Ok(std::time::Duration::from_millis(100))
    );
    assert_eq!(
        at(&pd, "schedule.enable-cross-table-merge").to_bool(),
        Ok(false),
        "PD prints some booleans as strings"
    );
    assert_eq!(at(&pd, "log.file.max-days").to_int(), Ok(1));
    assert_eq!(at(&pd, "quota-backend-bytes").to_size(), Ok(8 << 30));
    // store-limit is keyed by store id.
    let limits = at(&pd, "schedule.store-limit")
        .as_map()
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(limits > 0);
    let first = at(&pd, "schedule.store-limit")
        .as_map()
        .and_then(|m| m.keys().next().map(String::from))
        .unwrap_or_default();
    assert!(
        at(&pd, &format!("schedule.store-limit.{first}.add-peer"))
            .to_float()
            .is_ok()
    );
    assert!(matches!(pd.lookup("log.file.no-such-key"), Lookup::Missing));
}

#[test]
fn coercions_hold_on_older_tikv_tidb_and_tiflash_configs() {
    let tikv = pod_config("olden-tikv-0");
    assert_eq!(
        at(&tikv, "readpool.unified.stack-size").to_size(),
        Ok(10 << 20)
    );
    assert_eq!(at(&tikv, "log-rotation-size").to_size(), Ok(300 << 20));
    assert_eq!(
        at(&tikv, "slow-log-threshold").to_duration(),
        Ok(std::time::Duration::from_secs(1))
    );
    assert_eq!(
        at(&tikv, "log-rotation-timespan").to_duration(),
        Ok(std::time::Duration::from_secs(86_400))
    );
    assert_eq!(
        at(&tikv, "readpool.unified.max-thread-count").to_int(),
        Ok(4)
    );
    let tidb = pod_config("olden-tidb-0");
    assert_eq!(at(&tidb, "enable-streaming").to_bool(), Ok(true));
    assert_eq!(at(&tidb, "mem-quota-query").to_size(), Ok(1 << 30));
    assert_eq!(
        at(&tidb, "lease").to_duration(),
        Ok(std::time::Duration::from_secs(45))
    );
    assert!(
        at(&tidb, "performance.feedback-probability")
            .to_float()
            .is_ok()
    );
    // A value of an unexpected type is a per-value error, not a crash.
    assert!(at(&tidb, "log.level").to_int().is_err());
    assert!(matches!(
        tidb.lookup("log.disable-timestamp"),
        Lookup::Null(_)
    ));
    let tiflash = pod_config("olden-tiflash-0");
    assert!(tiflash.root.as_map().is_some_and(|m| !m.is_empty()));
}

/// A cluster imported into TiUP from TiDB Ansible: `meta.yaml` (the topology of `cluster.json`
/// is null) keeps relative `deploy_dir`s. PD and TiKV are where diag reads them,
/// `<host>/<deploy_dir>` as written; TiDB's `~/deploy` is at TiUP's `/home/tidb/deploy`.
#[test]
fn an_ansible_imported_cluster_reads_relative_deploy_dirs_where_diag_does() {
    let c = Cluster::open(&fixture("diag-ansible-imported")).unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    let got: Vec<String> = c
        .instances
        .iter()
        .map(|i| {
            let files: Vec<&str> = i.files.iter().map(|f| f.path.as_str()).collect();
            format!(
                "{} {} config:{} {}",
                i.tag(),
                i.dir,
                i.config.tree().is_some(),
                files.join(",")
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "PdConfig_10.0.3.1:2379 10.0.3.1/deploy config:true 10.0.3.1/deploy/log/pd.log",
            "TikvConfig_10.0.3.2:20160 10.0.3.2/deploy config:true 10.0.3.2/deploy/conf/tikv.toml,10.0.3.2/deploy/log/tikv.log",
            "TidbConfig_10.0.3.3:4000 10.0.3.3/home/tidb/deploy config:true 10.0.3.3/home/tidb/deploy/log/tidb.log",
        ]
    );
}
