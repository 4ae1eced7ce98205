//! What zip and tar archives share: the caps applied while indexing, and links.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Limits, too_large};
use crate::error::{LimitKind, LoadError};

/// Ratios are only checked past this many bytes: small files of repeated text compress far
/// better than any real data at size.
pub(crate) const RATIO_FLOOR: u64 = 1 << 20;

/// Applies the per-entry and running-total caps while an archive is indexed.
pub(crate) struct Budget<'a> {
    pub(crate) limits: &'a Limits,
    pub(crate) total: u64,
    pub(crate) count: usize,
}

impl Budget<'_> {
    /// `Ok(false)` when the entry alone is refused (a warning), `Err` when the archive as a whole is.
    pub(crate) fn admit(
        &mut self,
        entry: &str,
        size: u64,
        compressed: Option<u64>,
        warnings: &mut Vec<LoadError>,
    ) -> Result<bool, LoadError> {
        self.count += 1;
        if self.count > self.limits.max_entries {
            return Err(too_large(
                entry,
                LimitKind::EntryCount,
                format!(
                    "archive has more than {} entries (max_entries)",
                    self.limits.max_entries
                ),
            ));
        }
        if size > self.limits.max_entry_bytes {
            warnings.push(too_large(
                entry,
                LimitKind::EntrySize,
                format!(
                    "{size} bytes uncompressed, over the {}-byte limit for one file (max_entry_bytes)",
                    self.limits.max_entry_bytes
                ),
            ));
            return Ok(false);
        }
        if let Some(c) = compressed
            && size > RATIO_FLOOR
            && size / c.max(1) > self.limits.max_ratio
        {
            warnings.push(too_large(
                entry,
                LimitKind::ExpansionRatio,
                format!(
                    "expands {size} bytes from {c} (ratio over {}, max_ratio)",
                    self.limits.max_ratio
                ),
            ));
            return Ok(false);
        }
        self.total = self.total.saturating_add(size);
        if self.total > self.limits.max_total_bytes {
            return Err(too_large(
                entry,
                LimitKind::TotalSize,
                format!(
                    "archive expands past the {}-byte total limit (max_total_bytes)",
                    self.limits.max_total_bytes
                ),
            ));
        }
        Ok(true)
    }
}

pub(crate) fn archive_error(
    path: &Path,
    kind: &'static str,
    e: impl std::fmt::Display,
) -> LoadError {
    LoadError::Archive {
        path: path.to_path_buf(),
        kind,
        message: e.to_string(),
    }
}

/// A link entry: its path and its target, already resolved against the archive root.
pub(crate) type Alias = (String, Result<String, String>);

/// Keeps links whose target stays inside the archive; the rest are refused by name.
pub(crate) fn resolve_aliases(
    aliases: Vec<Alias>,
    names: &BTreeMap<String, u64>,
    warnings: &mut Vec<LoadError>,
) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for (link, target) in aliases {
        match target {
            Ok(resolved) => match names.get(&resolved) {
                Some(&size) => out.push((link, resolved, size)),
                None => warnings.push(LoadError::UnsafeEntry {
                    entry: link,
                    reason: format!("link target `{resolved}` is not a file in the archive"),
                }),
            },
            Err(reason) => warnings.push(LoadError::UnsafeEntry {
                entry: link,
                reason,
            }),
        }
    }
    out
}
