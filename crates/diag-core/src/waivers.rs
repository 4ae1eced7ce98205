//! Waivers: a post-pass over findings that accepts known abnormal rows, with a reason and an
//! expiry date, so that they stop counting as abnormal (and for `--fail-on`) while staying in
//! every report with their values and evidence.
//!
//! A waiver file is a YAML list:
//!
//! ```yaml
//! - rule: tidb-max-days          # rule id or name
//!   instance: "172.20.21.*:4000" # host:port, `*` and `?` allowed (or `host:`)
//!   reason: logs are shipped to Loki, local retention does not matter
//!   expires: 2027-01-31          # last day the waiver applies
//! ```
//!
//! Only abnormal rows are waived: an `error` row (the rule could not be evaluated) is never
//! hidden, and OK or `nodata` rows have nothing to accept. An expired waiver is not applied; a
//! waiver that waived no row is reported as unused.
//!
//! ```
//! use diag_core::waivers::WaiverSet;
//! let set = WaiverSet::parse("w.yaml", "- rule: 100\n  reason: known\n  expires: 2030-01-01\n").unwrap();
//! assert_eq!(set.waivers().len(), 1);
//! ```

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::{CheckOutcome, Finding, Row, RowState, WaiverNote};

/// A waiver file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaiverError {
    /// The file could not be read.
    #[error("{file}: {cause}")]
    Io {
        /// The file as given.
        file: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not a list of waivers.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file as given.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What was expected.
        message: String,
    },
    /// One entry is incomplete or wrong.
    #[error("{file}: waiver {index} (`rule: {rule}`): {message}")]
    Invalid {
        /// The file as given.
        file: String,
        /// 1-based position of the entry in the list.
        index: usize,
        /// The entry's `rule`.
        rule: String,
        /// What is wrong.
        message: String,
    },
}

/// One waiver, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Waiver {
    /// Rule id (`100`) or name (`tidb-max-days`).
    #[serde(deserialize_with = "id_or_name")]
    pub rule: String,
    /// `host:port` of the instance, with `*` and `?` wildcards.
    #[serde(default)]
    pub instance: Option<String>,
    /// Host (IP or name), with `*` and `?` wildcards.
    #[serde(default)]
    pub host: Option<String>,
    /// Why the result is accepted (mandatory, not empty).
    pub reason: String,
    /// The last day the waiver applies, `YYYY-MM-DD`.
    #[serde(default)]
    pub expires: Option<String>,
}

fn id_or_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IdOrName {
        Id(i64),
        Name(String),
    }
    Ok(match IdOrName::deserialize(d)? {
        IdOrName::Id(id) => id.to_string(),
        IdOrName::Name(name) => name,
    })
}

impl Waiver {
    /// Whether this waiver is about `finding`'s rule.
    fn matches_rule(&self, finding: &Finding) -> bool {
        self.rule == finding.rule.name || self.rule == finding.rule.id.to_string()
    }

    /// Whether this waiver is about `row` (a row about several instances matches when one of
    /// them does; a cluster-wide row only when the waiver names no instance or host).
    fn matches_row(&self, row: &Row) -> bool {
        if self.instance.is_none() && self.host.is_none() {
            return true;
        }
        row.instances.iter().any(|i| {
            let address = format!("{}:{}", i.host, i.port);
            self.instance.as_deref().is_none_or(|p| glob(p, &address))
                && self.host.as_deref().is_none_or(|p| glob(p, &i.host))
        })
    }

    /// Whether the waiver has expired on `today` (`YYYY-MM-DD`): it applies through its
    /// `expires` day.
    pub fn expired_on(&self, today: jiff::civil::Date) -> bool {
        self.expires_date().is_some_and(|d| d < today)
    }

    fn expires_date(&self) -> Option<jiff::civil::Date> {
        self.expires.as_deref().and_then(|e| e.parse().ok())
    }

    /// `rule 100 on 172.20.*:4000`, for messages.
    pub fn describe(&self) -> String {
        let mut text = format!("rule {}", self.rule);
        if let Some(i) = &self.instance {
            text.push_str(&format!(" on {i}"));
        }
        if let Some(h) = &self.host {
            text.push_str(&format!(" on host {h}"));
        }
        text
    }
}

/// `*` any run of characters, `?` one character, everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with one backtrack point: linear in practice, never exponential.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A validated list of waivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaiverSet {
    waivers: Vec<Waiver>,
}

