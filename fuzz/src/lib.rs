//! What the fuzz targets share: an in-memory bundle [`Source`], the fixture clusters and rule
//! set loaded once per process, a per-input time bound, YAML quoting for embedding arbitrary
//! text in a rule file, and the archive check every source target runs.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use diag_core::Cluster;
use diag_core::LoadError;
use diag_core::bundle::{Entry, Limits, Opened, ReadPlan, Source, SourceKind, open_source};
use diag_core::engine::{CheckOptions, CheckOutcome};
use diag_core::rules::{CheckKind, RuleSet};

/// Most time one input may take in any target. libFuzzer's `-timeout=10` catches hangs; this
/// catches inputs that are merely far too slow (quadratic paths), with room for a loaded machine.
pub const TIME_BOUND: Duration = Duration::from_secs(5);

/// Panics when `start` is more than [`TIME_BOUND`] ago: the input is a slow input.
pub fn within_bound(start: Instant, what: &str) {
    let spent = start.elapsed();
    assert!(
        spent <= TIME_BOUND,
        "{what} took {spent:?} (bound {TIME_BOUND:?})"
    );
}

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// `fixtures/diag-fPrz0RnDxRn` (a real v5.4.0 cluster: 3 PD, 3 TiKV, 2 TiDB, …), loaded once.
pub fn seed_cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        Cluster::open(&fixtures().join("diag-fPrz0RnDxRn")).expect("the seed fixture loads")
    })
}

/// The built-in rules, loaded once.
pub fn builtin_rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(RuleSet::builtin)
}

/// Check options selecting every kind of rule.
pub fn all_kinds() -> CheckOptions {
    CheckOptions {
        kinds: CheckKind::ALL.to_vec(),
        ..CheckOptions::default()
    }
}

/// Runs `rules` over `cluster` on a rayon pool of `threads` threads.
pub fn check_on(
    threads: usize,
    cluster: &Cluster,
    rules: &RuleSet,
    options: &CheckOptions,
) -> CheckOutcome {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool");
    pool.install(|| diag_core::engine::check(cluster, rules, options))
}

/// `text` as a YAML double-quoted scalar: printable ASCII as is, everything else escaped, so
/// any string embeds in a rule file unchanged.
pub fn yaml_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Splits fuzz bytes into `(path, content)` files: each record is a one-byte path length, the
/// path, a two-byte little-endian content length and the content (the tail is the last file's
/// content when short). [`encode_files`] writes the same format (for seeds).
pub fn decode_files(mut data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    while let Some((&n, rest)) = data.split_first() {
        let n = (n as usize).min(rest.len());
        let path = String::from_utf8_lossy(&rest[..n]).into_owned();
        let rest = &rest[n..];
        let len = match rest {
            [a, b, ..] => u16::from_le_bytes([*a, *b]) as usize,
            _ => 0,
        };
        let rest = rest.get(2..).unwrap_or(&[]);
        let len = len.min(rest.len());
        files.push((path, rest[..len].to_vec()));
        data = &rest[len..];
    }
    files
}

/// The inverse of [`decode_files`] (contents longer than 65,535 bytes are cut).
pub fn encode_files(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, content) in files {
        let path = &path.as_bytes()[..path.len().min(255)];
        out.push(path.len() as u8);
        out.extend_from_slice(path);
        let content = &content[..content.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(content.len() as u16).to_le_bytes());
        out.extend_from_slice(content);
    }
    out
}

/// A bundle held in memory: what a collector that streams a bundle could hand the loader.
#[derive(Debug)]
pub struct MemSource {
    files: BTreeMap<String, Arc<[u8]>>,
    index: BTreeMap<String, Entry>,
    limits: Limits,
}

impl MemSource {
    /// A bundle of `files` (later files with the same path replace earlier ones).
    pub fn new(files: Vec<(String, Vec<u8>)>) -> MemSource {
        let mut map = BTreeMap::new();
        for (path, content) in files {
            map.insert(path, Arc::<[u8]>::from(content));
        }
        let index = map
            .iter()
            .map(|(p, c)| (p.clone(), Entry::new(p, c.len() as u64, true)))
            .collect();
        MemSource {
            files: map,
            index,
            limits: Limits::default().with_max_read_bytes(16 << 20),
        }
    }

