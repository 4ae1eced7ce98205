//! The data directory: which of its entries are data sets, and what listing one costs.
//!
//! Listing never loads a bundle. It reads what `GET /api/v1/data` shows and no more: a
//! directory's file sizes and times plus its `cluster.json`; a `.zip`'s central directory plus
//! `cluster.json`; a `.tar.gz` from its start up to `cluster.json` (the rest is never inflated).
//! Nothing here writes anything.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use diag_core::model::ConfigNode;
use diag_core::model::value::ConfigTree;

/// A `cluster.json` or `meta.yaml` larger than this is not read for a listing (real ones are a
/// few KiB, a 1,000-instance topology well under a MiB).
const MARKER_CAP: u64 = 16 << 20;

/// The two files that make a folder a bundle, in the order the loader prefers them.
const CLUSTER_JSON: &str = "cluster.json";
const META_YAML: &str = "meta.yaml";

/// How a data set is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Container {
    Directory,
    TarGz,
    Zip,
}

/// One data set of the data directory: `diag-<id>/`, `diag-<id>.zip`, `diag-<id>.tar.gz`/`.tgz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub path: PathBuf,
    pub container: Container,
}

impl Entry {
    /// The name in the data directory; what messages call the data set (never a full path).
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// What a listing says about a data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `cluster_name`, prefixed with `<namespace>/` for an Operator cluster.
    pub cluster_name: String,
    /// Bytes of collected data on disk: the archive file, or a directory's files (report
    /// directories the CLI wrote into it excluded).
    pub size: u64,
    /// Newest modification among those bytes.
    pub modified: Option<SystemTime>,
    /// Why this data set cannot be checked, when it cannot.
    pub problem: Option<String>,
}

/// The data sets in `dir`, sorted by id. When a directory and an archive share an id, the
/// directory is the data set.
pub fn scan(dir: &Path) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Entry> = read
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let is_dir = e.file_type().ok()?.is_dir() || e.path().is_dir();
            let (stem, container) = if is_dir {
                if is_report_dir_name(&name) {
                    return None;
                }
                (name.as_str(), Container::Directory)
            } else {
                [
                    (".tar.gz", Container::TarGz),
                    (".tgz", Container::TarGz),
                    (".zip", Container::Zip),
                ]
                .into_iter()
                .find_map(|(ext, c)| name.strip_suffix(ext).map(|stem| (stem, c)))?
            };
            let id = stem.strip_prefix("diag-")?;
            (!id.is_empty()).then(|| Entry {
                id: id.to_owned(),
                path: e.path(),
                container,
            })
        })
        .collect();
    found.sort_by(|a, b| (&a.id, a.container).cmp(&(&b.id, b.container)));
    found.dedup_by(|later, first| later.id == first.id);
    found
}

/// A report directory `diag-check` writes: `report-YYMMDDhhmmss` inside a bundle directory,
/// `<archive stem>-report-YYMMDDhhmmss` beside an archive (either with `-N` when two runs share a
/// second), and the `.diag-report-…` staging directory it renames into place.
pub fn is_report_dir_name(name: &str) -> bool {
    if name.starts_with(".diag-report-") {
        return true;
    }
    let stamped = |rest: &str| {
        let (stamp, n) = rest.split_once('-').unwrap_or((rest, "1"));
        stamp.len() == 12
            && stamp.bytes().all(|b| b.is_ascii_digit())
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    };
    name.strip_prefix("report-").is_some_and(stamped)
        || name
            .match_indices("-report-")
            .any(|(at, m)| stamped(&name[at + m.len()..]))
}

/// Reads what a listing shows, and no more (see the module docs).
pub fn summarize(entry: &Entry) -> Summary {
    let name = entry.file_name();
    let (size, modified, markers) = match entry.container {
        Container::Directory => directory(&entry.path),
        Container::Zip => on_disk(&entry.path)
            .and_then(|(size, modified)| Ok((size, modified, zip_markers(&entry.path)?))),
        Container::TarGz => on_disk(&entry.path)
            .and_then(|(size, modified)| Ok((size, modified, tar_gz_markers(&entry.path)?))),
    }
    .unwrap_or_else(|problem| (0, None, Markers::broken(problem)));
    let (cluster_name, problem) = markers.resolve();
    Summary {
        cluster_name,
        size,
        modified,
        problem: problem.map(|p| format!("{name}: {p}")),
    }
}