impl WaiverSet {
    /// Reads and validates a waiver file.
    pub fn load(path: &Path) -> Result<WaiverSet, WaiverError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| WaiverError::Io {
            file: file.clone(),
            cause,
        })?;
        WaiverSet::parse(&file, &text)
    }

    /// Parses and validates waiver YAML; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<WaiverSet, WaiverError> {
        let waivers: Vec<Waiver> = if text.trim().is_empty() {
            Vec::new()
        } else if let Some((line, column)) = crate::model::yaml::too_deep(text) {
            return Err(WaiverError::Syntax {
                file: file.to_owned(),
                line,
                message: format!(
                    "expected a list of waivers (rule, reason, expires): {} at line {line} column {column}",
                    crate::model::yaml::too_deep_message()
                ),
            });
        } else {
            serde_yaml::from_str(text).map_err(|e| WaiverError::Syntax {
                file: file.to_owned(),
                line: e.location().map_or(0, |l| l.line()),
                message: format!("expected a list of waivers (rule, reason, expires): {e}"),
            })?
        };
        for (n, w) in waivers.iter().enumerate() {
            let invalid = |message: String| WaiverError::Invalid {
                file: file.to_owned(),
                index: n + 1,
                rule: w.rule.clone(),
                message,
            };
            if w.rule.trim().is_empty() {
                return Err(invalid("`rule` is empty".into()));
            }
            if w.reason.trim().is_empty() {
                return Err(invalid(
                    "`reason` is empty; say why the result is accepted".into(),
                ));
            }
            if let Some(e) = w.expires.as_ref().filter(|_| w.expires_date().is_none()) {
                return Err(invalid(format!(
                    "`expires: {e}` is not a date (expected YYYY-MM-DD)"
                )));
            }
        }
        Ok(WaiverSet { waivers })
    }

    /// The waivers, in file order.
    pub fn waivers(&self) -> &[Waiver] {
        &self.waivers
    }

    /// Applies the waivers to `outcome` as of `today`: every abnormal row a live waiver matches
    /// becomes [`RowState::Waived`] (the first matching waiver in file order is the one noted).
    pub fn apply(&self, outcome: &mut CheckOutcome, today: jiff::civil::Date) -> WaiverReport {
        let live: Vec<bool> = self.waivers.iter().map(|w| !w.expired_on(today)).collect();
        let notes: Vec<Arc<WaiverNote>> = self
            .waivers
            .iter()
            .map(|w| Arc::new(WaiverNote::new(w.reason.clone(), w.expires.clone())))
            .collect();
        let mut used = vec![0usize; self.waivers.len()];
        let mut waived = Vec::new();
        for finding in &mut outcome.findings {
            let candidates: Vec<usize> = (0..self.waivers.len())
                .filter(|&i| live[i] && self.waivers[i].matches_rule(finding))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            for row in &mut finding.rows {
                let RowState::Abnormal(severity) = row.state else {
                    continue;
                };
                if let Some(&i) = candidates
                    .iter()
                    .find(|&&i| self.waivers[i].matches_row(row))
                {
                    row.state = RowState::Waived(severity);
                    row.waiver = Some(notes[i].clone());
                    used[i] += 1;
                    waived.push(row.key(&finding.rule));
                }
            }
        }
        let mut report = WaiverReport {
            waived,
            ..WaiverReport::default()
        };
        for (i, w) in self.waivers.iter().enumerate() {
            if !live[i] {
                report.expired.push(w.clone());
            } else if used[i] == 0 {
                report.unused.push(w.clone());
            }
        }
        report
    }
}

/// What applying waivers did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WaiverReport {
    /// Keys of the rows waived, in report order.
    pub waived: Vec<String>,
    /// Waivers past their `expires` day, not applied.
    pub expired: Vec<Waiver>,
    /// Live waivers that matched no abnormal row.
    pub unused: Vec<Waiver>,
}

impl WaiverReport {
    /// One line per expired or unused waiver, for stderr.
    pub fn notices(&self) -> Vec<String> {
        let expired = self.expired.iter().map(|w| {
            format!(
                "waiver for {} expired on {}; not applied",
                w.describe(),
                w.expires.as_deref().unwrap_or_default()
            )
        });
        let unused = self
            .unused
            .iter()
            .map(|w| format!("waiver for {} matched no abnormal result", w.describe()));
        expired.chain(unused).collect()
    }
}

/// Today's date in the local time zone, for [`WaiverSet::apply`].
pub fn today() -> jiff::civil::Date {
    jiff::Zoned::now().date()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test fails by panicking
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_and_question_marks() {
        assert!(glob("172.20.*:4000", "172.20.21.213:4000"));
        assert!(glob("*", ""));
        assert!(glob("10.0.0.?:20160", "10.0.0.1:20160"));
        assert!(!glob("10.0.0.?:20160", "10.0.0.12:20160"));
        assert!(!glob("172.20.*:4000", "172.20.21.213:2379"));
        assert!(glob("*a*b*c", "xxaxxbxxc"));
    }

    #[test]
    fn a_waiver_without_a_reason_is_refused_with_its_position() {
        let err = WaiverSet::parse(
            "w.yaml",
            "- rule: 100\n  reason: ok\n- rule: 209\n  reason: ' '\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "w.yaml: waiver 2 (`rule: 209`): `reason` is empty; say why the result is accepted"
        );
    }

    #[test]
    fn a_bad_date_and_an_unknown_key_are_named() {
        let err =
            WaiverSet::parse("w.yaml", "- rule: 100\n  reason: r\n  expires: soon\n").unwrap_err();
        assert!(
            err.to_string().contains("`expires: soon` is not a date"),
            "{err}"
        );
        let err =
            WaiverSet::parse("w.yaml", "- rule: 100\n  reason: r\n  instnace: x\n").unwrap_err();
        assert!(err.to_string().starts_with("w.yaml:"), "{err}");
        assert!(err.to_string().contains("instnace"), "{err}");
    }
}