    /// Opened, without warnings, for [`Cluster::from_source`].
    pub fn opened(self) -> Opened {
        Opened {
            source: Arc::new(self),
            warnings: Vec::new(),
        }
    }
}

impl Source for MemSource {
    fn location(&self) -> &Path {
        Path::new("/in-memory/diag-fuzz")
    }
    fn kind(&self) -> SourceKind {
        SourceKind::Directory
    }
    fn index(&self) -> &BTreeMap<String, Entry> {
        &self.index
    }
    fn limits(&self) -> &Limits {
        &self.limits
    }
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, LoadError> {
        match self.files.get(path) {
            Some(content) => Ok(Box::new(std::io::Cursor::new(Arc::clone(content)))),
            None => Err(LoadError::Io {
                path: path.into(),
                cause: std::io::Error::new(std::io::ErrorKind::NotFound, "not in the bundle"),
            }),
        }
    }
}

/// Limits small enough that a hostile archive cannot make a fuzz run slow or large.
pub fn fuzz_limits() -> Limits {
    Limits::default()
        .with_max_entry_bytes(32 << 20)
        .with_max_total_bytes(64 << 20)
        .with_max_entries(20_000)
        .with_max_read_bytes(32 << 20)
}

/// Writes `bytes` to a per-process scratch file named `bundle.<ext>` (on `/dev/shm` when there
/// is one) and returns its path. The archive readers take paths, as the CLI gives them.
pub fn scratch_archive(ext: &str, bytes: &[u8]) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("diag-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(format!("bundle.{ext}"));
    std::fs::write(&path, bytes).expect("scratch file");
    path
}

/// Whether an indexed path is safe: relative, `/`-separated, no empty, `.` or `..` segment.
pub fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Opens an archive at `path` and checks what every source promises:
/// - every indexed path is safe ([`is_safe_path`]) and the index respects `max_entries`;
/// - every entry that opens streams exactly its indexed size, or fails with an error (never
///   more bytes than indexed);
/// - the model loads from it or fails with an error, and loading twice gives the same result
///   (instances, warnings);
/// - the whole input stays under [`TIME_BOUND`].
pub fn check_archive(ext: &str, bytes: &[u8]) {
    let start = Instant::now();
    let path = scratch_archive(ext, bytes);
    let limits = fuzz_limits();
    let plan = ReadPlan::everything();
    let Ok(opened) = open_source(&path, &limits, &plan) else {
        return;
    };
    let index = opened.source.index().clone();
    assert!(index.len() <= limits.max_entries, "index over max_entries");
    for (name, entry) in &index {
        assert!(is_safe_path(name), "unsafe path indexed: {name:?}");
        assert!(
            entry.size <= limits.max_entry_bytes,
            "{name}: entry over max_entry_bytes"
        );
        if let Ok(reader) = opened.source.open(name) {
            let mut out = Vec::new();
            let read = reader.take(entry.size + 1).read_to_end(&mut out);
            if read.is_ok() {
                assert_eq!(
                    out.len() as u64,
                    entry.size,
                    "{name}: read length differs from index"
                );
            }
        }
    }
    let first = Cluster::from_source(opened, &plan)
        .map(|c| summary(&c))
        .map_err(|e| e.to_string());
    let again = open_source(&path, &limits, &plan)
        .and_then(|o| Cluster::from_source(o, &plan))
        .map(|c| summary(&c))
        .map_err(|e| e.to_string());
    assert_eq!(first, again, "loading the same archive twice differs");
    within_bound(start, "opening and reading the archive");
}

/// What a load produced, comparable across loads.
pub fn summary(cluster: &Cluster) -> (String, Vec<String>, Vec<String>) {
    (
        cluster.name.clone(),
        cluster
            .instances
            .iter()
            .map(|i| format!("{} {}", i.tag(), i.files.len()))
            .collect(),
        cluster.warnings.iter().map(|w| w.to_string()).collect(),
    )
}

/// Checks that `text` is well-formed XML.
pub fn assert_xml(text: &str, what: &str) {
    if let Err(e) = roxmltree::Document::parse(text) {
        panic!("{what} is not well-formed XML: {e}");
    }
}