/// The marker files found, read (or why reading failed).
#[derive(Debug, Default)]
struct Markers {
    cluster_json: Option<Result<Vec<u8>, String>>,
    meta_yaml: Option<Result<Vec<u8>, String>>,
    /// Why the container itself could not be read, when it could not.
    broken: Option<String>,
}

impl Markers {
    fn broken(problem: String) -> Markers {
        Markers {
            broken: Some(problem),
            ..Markers::default()
        }
    }

    /// The cluster name as the loader decides it (cluster.json, falling back to meta.yaml), or
    /// the problem that makes the loader give up.
    fn resolve(self) -> (String, Option<String>) {
        if let Some(problem) = self.broken {
            return (String::new(), Some(problem));
        }
        let from_json = self
            .cluster_json
            .map(|r| r.and_then(|b| name_in_cluster_json(&b)));
        let from_yaml = self
            .meta_yaml
            .map(|r| r.and_then(|b| name_in_meta_yaml(&b)));
        match (from_json, from_yaml) {
            (Some(Ok(name)), _) | (_, Some(Ok(name))) => (name, None),
            (Some(Err(e)), _) | (None, Some(Err(e))) => (String::new(), Some(e)),
            (None, None) => (
                String::new(),
                Some("no cluster.json or meta.yaml: not a diag bundle".into()),
            ),
        }
    }
}

fn on_disk(path: &Path) -> Result<(u64, Option<SystemTime>), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    Ok((meta.len(), meta.modified().ok()))
}

/// The depth of a bundle-relative path and whether it names `marker`.
fn marker_depth(path: &str, marker: &str) -> Option<usize> {
    let path = path.trim_start_matches("./");
    (path == marker || path.ends_with(&format!("/{marker}"))).then(|| path.matches('/').count())
}

fn directory(dir: &Path) -> Result<(u64, Option<SystemTime>, Markers), String> {
    let mut size = 0;
    let mut newest: Option<SystemTime> = None;
    let mut best: [Option<(usize, PathBuf)>; 2] = [None, None];
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.depth() == 1
                && e.file_type().is_dir()
                && e.file_name().to_str().is_some_and(is_report_dir_name))
        });
    for item in walker.filter_map(Result::ok) {
        if !item.file_type().is_file() {
            continue;
        }
        if let Ok(meta) = item.metadata() {
            size += meta.len();
            newest = newest.max(meta.modified().ok());
        }
        let Ok(rel) = item.path().strip_prefix(dir) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        for (slot, marker) in best.iter_mut().zip([CLUSTER_JSON, META_YAML]) {
            if let Some(depth) = marker_depth(&rel, marker)
                && slot.as_ref().is_none_or(|(d, _)| depth < *d)
            {
                *slot = Some((depth, item.path().to_path_buf()));
            }
        }
    }
    let read = |path: &Path, marker: &str| {
        File::open(path)
            .map_err(|e| format!("{marker}: {e}"))
            .and_then(|f| capped(f, marker))
    };
    let [json, yaml] = best;
    let markers = Markers {
        cluster_json: json.map(|(_, p)| read(&p, CLUSTER_JSON)),
        meta_yaml: yaml.map(|(_, p)| read(&p, META_YAML)),
        broken: None,
    };
    Ok((size, newest, markers))
}

/// A zip's central directory, then its shallowest `cluster.json` and `meta.yaml`.
fn zip_markers(path: &Path) -> Result<Markers, String> {
    let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| format!("not a readable zip archive ({e})"))?;
    let mut best: [Option<(usize, String)>; 2] = [None, None];
    for name in archive.file_names().filter_map(Result::ok) {
        let normal = name.replace('\\', "/");
        for (slot, marker) in best.iter_mut().zip([CLUSTER_JSON, META_YAML]) {
            if let Some(depth) = marker_depth(&normal, marker)
                && slot.as_ref().is_none_or(|(d, _)| depth < *d)
            {
                *slot = Some((depth, name.clone().into_owned()));
            }
        }
    }
    let mut read = |name: &str, marker: &str| match archive.by_name(name) {
        Ok(entry) => capped(entry, marker),
        Err(e) => Err(format!("{marker}: {e}")),
    };
    let [json, yaml] = best;
    Ok(Markers {
        cluster_json: json.map(|(_, n)| read(&n, CLUSTER_JSON)),
        meta_yaml: yaml.map(|(_, n)| read(&n, META_YAML)),
        broken: None,
    })
}

