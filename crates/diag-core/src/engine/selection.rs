//! Why a selection is what it is: names that no loaded rule has (a usage error), rules that were
//! named but do not run on this cluster, and requested kinds that no loaded rule has yet.
//!
//! These explain [`select`](super::select) and never change it: a rule is explained as not run
//! exactly when `select` leaves it out (a test holds the two together).
//!
//! ```
//! use diag_core::engine::CheckOptions;
//! use diag_core::engine::selection::{check_names, explain_selection};
//! use diag_core::rules::RuleSet;
//! let rules = RuleSet::builtin();
//! let typo = CheckOptions { only: vec!["tidb-max-day".into()], ..CheckOptions::default() };
//! let err = check_names(&rules, &typo).unwrap_err();
//! assert_eq!(err.suggestion.as_deref(), Some("tidb-max-days"));
//!
//! let cluster = diag_core::Cluster::open("../../fixtures/diag-fPrz0RnDxRn".as_ref()).unwrap();
//! let only_104 = CheckOptions { only: vec!["104".into()], ..CheckOptions::default() };
//! let notes = explain_selection(&cluster, &rules, &only_104);
//! assert!(notes[0].to_string().contains("does not include the cluster version v5.4.0"));
//! ```

use std::fmt;

use super::CheckOptions;
use crate::model::Cluster;
use crate::rules::{CheckKind, Rule, RuleSet, nearest};

/// Which list of a [`CheckOptions`] a name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameList {
    /// [`CheckOptions::only`]: the rules to run (`--rule`).
    Only,
    /// [`CheckOptions::skip`]: the rules not to run (`--skip`).
    Skip,
}

/// A rule id or name in a selection that no loaded rule has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRule {
    /// The list it was given in.
    pub list: NameList,
    /// The id or name as given.
    pub name: String,
    /// The closest loaded id (for a number) or name (for a near miss), if any.
    pub suggestion: Option<String>,
    /// How many rules are loaded.
    pub loaded: usize,
}

impl fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no loaded rule has the id or name `{}`",
            self.name.trim()
        )?;
        match &self.suggestion {
            Some(s) => write!(f, " (did you mean `{s}`?)"),
            None => write!(f, " ({} rules are loaded)", self.loaded),
        }
    }
}

impl std::error::Error for UnknownRule {}

/// The first id or name in `options.only` or `options.skip` (in that order) that no rule in
/// `rules` has, with the closest one as a suggestion.
pub fn check_names(rules: &RuleSet, options: &CheckOptions) -> Result<(), UnknownRule> {
    let lists = [
        (NameList::Only, &options.only),
        (NameList::Skip, &options.skip),
    ];
    for (list, names) in lists {
        for name in names.iter() {
            if rules.find(name).next().is_none() {
                return Err(UnknownRule {
                    list,
                    name: name.clone(),
                    suggestion: closest(rules, name.trim()),
                    loaded: rules.rules().len(),
                });
            }
        }
    }
    Ok(())
}

/// For a number, the numerically closest id (the lower on a tie); for a word, a name within
/// typo distance.
fn closest(rules: &RuleSet, name: &str) -> Option<String> {
    if let Ok(wanted) = name.parse::<i64>() {
        return rules
            .rules()
            .iter()
            .map(|r| r.meta.id)
            .min_by_key(|id| (id.abs_diff(wanted), *id))
            .map(|id| id.to_string());
    }
    let names: Vec<&str> = rules.rules().iter().map(|r| r.meta.name.as_str()).collect();
    nearest(name, &names)
}

/// One thing worth saying about a selection; its `Display` is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectionNote {
    /// Requested kinds that no loaded rule has yet, in [`CheckKind::ALL`] order.
    KindsWithoutRules(Vec<CheckKind>),
    /// A rule named in [`CheckOptions::only`] that does not run, and why.
    NotSelected {
        /// Its id.
        id: i64,
        /// Its name.
        name: String,
        /// Every reason, in the order selection tests them.
        reasons: Vec<NotSelectedReason>,
    },
}

/// Why a named rule does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotSelectedReason {
    /// Its kind is not among the requested ones.
    KindNotRequested {
        /// The rule's kind.
        kind: CheckKind,
        /// The kinds requested.
        requested: Vec<CheckKind>,
    },
    /// Its version range does not contain the cluster version.
    VersionExcluded {
        /// The range as written.
        range: String,
        /// The cluster version as printed in reports.
        cluster: String,
    },
    /// It is also in [`CheckOptions::skip`].
    Skipped,
    /// A later-loaded rule of the same name is selected instead.
    ReplacedBy {
        /// The id of the rule that runs.
        id: i64,
        /// Where that rule was loaded from.
        source: String,
    },
}

