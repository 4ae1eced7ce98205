//! Cluster versions and the version constraints rules are written with.
//!
//! Constraints use diag's syntax (Masterminds/semver v1): `||` separates alternatives, `,`
//! joins requirements that must all hold, a bare version (`v5.3.0`) means exactly that version,
//! and a leading `v` is optional everywhere. The empty constraint matches every version.

use std::fmt;

use semver::Version;
use serde::Serialize;

/// Reads `v5.4.0`, `5.4.0`, `v5.4` or `v6` as a semantic version (missing parts are zero).
///
/// ```
/// use diag_core::model::version::parse_version;
/// assert_eq!(parse_version("v5.4").unwrap().to_string(), "5.4.0");
/// assert!(parse_version("nightly").is_none());
/// ```
pub fn parse_version(text: &str) -> Option<Version> {
    let s = text.trim();
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    let core_end = s.find(['-', '+']).unwrap_or(s.len());
    let (core, tail) = s.split_at(core_end);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut full = parts.join(".");
    for _ in parts.len()..3 {
        full.push_str(".0");
    }
    full.push_str(tail);
    Version::parse(&full).ok()
}

/// Where the cluster version was taken from, so `inspect` can say why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VersionOrigin {
    /// `cluster.json` `topology.version` was a semantic version.
    Topology,
    /// `meta.yaml` `tidb_version` (used when `cluster.json` has no topology).
    MetaYaml,
    /// The tag of the first TiDB instance's image (`pingcap/tidb:v5.2.2`).
    TidbImage,
    /// The tag of the first PD instance's image.
    PdImage,
    /// Nothing gave a semantic version: diag calls such a cluster `nightly`.
    Nightly,
}

/// The version rules are selected by, as diag decides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterVersion {
    /// The text printed in reports (`v5.4.0`, or `nightly`).
    pub text: String,
    /// The parsed version; `None` for `nightly`, which only unversioned rules match.
    #[serde(skip)]
    pub semver: Option<Version>,
    /// Where [`ClusterVersion::text`] came from.
    pub origin: VersionOrigin,
    /// One line on why this version was chosen (names the value that was rejected, if any).
    pub reason: String,
}

impl ClusterVersion {
    /// Chooses the cluster version the way diag does: topology version when it is semver, else
    /// the TiDB image tag, else the PD image tag, else `nightly`.
    pub fn decide(
        topology: Option<&str>,
        origin: VersionOrigin,
        tidb_image: Option<&str>,
        pd_image: Option<&str>,
    ) -> ClusterVersion {
        if let Some(text) = topology
            && let Some(v) = parse_version(text)
        {
            let reason = match origin {
                VersionOrigin::MetaYaml => {
                    format!("meta.yaml tidb_version `{text}` is a semantic version")
                }
                _ => format!("cluster.json topology.version `{text}` is a semantic version"),
            };
            return ClusterVersion {
                text: text.trim().to_string(),
                semver: Some(v),
                origin,
                reason,
            };
        }
        let rejected = match topology {
            Some(t) => format!("topology version `{t}` is not a semantic version"),
            None => "no topology version".to_string(),
        };
        for (image, origin, who) in [
            (tidb_image, VersionOrigin::TidbImage, "TiDB"),
            (pd_image, VersionOrigin::PdImage, "PD"),
        ] {
            let Some(image) = image else { continue };
            let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
            let tag = tag.split('-').next().unwrap_or("");
            if let Some(v) = parse_version(tag) {
                return ClusterVersion {
                    text: tag.to_string(),
                    semver: Some(v),
                    origin,
                    reason: format!("{rejected}; took the tag of the {who} image `{image}`"),
                };
            }
        }
        ClusterVersion {
            text: "nightly".to_string(),
            semver: None,
            origin: VersionOrigin::Nightly,
            reason: format!("{rejected} and no TiDB or PD image carries a version tag"),
        }
    }
}

/// A version constraint in diag's syntax, parsed once.
///
/// ```
/// use diag_core::model::version::{VersionConstraint, parse_version};
/// let c = VersionConstraint::parse(">=v4.0.0, <v4.0.15 || v5.3.0").unwrap();
/// assert!(c.matches(parse_version("v4.0.9").as_ref()));
/// assert!(c.matches(parse_version("v5.3.0").as_ref()));
/// assert!(!c.matches(parse_version("v5.4.0").as_ref()));
/// assert!(!c.matches(None)); // `nightly`
/// assert!(VersionConstraint::parse("").unwrap().matches(None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConstraint {
    text: String,
    any_of: Vec<Vec<Requirement>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    op: Op,
    version: Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Tilde,
    Caret,
}

