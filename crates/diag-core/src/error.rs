//! Errors of loading a bundle. The same type serves as a hard error (the bundle cannot be used at
//! all) and as a recorded warning (one file could not be used; everything else loaded).

use std::path::PathBuf;

/// The file formats the loader parses, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// JSON (`cluster.json`, `config.json`, …).
    Json,
    /// TOML (`conf/*.toml`).
    Toml,
    /// YAML (`meta.yaml`).
    Yaml,
    /// CSV (`db_vars/*.csv`).
    Csv,
    /// Line-oriented text (`limits.conf`, `sysctl.conf`).
    Text,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::Toml => "TOML",
            Format::Yaml => "YAML",
            Format::Csv => "CSV",
            Format::Text => "text",
        })
    }
}

/// Which cap an archive entry ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LimitKind {
    /// [`crate::bundle::Limits::max_entry_bytes`].
    EntrySize,
    /// [`crate::bundle::Limits::max_total_bytes`].
    TotalSize,
    /// [`crate::bundle::Limits::max_ratio`].
    ExpansionRatio,
    /// [`crate::bundle::Limits::max_entries`].
    EntryCount,
    /// [`crate::bundle::Limits::max_read_bytes`]: a file too large to read whole.
    ReadSize,
}

/// Something that went wrong reading a bundle. Paths are relative to the bundle root unless the
/// variant says otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bundle (or a file in it) could not be read from disk.
    #[error("{path}: {cause}")]
    Io {
        /// The path on disk (or in the bundle).
        path: PathBuf,
        /// The underlying error (printed in the message rather than chained, so it shows once).
        cause: std::io::Error,
    },
    /// The input is not a diag bundle.
    #[error("{path}: not a diag bundle: {reason}")]
    NotABundle {
        /// The path given.
        path: PathBuf,
        /// What was expected and not found.
        reason: String,
    },
    /// The archive itself is unreadable.
    #[error("{path}: unreadable {kind} archive: {message}")]
    Archive {
        /// The archive on disk.
        path: PathBuf,
        /// `zip`, `tar.gz`, `tar.zst` or `tar`.
        kind: &'static str,
        /// What the archive reader said.
        message: String,
    },
    /// An archive entry was refused because it would escape the bundle.
    #[error("{entry}: refused: {reason}")]
    UnsafeEntry {
        /// The entry name as stored in the archive.
        entry: String,
        /// Why (`..` component, absolute path, link outside the bundle, …).
        reason: String,
    },
    /// An entry or the whole archive went over a decompression cap.
    #[error("{entry}: refused: {what}")]
    TooLarge {
        /// The entry (or the archive, for totals).
        entry: String,
        /// Which cap.
        limit: LimitKind,
        /// The numbers, in words.
        what: String,
    },
    /// A file could not be parsed.
    #[error("{file}:{line}:{column}: invalid {format}: {message}")]
    Syntax {
        /// The file inside the bundle.
        file: String,
        /// The format it was read as.
        format: Format,
        /// 1-based line (0 when unknown).
        line: u32,
        /// 1-based column (0 when unknown).
        column: u32,
        /// What was expected and found.
        message: String,
    },
    /// A file parsed but a field has the wrong shape.
    #[error("{file}:{line}: `{field}`: expected {expected}, found {found}")]
    Schema {
        /// The file inside the bundle.
        file: String,
        /// 1-based line of the offending value (0 when unknown).
        line: u32,
        /// Dotted path of the field.
        field: String,
        /// What the loader needs there.
        expected: String,
        /// What it found.
        found: String,
    },
    /// A file that must be text is not UTF-8, or holds binary data.
    #[error("{file}: {message}")]
    Encoding {
        /// The file inside the bundle.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file the loader needs is empty.
    #[error("{file}: empty file (expected {expected})")]
    Empty {
        /// The file inside the bundle.
        file: String,
        /// What the file should hold.
        expected: String,
    },
    /// The topology lists the same instance twice; the later entry is ignored.
    #[error("{file}: duplicate {component} instance {address} (topology entry {index}); ignored")]
    DuplicateInstance {
        /// `cluster.json` or `meta.yaml`.
        file: String,
        /// Component name.
        component: String,
        /// `host:port`.
        address: String,
        /// Position of the ignored entry in its component list.
        index: usize,
    },
    /// An instance has no runtime configuration in the bundle.
    #[error("{file}: no runtime config for {component} {address}; its rows will be nodata")]
    MissingConfig {
        /// Where the loader looked.
        file: String,
        /// Component name.
        component: String,
        /// `host:port`.
        address: String,
    },
}

impl LoadError {
    /// The bundle-relative file (or entry) the error is about, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            LoadError::UnsafeEntry { entry, .. } | LoadError::TooLarge { entry, .. } => Some(entry),
            LoadError::Syntax { file, .. }
            | LoadError::Schema { file, .. }
            | LoadError::Encoding { file, .. }
            | LoadError::Empty { file, .. }
            | LoadError::DuplicateInstance { file, .. }
            | LoadError::MissingConfig { file, .. } => Some(file),
            LoadError::Io { .. } | LoadError::NotABundle { .. } | LoadError::Archive { .. } => None,
        }
    }

    /// A stable short name of the variant, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            LoadError::Io { .. } => "io",
            LoadError::NotABundle { .. } => "not_a_bundle",
            LoadError::Archive { .. } => "archive",
            LoadError::UnsafeEntry { .. } => "unsafe_entry",
            LoadError::TooLarge { .. } => "too_large",
            LoadError::Syntax { .. } => "syntax",
            LoadError::Schema { .. } => "schema",
            LoadError::Encoding { .. } => "encoding",
            LoadError::Empty { .. } => "empty",
            LoadError::DuplicateInstance { .. } => "duplicate_instance",
            LoadError::MissingConfig { .. } => "missing_config",
        }
    }
}