impl fmt::Display for NotSelectedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotSelectedReason::KindNotRequested { kind, requested } => {
                let requested: Vec<&str> = requested.iter().map(|k| k.as_str()).collect();
                write!(
                    f,
                    "its kind `{}` is not requested (requested: {})",
                    kind.as_str(),
                    requested.join(", ")
                )
            }
            NotSelectedReason::VersionExcluded { range, cluster } => write!(
                f,
                "its version range `{range}` does not include the cluster version {cluster}"
            ),
            NotSelectedReason::Skipped => f.write_str("it is also skipped"),
            NotSelectedReason::ReplacedBy { id, source } => {
                write!(f, "rule {id} of the same name (from {source}) runs instead")
            }
        }
    }
}

impl fmt::Display for SelectionNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectionNote::KindsWithoutRules(kinds) => {
                let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                if let [one] = names.as_slice() {
                    write!(
                        f,
                        "no rule of kind {one} is loaded yet; nothing runs for it"
                    )
                } else {
                    write!(
                        f,
                        "no rules of kinds {} are loaded yet; nothing runs for them",
                        names.join(", ")
                    )
                }
            }
            SelectionNote::NotSelected { id, name, reasons } => {
                let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                write!(f, "rule {id} `{name}` is not run: {}", reasons.join("; "))
            }
        }
    }
}

/// Says what a check of `cluster` with `options` will leave out that the user may not expect:
/// requested kinds without loaded rules, and each rule named in `options.only` that does not
/// run, with every reason. Empty when the selection is what was asked for.
pub fn explain_selection(
    cluster: &Cluster,
    rules: &RuleSet,
    options: &CheckOptions,
) -> Vec<SelectionNote> {
    let mut notes = Vec::new();
    let empty: Vec<CheckKind> = CheckKind::ALL
        .into_iter()
        .filter(|k| options.kinds.contains(k))
        .filter(|k| !rules.rules().iter().any(|r| r.meta.kind == *k))
        .collect();
    if !empty.is_empty() {
        notes.push(SelectionNote::KindsWithoutRules(empty));
    }
    let selected = super::select(cluster, rules, options);
    let mut named: Vec<&Rule> = rules
        .rules()
        .iter()
        .filter(|r| options.only.iter().any(|o| r.is_called(o)))
        .collect();
    named.sort_by_key(|r| (r.meta.id, r.order));
    for rule in named {
        if selected.iter().any(|s| std::ptr::eq(*s, rule)) {
            continue;
        }
        notes.push(SelectionNote::NotSelected {
            id: rule.meta.id,
            name: rule.meta.name.clone(),
            reasons: reasons(cluster, rule, options, &selected),
        });
    }
    notes
}

