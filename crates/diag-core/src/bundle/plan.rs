//! What a check will read of a bundle. Loading reads only what the plan wants; everything else
//! is indexed (path, size, kind) and left alone.
//!
//! The plan matters most for archives that can only be read front to back (`.tar.gz`, `.tgz`,
//! `.tar.zst`): during the one pass at open, a wanted entry is kept (in memory when small,
//! else in an unlinked temporary file) and an unwanted one is only indexed. Directories, zips and
//! plain `.tar` files are random access, so there the plan only decides what the loader parses
//! eagerly (runtime configs).
//!
//! ```
//! use diag_core::bundle::{DataKind, LogKind, ReadPlan};
//! let plan = ReadPlan::metadata()
//!     .with(DataKind::RuntimeConfig)
//!     .with(DataKind::Log(LogKind::Slow))
//!     .with_metric("tidb_server_query_total");
//! assert!(plan.wants("cluster.json", None));
//! assert!(plan.wants("h/d/tidb-4000/conf/config.json", Some(DataKind::RuntimeConfig)));
//! assert!(!plan.wants("h/d/tidb-4000/log/tidb.log", Some(DataKind::Log(LogKind::Std))));
//! assert!(plan.wants(
//!     "monitor/metrics/p_9090/tidb_server_query_total-2022-01-24T07:33:57+08:00-2022-01-24T09:33:57+08:00.json",
//!     Some(DataKind::Metric),
//! ));
//! assert!(ReadPlan::everything().wants("anything/at/all", None));
//! ```

use std::collections::BTreeSet;

use super::kind::DataKind;

/// Files every plan wants: what the loader needs to build the cluster at all.
const METADATA: [&str; 3] = ["cluster.json", "meta.yaml", "tidbcluster.json"];

/// The inputs a set of rules declared. [`ReadPlan::default`] is [`ReadPlan::everything`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    everything: bool,
    kinds: BTreeSet<DataKind>,
    metrics: BTreeSet<String>,
}

impl Default for ReadPlan {
    fn default() -> ReadPlan {
        ReadPlan::everything()
    }
}

impl ReadPlan {
    /// Every file of the bundle.
    pub fn everything() -> ReadPlan {
        ReadPlan {
            everything: true,
            kinds: BTreeSet::new(),
            metrics: BTreeSet::new(),
        }
    }

    /// Only what the cluster model is built from: `cluster.json`, `meta.yaml`,
    /// `tidbcluster.json`. Add inputs with [`ReadPlan::with`] and [`ReadPlan::with_metric`].
    pub fn metadata() -> ReadPlan {
        ReadPlan {
            everything: false,
            kinds: BTreeSet::new(),
            metrics: BTreeSet::new(),
        }
    }

    /// Also every file of `kind` (all metrics for [`DataKind::Metric`]).
    pub fn with(mut self, kind: DataKind) -> ReadPlan {
        self.kinds.insert(kind);
        self
    }

    /// Also the metric files of one metric (`monitor/metrics/<prom>/<name>-<begin>-<end>….json`).
    pub fn with_metric(mut self, name: &str) -> ReadPlan {
        self.metrics.insert(name.to_string());
        self
    }

    /// Whether this plan reads every file.
    pub fn is_everything(&self) -> bool {
        self.everything
    }

    /// Whether the plan wants the file at bundle-relative `path`, of `kind` (as
    /// [`super::classify`] gives it).
    pub fn wants(&self, path: &str, kind: Option<DataKind>) -> bool {
        if self.everything || METADATA.contains(&path) {
            return true;
        }
        match kind {
            Some(DataKind::Metric) => {
                self.kinds.contains(&DataKind::Metric)
                    || metric_name(path).is_some_and(|m| self.metrics.contains(m))
            }
            Some(kind) => self.kinds.contains(&kind),
            None => false,
        }
    }

    /// Whether the plan wants an archive entry whose bundle root is not known yet: `name` is
    /// tried with every leading folder stripped, as the root may sit below wrapping folders.
    pub(crate) fn wants_archive_name(&self, name: &str) -> bool {
        if self.everything {
            return true;
        }
        let mut rest = name;
        loop {
            if self.wants(rest, super::classify(rest)) {
                return true;
            }
            match rest.split_once('/') {
                Some((_, tail)) => rest = tail,
                None => return false,
            }
        }
    }
}

/// The metric name of a metrics file path: the file name up to the first `-`.
pub(crate) fn metric_name(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split('-')
        .next()
        .map(|n| n.trim_end_matches(".json"))
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::LogKind;

    #[test]
    fn archive_names_match_below_wrapping_folders() {
        let plan = ReadPlan::metadata().with(DataKind::RuntimeConfig);
        assert!(plan.wants_archive_name("diag-x/cluster.json"));
        assert!(plan.wants_archive_name("out/diag-x/h/d/pd-2379/conf/config.json"));
        assert!(!plan.wants_archive_name("diag-x/h/d/pd-2379/log/pd.log"));
        assert!(!plan.wants_archive_name("diag-x/h/d/pd-2379/conf/pd.toml"));
        let logs = ReadPlan::metadata().with(DataKind::Log(LogKind::Std));
        assert!(logs.wants_archive_name("diag-x/h/d/pd-2379/log/pd.log"));
    }
}
