//! Every container form of one bundle (directory, zip, tar, tar.gz, tar.zst) indexes the same
//! entries and streams the same bytes, whatever the read plan kept; a zip is read by many
//! threads at once; rotated `.gz` logs read decompressed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use diag_core::Cluster;
use diag_core::bundle::{
    DataKind, Limits, LogKind, MEMORY_ENTRY_BYTES, ReadPlan, SourceKind, open_source,
};
use diag_core::model::{InstanceConfig, LoadOptions, inspect::Inspection};
use rayon::prelude::*;

const LOG: &str = "172.16.7.88/tidb-deploy/tidb-4000/log/tidb-2022-01-24T08-00-00.000.log";
const ROTATED: &str = "172.16.7.88/tidb-deploy/tidb-4000/log/tidb-2022-01-24T07-00-00.000.log.gz";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/diag-lili-fNTnz5MGhr6")
}

/// A log larger than what an archive keeps in memory, so a tar stream spools it.
fn big_log() -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0u64;
    while (out.len() as u64) < MEMORY_ENTRY_BYTES * 3 {
        let _ = writeln!(
            out,
            "[2022/01/24 08:{:02}:{:02}.{:03} +08:00] [INFO] [session.go:{}] [\"run statement\"] [conn={}] [txn={}]",
            (i / 60) % 60,
            i % 60,
            i % 1000,
            100 + i % 900,
            i * 7919 % 100_003,
            i.wrapping_mul(2_654_435_761)
        );
        i += 1;
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap_or(&entry);
        let target = to.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::copy(&entry, &target).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The forms, built once for all tests (the temporary directory lives as long as the process).
fn shared_forms() -> &'static [(SourceKind, PathBuf)] {
    static FORMS: std::sync::OnceLock<(tempfile::TempDir, Vec<(SourceKind, PathBuf)>)> =
        std::sync::OnceLock::new();
    &FORMS
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let forms = forms(tmp.path());
            (tmp, forms)
        })
        .1
}