/// A constraint that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{part}` in version constraint `{text}` is not a version requirement (expected e.g. `>= v5.3.0`, `v5.0.1`, `<v4.0.15`)"
)]
pub struct ConstraintError {
    /// The whole constraint.
    pub text: String,
    /// The piece that failed.
    pub part: String,
}

impl VersionConstraint {
    /// Parses a constraint; the empty string matches everything.
    pub fn parse(text: &str) -> Result<VersionConstraint, ConstraintError> {
        let mut any_of = Vec::new();
        if !text.trim().is_empty() {
            for alternative in text.split("||") {
                let mut all_of = Vec::new();
                for part in alternative.split(',') {
                    let part = part.trim();
                    let err = || ConstraintError {
                        text: text.to_string(),
                        part: part.to_string(),
                    };
                    let op_len = part
                        .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~' | '^'))
                        .unwrap_or(part.len());
                    let op = match &part[..op_len] {
                        "" | "=" | "==" => Op::Eq,
                        "!=" => Op::Ne,
                        ">" => Op::Gt,
                        ">=" | "=>" => Op::Ge,
                        "<" => Op::Lt,
                        "<=" | "=<" => Op::Le,
                        "~" | "~>" => Op::Tilde,
                        "^" => Op::Caret,
                        _ => return Err(err()),
                    };
                    let version = parse_version(&part[op_len..]).ok_or_else(err)?;
                    all_of.push(Requirement { op, version });
                }
                any_of.push(all_of);
            }
        }
        Ok(VersionConstraint {
            text: text.trim().to_string(),
            any_of,
        })
    }

    /// The constraint as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the constraint is empty (all versions).
    pub fn is_unconstrained(&self) -> bool {
        self.any_of.is_empty()
    }

    /// Whether `version` satisfies the constraint; `None` (a `nightly` cluster) only satisfies
    /// the empty constraint, as in diag.
    pub fn matches(&self, version: Option<&Version>) -> bool {
        if self.any_of.is_empty() {
            return true;
        }
        let Some(v) = version else { return false };
        self.any_of
            .iter()
            .any(|all| all.iter().all(|r| r.matches(v)))
    }
}

impl Requirement {
    fn matches(&self, v: &Version) -> bool {
        // Pre-releases only satisfy requirements that name a pre-release themselves.
        if !v.pre.is_empty() && self.version.pre.is_empty() {
            return false;
        }
        let c = &self.version;
        match self.op {
            Op::Eq => v == c,
            Op::Ne => v != c,
            Op::Gt => v > c,
            Op::Ge => v >= c,
            Op::Lt => v < c,
            Op::Le => v <= c,
            Op::Tilde => v >= c && v.major == c.major && v.minor == c.minor,
            Op::Caret => v >= c && v.major == c.major,
        }
    }
}

impl fmt::Display for VersionConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            f.write_str("all versions")
        } else {
            f.write_str(&self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<Version> {
        parse_version(s)
    }

    #[test]
    fn bare_version_means_exactly_that_version() {
        let c = VersionConstraint::parse("v5.0.0||v5.0.1").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.matches(v("v5.0.1").as_ref()));
        assert!(!c.matches(v("v5.0.2").as_ref()));
    }

    #[test]
    fn and_with_spaces_after_operators() {
        let c = VersionConstraint::parse(">= v4.0.0, <= v4.0.15").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.matches(v("v4.0.15").as_ref()));
        assert!(!c.matches(v("v5.1.0").as_ref()));
    }

    #[test]
    fn bad_constraints_name_the_piece() {
        let err = VersionConstraint::parse(">= v5.3.0 || banana")
            .err()
            .map(|e| e.part);
        assert_eq!(err.as_deref(), Some("banana"));
    }

    #[test]
    fn version_decided_from_image_when_topology_is_not_semver() {
        let cv = ClusterVersion::decide(
            Some("latest"),
            VersionOrigin::Topology,
            Some("pingcap/tidb:v5.2.2-20211111"),
            None,
        );
        assert_eq!(cv.text, "v5.2.2");
        assert_eq!(cv.origin, VersionOrigin::TidbImage);
        let cv = ClusterVersion::decide(
            Some("nightly"),
            VersionOrigin::Topology,
            None,
            Some("pingcap/pd:latest"),
        );
        assert_eq!(cv.text, "nightly");
        assert_eq!(cv.semver, None);
    }
}
