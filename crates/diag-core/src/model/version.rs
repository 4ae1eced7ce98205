//! Cluster versions and the version constraints rules are written with.
//!
//! Constraints use diag's syntax, Masterminds/semver v1.5.0 as diag calls it: `||` separates
//! alternatives, `,` joins requirements that must all hold, `a - b` is `>= a, <= b`, a leading
//! `v` is optional everywhere and spaces around operators are allowed. Operators: `=` (or
//! none), `!=`, `>`, `>=`/`=>`, `<`, `<=`/`=<`, `~`/`~>`, `^`. A bare version (`v5.3.0`) means
//! exactly that version; a wildcard (`x`, `X` or `*` for a part, or a missing part after the
//! major) makes it a range: `5.4.x` = `~5.4.0`, `5` and `5.x` = `~5`, `*` = every release.
//! `~5.3` is `>= 5.3.0, < 5.4.0`, `^6` is `>= 6.0.0, < 7.0.0`, `>= 5.x` is `>= 5.0.0`. The
//! corners are Masterminds' own: `< 5.x` and `<= 5.x` hold for every 5.*, `!= 5.x` for every
//! other major, and `^*` only for 0.*. A pre-release cluster version (`v6.0.0-alpha`) only
//! satisfies requirements that name a pre-release (except a plain `!=`), build metadata is
//! ignored. The empty constraint matches every version, as in diag.

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
    /// A wildcard part (`5.x`, `5.4.*`, `*`, `5`): Masterminds' `dirty`.
    dirty: bool,
    /// The minor part is a wildcard or missing (`5`, `5.x`).
    minor_dirty: bool,
    /// The patch part is a wildcard (`5.4.x`).
    patch_dirty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=` or no operator: equal, or `~` when the version has a wildcard.
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
    ///
    /// ```
    /// use diag_core::model::version::{VersionConstraint, parse_version};
    /// let c = VersionConstraint::parse("5.4.x || >= 6.1, < 7.x").unwrap();
    /// assert!(c.matches(parse_version("v5.4.3").as_ref()));
    /// assert!(!c.matches(parse_version("v5.3.0").as_ref()));
    /// assert!(c.matches(parse_version("v6.5.0").as_ref()));
    /// ```
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
                    // `a - b` (spaces around the hyphen) is `>= a, <= b`.
                    let tokens: Vec<&str> = part.split_whitespace().collect();
                    if let [from, "-", to] = tokens[..] {
                        let (from, to) = (
                            requirement(">=", from).ok_or_else(err)?,
                            requirement("<=", to).ok_or_else(err)?,
                        );
                        all_of.push(from);
                        all_of.push(to);
                        continue;
                    }
                    let op_len = part
                        .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~' | '^'))
                        .unwrap_or(part.len());
                    let r = requirement(&part[..op_len], part[op_len..].trim()).ok_or_else(err)?;
                    all_of.push(r);
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