/// A tar.gz read from its start until a `cluster.json` at the top (or below one wrapping
/// folder) that parses; only a bundle without one is read to its end.
fn tar_gz_markers(path: &Path) -> Result<Markers, String> {
    let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    let entries = archive
        .entries()
        .map_err(|e| format!("not a readable tar.gz archive ({e})"))?;
    let mut markers = Markers::default();
    let mut depths = [usize::MAX; 2];
    for entry in entries {
        let mut entry = match entry {
            // Damage past a marker: the listing goes by the marker, a check reports the damage.
            Err(_) if markers.cluster_json.is_some() || markers.meta_yaml.is_some() => break,
            Err(e) => return Err(format!("not a readable tar.gz archive ({e})")),
            Ok(entry) => entry,
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let Ok(name) = entry.path().map(|p| p.to_string_lossy().replace('\\', "/")) else {
            continue;
        };
        for (i, marker) in [CLUSTER_JSON, META_YAML].into_iter().enumerate() {
            let Some(depth) = marker_depth(&name, marker) else {
                continue;
            };
            if depth >= depths[i] {
                continue;
            }
            depths[i] = depth;
            let bytes = capped(&mut entry, marker);
            if i == 0 {
                let done = depth <= 1
                    && bytes
                        .as_deref()
                        .is_ok_and(|b| name_in_cluster_json(b).is_ok());
                markers.cluster_json = Some(bytes);
                if done {
                    return Ok(markers);
                }
            } else {
                markers.meta_yaml = Some(bytes);
            }
            break;
        }
    }
    Ok(markers)
}

fn capped(reader: impl Read, marker: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(MARKER_CAP + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("{marker}: {e}"))?;
    if out.len() as u64 > MARKER_CAP {
        return Err(format!("{marker}: larger than {MARKER_CAP} bytes"));
    }
    Ok(out)
}

fn name_in_cluster_json(bytes: &[u8]) -> Result<String, String> {
    let tree =
        ConfigTree::parse_json(CLUSTER_JSON, bytes).map_err(|e| format!("cluster.json: {e}"))?;
    if tree.root.as_map().is_none() {
        return Err("cluster.json: expected a JSON object".into());
    }
    let text = |node: Option<&ConfigNode>| {
        node.and_then(ConfigNode::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let name = text(tree.root.get("cluster_name"));
    let namespace = text(tree.root.get("topology").and_then(|t| t.get("namespace")));
    Ok(if namespace.is_empty() {
        name
    } else {
        format!("{namespace}/{name}")
    })
}

fn name_in_meta_yaml(bytes: &[u8]) -> Result<String, String> {
    if let Some((line, column)) = diag_core::model::yaml::too_deep(&String::from_utf8_lossy(bytes))
    {
        let why = diag_core::model::yaml::too_deep_message();
        return Err(format!("meta.yaml:{line}:{column}: {why}"));
    }
    let doc: serde_yaml::Value =
        serde_yaml::from_slice(bytes).map_err(|e| format!("meta.yaml: {e}"))?;
    Ok(match doc.get("cluster_name") {
        Some(serde_yaml::Value::String(s)) => s.clone(),
        _ => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_dirs_the_cli_writes_are_recognised() {
        for name in [
            "report-261201090459",
            "report-261201090459-3",
            "diag-x-report-261201090459",
            "diag-x.y-report-261201090459-12",
            ".diag-report-abc123",
        ] {
            assert!(is_report_dir_name(name), "{name}");
        }
        for name in [
            "diag-report",
            "diag-x",
            "diag-report-x",
            "report-2612",
            "diag-x-report-26120109045a",
            "report-261201090459-",
        ] {
            assert!(!is_report_dir_name(name), "{name}");
        }
    }
}