/// The fixture plus a spool-sized log and a gzipped rotated log, in every container form.
fn forms(tmp: &Path) -> Vec<(SourceKind, PathBuf)> {
    let dir = tmp.join("diag-lili-fNTnz5MGhr6");
    copy_dir(&fixture(), &dir);
    std::fs::write(dir.join(LOG), big_log()).unwrap_or_else(|e| panic!("{e}"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(b"[2022/01/24 07:00:00.000 +08:00] [INFO] [main.go:1] [\"rotated\"]\n");
    std::fs::write(dir.join(ROTATED), gz.finish().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));

    let mut tar = tar::Builder::new(Vec::new());
    tar.append_dir_all("diag-lili-fNTnz5MGhr6", &dir)
        .unwrap_or_else(|e| panic!("{e}"));
    let tar = tar.into_inner().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(tmp.join("b.tar"), &tar).unwrap_or_else(|e| panic!("{e}"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(&tar);
    std::fs::write(tmp.join("b.tar.gz"), gz.finish().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let zst = zstd::bulk::compress(&tar, 1).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(tmp.join("b.tar.zst"), zst).unwrap_or_else(|e| panic!("{e}"));

    let file = std::fs::File::create(tmp.join("b.zip")).unwrap_or_else(|e| panic!("{e}"));
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for path in walk(&dir) {
        let rel = path.strip_prefix(tmp).unwrap_or(&path);
        zip.start_file(rel.to_string_lossy(), options)
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = zip.write_all(&std::fs::read(&path).unwrap_or_default());
    }
    zip.finish().unwrap_or_else(|e| panic!("{e}"));

    vec![
        (SourceKind::Directory, dir),
        (SourceKind::Zip, tmp.join("b.zip")),
        (SourceKind::Tar, tmp.join("b.tar")),
        (SourceKind::TarGz, tmp.join("b.tar.gz")),
        (SourceKind::TarZst, tmp.join("b.tar.zst")),
    ]
}

type Listing = BTreeMap<String, (u64, Option<DataKind>)>;

/// Every entry's size and kind, and its content as streamed by `open`.
fn contents(path: &Path, plan: &ReadPlan) -> (Listing, BTreeMap<String, Vec<u8>>) {
    let opened = open_source(path, &Limits::default(), plan).unwrap_or_else(|e| panic!("{e}"));
    assert!(opened.warnings.is_empty(), "{:?}", opened.warnings);
    let source = opened.source;
    let listing = source
        .index()
        .iter()
        .map(|(k, e)| (k.clone(), (e.size, e.kind)))
        .collect();
    let bytes = source
        .index()
        .keys()
        .map(|k| {
            let mut out = Vec::new();
            source
                .open(k)
                .and_then(|mut r| {
                    r.read_to_end(&mut out)
                        .map_err(|cause| diag_core::LoadError::Io {
                            path: k.into(),
                            cause,
                        })
                })
                .unwrap_or_else(|e| panic!("{}: {k}: {e}", path.display()));
            (k.clone(), out)
        })
        .collect();
    (listing, bytes)
}

#[test]
fn every_container_form_indexes_and_streams_the_same_files() {
    let forms = shared_forms();
    let (want_listing, want_bytes) = contents(&forms[0].1, &ReadPlan::everything());
    assert_eq!(
        want_listing.get(LOG).map(|e| e.1),
        Some(Some(DataKind::Log(LogKind::Std)))
    );
    let plans = [
        ReadPlan::everything(),
        ReadPlan::metadata().with(DataKind::RuntimeConfig),
    ];
    for (kind, path) in forms {
        for plan in &plans {
            let (listing, bytes) = contents(path, plan);
            assert_eq!(listing, want_listing, "{kind} index, plan {plan:?}");
            for (k, v) in &want_bytes {
                assert!(
                    bytes.get(k) == Some(v),
                    "{kind}: {k} differs, plan {plan:?}"
                );
            }
        }
    }
}

#[test]
fn a_one_pass_archive_keeps_only_what_the_plan_wants() {
    let forms = shared_forms();
    for (kind, path) in forms
        .iter()
        .filter(|(k, _)| matches!(k, SourceKind::TarGz | SourceKind::TarZst))
    {
        let plan = ReadPlan::metadata().with(DataKind::RuntimeConfig);
        let opened = open_source(path, &Limits::default(), &plan).unwrap_or_else(|e| panic!("{e}"));
        let index = opened.source.index();
        let kept: Vec<&str> = index
            .iter()
            .filter(|(_, e)| e.retained)
            .map(|(k, _)| k.as_str())
            .collect();
        assert!(
            kept.contains(&"cluster.json") && kept.contains(&"meta.yaml"),
            "{kind}"
        );
        assert!(
            kept.iter()
                .all(|k| matches!(*k, "cluster.json" | "meta.yaml")
                    || k.ends_with("/conf/config.json")),
            "{kind} kept {kept:?}"
        );
        let everything = open_source(path, &Limits::default(), &ReadPlan::everything())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            everything.source.index().values().all(|e| e.retained),
            "{kind}"
        );
    }
}

#[test]
fn a_zip_is_read_by_many_threads_at_once() {
    let forms = shared_forms();
    let (_, want) = contents(&forms[0].1, &ReadPlan::everything());
    let opened = open_source(&forms[1].1, &Limits::default(), &ReadPlan::everything())
        .unwrap_or_else(|e| panic!("{e}"));
    let source = opened.source;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(8)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<&String> = want.keys().collect();
    let read: Vec<(String, Vec<u8>)> = pool.install(|| {
        keys.par_iter()
            .flat_map(|k| std::iter::repeat_n(*k, 4).collect::<Vec<_>>())
            .map(|k| {
                let mut out = Vec::new();
                let _ = source.open(k).map(|mut r| r.read_to_end(&mut out));
                (k.clone(), out)
            })
            .collect()
    });
    for (k, bytes) in read {
        assert!(want.get(&k) == Some(&bytes), "{k} differs");
    }
}

#[test]
fn the_loader_parses_runtime_configs_only_when_the_plan_wants_them() {
    let forms = shared_forms();
    let mut inspections = Vec::new();
    for (kind, path) in forms {
        let lean = Cluster::open_with(path, &LoadOptions::default().plan(ReadPlan::metadata()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            lean.instances
                .iter()
                .filter(|i| i.component.has_runtime_config())
                .all(|i| matches!(i.config, InstanceConfig::NotRead { .. })),
            "{kind}"
        );
        let cluster = Cluster::open(path).unwrap_or_else(|e| panic!("{e}"));
        let mut json: serde_json::Value =
            serde_json::from_str(&Inspection::of(&cluster).to_json()).unwrap_or_default();
        if let Some(map) = json.as_object_mut() {
            map.remove("source");
        }
        inspections.push((*kind, json));

        let rotated = cluster
            .instances
            .iter()
            .flat_map(|i| &i.files)
            .find(|f| f.path == ROTATED)
            .unwrap_or_else(|| panic!("{kind}: no rotated log"));
        let mut text = String::new();
        rotated
            .reader()
            .and_then(|mut r| {
                r.read_to_string(&mut text)
                    .map_err(|cause| diag_core::LoadError::Io {
                        path: ROTATED.into(),
                        cause,
                    })
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains("\"rotated\""), "{kind}: {text:?}");
    }
    for (kind, json) in &inspections[1..] {
        assert_eq!(
            json, &inspections[0].1,
            "{kind} inspects differently from the directory"
        );
    }
}