/// One requirement: an operator and a version that may hold wildcards, read as Masterminds'
/// `parseConstraint` reads it.
fn requirement(op: &str, text: &str) -> Option<Requirement> {
    let op = match op {
        "" | "=" => Op::Eq,
        "!=" => Op::Ne,
        ">" => Op::Gt,
        ">=" | "=>" => Op::Ge,
        "<" => Op::Lt,
        "<=" | "=<" => Op::Le,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return None,
    };
    let s = text.strip_prefix('v').unwrap_or(text);
    let core_end = s.find(['-', '+']).unwrap_or(s.len());
    let (core, tail) = s.split_at(core_end);
    // The pre-release is kept when a wildcard rewrites the version; build metadata is not.
    let pre = tail.split('+').next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let wild = |p: &str| matches!(p, "x" | "X" | "*");
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !(wild(p) || p.bytes().all(|b| b.is_ascii_digit())))
    {
        return None;
    }
    let (version, minor_dirty, patch_dirty) = if wild(parts[0]) {
        (Version::new(0, 0, 0), false, false)
    } else if parts.get(1).is_none_or(|p| wild(p)) {
        (
            parse_version(&format!("{}.0.0{pre}", parts[0]))?,
            true,
            false,
        )
    } else if parts.get(2).is_some_and(|p| wild(p)) {
        (
            parse_version(&format!("{}.{}.0{pre}", parts[0], parts[1]))?,
            false,
            true,
        )
    } else {
        (parse_version(s)?, false, false)
    };
    let dirty = wild(parts[0]) || minor_dirty || patch_dirty;
    Some(Requirement {
        op,
        version,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Requirement {
    fn matches(&self, v: &Version) -> bool {
        use std::cmp::Ordering;
        let c = &self.version;
        // Pre-releases only satisfy requirements that name a pre-release themselves (all but
        // a plain `!=`, as in Masterminds).
        let pre_refused = !v.pre.is_empty() && c.pre.is_empty();
        let order = v.cmp_precedence(c);
        // `<`/`<=` with a wildcard: nothing above the wildcard's major (and minor, when set).
        let below_wildcard = || !(v.major > c.major || (v.minor > c.minor && !self.minor_dirty));
        match self.op {
            Op::Ne if !self.dirty => order != Ordering::Equal,
            _ if pre_refused => false,
            Op::Eq if self.dirty => self.tilde(v, order),
            Op::Eq => order == Ordering::Equal,
            Op::Ne => c.major != v.major || (c.minor != v.minor && !self.minor_dirty),
            Op::Gt => order == Ordering::Greater,
            Op::Ge => order != Ordering::Less,
            Op::Lt if self.dirty => below_wildcard(),
            Op::Lt => order == Ordering::Less,
            Op::Le if self.dirty => below_wildcard(),
            Op::Le => order != Ordering::Greater,
            Op::Tilde => self.tilde(v, order),
            Op::Caret => order != Ordering::Less && v.major == c.major,
        }
    }

    fn tilde(&self, v: &Version, order: std::cmp::Ordering) -> bool {
        let c = &self.version;
        if order == std::cmp::Ordering::Less {
            return false;
        }
        // `~0.0.0` (and `*`) accept everything.
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.minor_dirty)
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

    /// Every form of Masterminds/semver v1.5.0 that diag accepts, against its own results.
    #[test]
    fn masterminds_v1_syntax_wildcards_included() {
        let cases: &[(&str, &str, bool)] = &[
            ("5.4.x", "v5.4.0", true),
            ("5.4.x", "v5.4.9", true),
            ("5.4.x", "v5.5.0", false),
            ("v5.4.*", "v5.4.2", true),
            ("5.X", "v5.9.1", true),
            ("5", "v5.3.0", true),
            ("5", "v6.0.0", false),
            (">= 5.x", "v5.0.0", true),
            (">= 5.x", "v4.0.16", false),
            (">5.x", "v5.0.1", true),
            ("<5.x", "v5.9.0", true),
            ("<5.x", "v6.0.0", false),
            ("<= 5.4.x", "v5.4.7", true),
            ("<= 5.4.x", "v5.5.0", false),
            ("!= 5.x", "v5.1.0", false),
            ("!= 5.x", "v6.1.0", true),
            ("!= 5.4.x", "v5.3.0", true),
            ("~5.3", "v5.3.4", true),
            ("~5.3", "v5.4.0", false),
            ("~5.3", "v5.2.9", false),
            ("~>5.3.2", "v5.3.1", false),
            ("~5", "v5.9.0", true),
            ("~*", "v8.5.0", true),
            ("~0.0.0", "v7.1.0", true),
            ("^6", "v6.5.0", true),
            ("^6", "v7.0.0", false),
            ("^6.1", "v6.0.0", false),
            ("^6.1.x", "v6.9.0", true),
            ("^*", "v0.9.0", true),
            ("^*", "v5.0.0", false),
            ("*", "v8.5.4", true),
            ("*", "v6.0.0-alpha", false),
            ("x", "v4.0.0", true),
            ("v5.1 - v5.3.2", "v5.3.2", true),
            ("v5.1 - v5.3.2", "v5.3.3", false),
            ("v5.1 - v5.3.2", "v5.0.9", false),
            ("=> v5.3", "v5.3.0", true),
            ("=< v5.3", "v5.3.1", false),
            ("=v5.3.0", "v5.3.0", true),
            (">= v6.0.0-alpha", "v6.0.0-beta", true),
            (">= v6.0.0", "v6.0.0-beta", false),
            ("!= v6.0.0", "v6.0.0-beta", true),
            ("v5.3.0+build", "v5.3.0", true),
            ("5.4.x || >= 6.1, < 7.x", "v7.5.0", true),
            ("5.4.x || >= 6.1, < 7.x", "v8.1.0", false),
            ("5.4.x || >= 6.1, < 7.x", "v6.0.0", false),
        ];
        let mut wrong = Vec::new();
        for (constraint, version, want) in cases {
            match VersionConstraint::parse(constraint) {
                Ok(c) if c.matches(v(version).as_ref()) == *want => {}
                Ok(_) => wrong.push(format!("{constraint} on {version}: expected {want}")),
                Err(e) => wrong.push(format!("{constraint}: {e}")),
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn bad_constraints_name_the_piece() {
        let err = VersionConstraint::parse(">= v5.3.0 || banana")
            .err()
            .map(|e| e.part);
        assert_eq!(err.as_deref(), Some("banana"));
        // Masterminds has no `==`, no space-separated AND, no `5.4.3.2`, no `x` inside a number.
        for bad in [
            "== v5.3.0",
            ">= 5.0 < 6.0",
            "5.4.3.2",
            "5.4x",
            "v5.3.0 -",
            ">>5",
        ] {
            assert!(VersionConstraint::parse(bad).is_err(), "{bad}");
        }
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