fn reasons(
    cluster: &Cluster,
    rule: &Rule,
    options: &CheckOptions,
    selected: &[&Rule],
) -> Vec<NotSelectedReason> {
    let mut out = Vec::new();
    if !options.kinds.contains(&rule.meta.kind) {
        out.push(NotSelectedReason::KindNotRequested {
            kind: rule.meta.kind,
            requested: options.kinds.clone(),
        });
    }
    if !rule.version.matches(cluster.version.semver.as_ref()) {
        out.push(NotSelectedReason::VersionExcluded {
            range: rule.version.to_string(),
            cluster: cluster.version.text.clone(),
        });
    }
    if options.skip.iter().any(|s| rule.is_called(s)) {
        out.push(NotSelectedReason::Skipped);
    }
    if out.is_empty()
        && let Some(winner) = selected.iter().find(|s| s.meta.name == rule.meta.name)
    {
        out.push(NotSelectedReason::ReplacedBy {
            id: winner.meta.id,
            source: winner.meta.source.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Cluster {
        Cluster::open("../../fixtures/diag-fPrz0RnDxRn".as_ref()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn only(names: &[&str]) -> CheckOptions {
        CheckOptions {
            only: names.iter().map(|s| s.to_string()).collect(),
            ..CheckOptions::default()
        }
    }

    #[test]
    fn rule_9999_is_unknown_and_the_closest_id_is_offered() {
        let err = check_names(&RuleSet::builtin(), &only(&["9999"]))
            .err()
            .unwrap_or_else(|| panic!("9999 is no rule"));
        assert_eq!(err.list, NameList::Only);
        let max = RuleSet::builtin()
            .rules()
            .iter()
            .map(|r| r.meta.id)
            .max()
            .unwrap_or_default();
        assert_eq!(err.suggestion, Some(max.to_string()));
        assert!(
            err.to_string()
                .starts_with("no loaded rule has the id or name `9999`")
        );
    }

    #[test]
    fn skip_nonesuch_is_unknown_and_says_how_many_rules_are_loaded() {
        let options = CheckOptions {
            skip: vec!["nonesuch".into()],
            ..CheckOptions::default()
        };
        let err = check_names(&RuleSet::builtin(), &options)
            .err()
            .unwrap_or_else(|| panic!("nonesuch is no rule"));
        assert_eq!(err.list, NameList::Skip);
        assert_eq!(
            err.to_string(),
            format!(
                "no loaded rule has the id or name `nonesuch` ({} rules are loaded)",
                RuleSet::builtin().rules().len()
            )
        );
        assert!(check_names(&RuleSet::builtin(), &only(&["100", "pdconfig-max-days"])).is_ok());
    }

    #[test]
    fn rule_104_on_v5_4_0_says_its_version_range_excludes_the_cluster() {
        let notes = explain_selection(&seed(), &RuleSet::builtin(), &only(&["104"]));
        assert_eq!(notes.len(), 1, "{notes:?}");
        let text = notes[0].to_string();
        assert!(
            text.starts_with("rule 104 `new_collations_enabled_on_first_bootstrap` is not run: its version range `>=v4.0.0"),
            "{text}"
        );
        assert!(
            text.ends_with("does not include the cluster version v5.4.0"),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn a_rule_of_a_kind_not_requested_says_so_and_a_skipped_one_too() {
        let options = CheckOptions {
            kinds: vec![CheckKind::Metric],
            only: vec!["100".into()],
            skip: vec!["tidb-max-days".into()],
        };
        let notes = explain_selection(&seed(), &RuleSet::builtin(), &options);
        let texts: Vec<String> = notes.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "rule 100 `tidb-max-days` is not run: its kind `config` is not requested (requested: metric); it is also skipped",
            ]
        );
    }

    #[test]
    fn kinds_without_rules_come_from_the_loaded_rules() {
        let all = CheckOptions {
            kinds: CheckKind::ALL.to_vec(),
            ..CheckOptions::default()
        };
        // Every kind ships rules now: a set of config rules alone lacks the others.
        let builtin = RuleSet::from_files(
            vec![(
                "c.yaml".into(),
                "id: 9000\nname: c\nkind: config\ncomponent: TidbConfig\nvariation: TidbConfig.a\nseverity: info\nlink: https://example.invalid/c\ndescription: d\nabnormal_when: {path: a, lt: 1}\n".into(),
            )],
            "t",
        )
        .unwrap_or_else(|e| panic!("{:?}", e.errors));
        let notes = explain_selection(&seed(), &builtin, &all);
        let empty: Vec<CheckKind> = CheckKind::ALL
            .into_iter()
            .filter(|k| !builtin.rules().iter().any(|r| r.meta.kind == *k))
            .collect();
        assert!(!empty.contains(&CheckKind::Config));
        assert_eq!(notes, [SelectionNote::KindsWithoutRules(empty)]);
        // A rule of a kind makes its note go away.
        let metric = RuleSet::from_files(
            vec![(
                "m.yaml".into(),
                "id: 9001\nname: m\nkind: metric\ncomponent: TidbConfig\nvariation: TidbConfig.a\nseverity: info\ndescription: d\nabnormal_when: {path: a, lt: 1}\n".into(),
            )],
            "t",
        )
        .unwrap_or_else(|e| panic!("{:?}", e.errors));
        let mut with_metric = builtin.clone();
        with_metric.merge(metric);
        let notes = explain_selection(&seed(), &with_metric, &all);
        let SelectionNote::KindsWithoutRules(kinds) = &notes[0] else {
            panic!("{notes:?}")
        };
        assert!(!kinds.contains(&CheckKind::Metric));
        assert!(explain_selection(&seed(), &builtin, &CheckOptions::default()).is_empty());
    }

    #[test]
    fn a_rule_is_explained_exactly_when_select_leaves_it_out() {
        let cluster = seed();
        let rules = RuleSet::builtin();
        for rule in rules.rules() {
            let options = only(&[&rule.meta.id.to_string()]);
            let selected = !super::super::select(&cluster, &rules, &options).is_empty();
            let explained = !explain_selection(&cluster, &rules, &options).is_empty();
            assert_ne!(selected, explained, "rule {}", rule.meta.id);
        }
    }
}
