//! The generator's own model of diag's 25 on-call config rules (clinic-diag.md §2.6): which are
//! selected for a version, how to break each one, and whether an instance's values break it.
//! It is written independently of `diag_core`'s rule files, so a generated bundle checks them.

use serde::{Deserialize, Serialize};

use crate::Component;
use crate::rng::Rng;

/// The values the config rules read, per instance. Everything else in a config is scenery.
#[derive(Debug, Clone, PartialEq)]
pub enum Knobs {
    /// PD's rule-relevant values.
    Pd(PdKnobs),
    /// TiKV's.
    Tikv(TikvKnobs),
    /// TiDB's.
    Tidb(TidbKnobs),
    /// TiFlash: no shipped rule reads its config.
    Tiflash,
}

/// PD values read by rules 200–215.
#[derive(Debug, Clone, PartialEq)]
pub struct PdKnobs {
    /// `schedule.max-snapshot-count`.
    pub max_snapshot_count: i64,
    /// `schedule.max-pending-peer-count`.
    pub max_pending_peer_count: i64,
    /// `schedule.leader-schedule-limit`.
    pub leader_schedule_limit: i64,
    /// `schedule.region-schedule-limit`.
    pub region_schedule_limit: i64,
    /// `schedule.replica-schedule-limit`.
    pub replica_schedule_limit: i64,
    /// `schedule.merge-schedule-limit`.
    pub merge_schedule_limit: i64,
    /// `schedule.hot-region-schedule-limit`.
    pub hot_region_schedule_limit: i64,
    /// `schedule.store-limit`: (store id, add-peer, remove-peer).
    pub store_limit: Vec<(u64, i64, i64)>,
    /// `log.file.max-days`.
    pub max_days: i64,
    /// `log.file.max-backups`.
    pub max_backups: i64,
    /// `log.level`.
    pub log_level: &'static str,
    /// `pd-server.flow-round-by-digit`.
    pub flow_round_by_digit: i64,
    /// `pd-server.trace-region-flow` (printed as a string, as PD does).
    pub trace_region_flow: bool,
    /// `replication.strictly-match-label` (printed as a string).
    pub strictly_match_label: bool,
    /// `replication.max-replicas`.
    pub max_replicas: i64,
}

/// TiKV values read by rules 7, 8 and 9.
#[derive(Debug, Clone, PartialEq)]
pub struct TikvKnobs {
    /// Both `log-level` and `log.level` (5.4 reads the second).
    pub log_level: &'static str,
    /// `gc.enable-compaction-filter`.
    pub enable_compaction_filter: bool,
}

/// TiDB values read by rules 100–105.
#[derive(Debug, Clone, PartialEq)]
pub struct TidbKnobs {
    /// `log.file.max-days`.
    pub max_days: i64,
    /// `log.file.max-backups`.
    pub max_backups: i64,
    /// `log.level`.
    pub log_level: &'static str,
    /// `enable-streaming`.
    pub enable_streaming: bool,
    /// `performance.feedback-probability` (Go prints a zero as `0`).
    pub feedback_probability: f64,
}

impl Knobs {
    /// Healthy values for a component; `stores` are the store ids PD's `store-limit` lists.
    pub fn healthy(component: Component, stores: &[u64]) -> Knobs {
        match component {
            Component::Pd => Knobs::Pd(PdKnobs {
                max_snapshot_count: 64,
                max_pending_peer_count: 64,
                leader_schedule_limit: 4,
                region_schedule_limit: 2048,
                replica_schedule_limit: 64,
                merge_schedule_limit: 8,
                hot_region_schedule_limit: 4,
                store_limit: stores.iter().map(|&id| (id, 15, 15)).collect(),
                max_days: 7,
                max_backups: 7,
                log_level: "info",
                flow_round_by_digit: 3,
                trace_region_flow: true,
                strictly_match_label: false,
                max_replicas: 3,
            }),
            Component::Tikv => Knobs::Tikv(TikvKnobs {
                log_level: "info",
                enable_compaction_filter: false,
            }),
            Component::Tidb => Knobs::Tidb(TidbKnobs {
                max_days: 7,
                max_backups: 7,
                log_level: "info",
                enable_streaming: false,
                feedback_probability: 0.0,
            }),
            Component::Tiflash => Knobs::Tiflash,
        }
    }
}

/// What a rule needs beyond one instance's values.
#[derive(Debug, Clone, Copy)]
pub struct RuleContext {
    /// TiFlash instances in the topology (rule 8).
    pub tiflash_count: usize,
}

/// One config rule as the generator knows it.
pub struct ConfigRule {
    /// diag's id.
    pub id: i64,
    /// diag's name (the key findings are matched on).
    pub name: &'static str,
    /// The component whose config it reads.
    pub component: Component,
    applies: fn(Version) -> bool,
    abnormal: fn(&Knobs, RuleContext) -> bool,
    violate: fn(&mut Knobs, &mut Rng),
}

impl ConfigRule {
    /// Whether the rule is selected for a cluster version.
    pub fn applies(&self, version: Version) -> bool {
        (self.applies)(version)
    }
    /// Whether an instance's values make this rule abnormal.
    pub fn is_abnormal(&self, knobs: &Knobs, ctx: RuleContext) -> bool {
        (self.abnormal)(knobs, ctx)
    }
    /// Changes the instance's values so that the rule fires.
    pub fn violate(&self, knobs: &mut Knobs, rng: &mut Rng) {
        (self.violate)(knobs, rng)
    }
}

/// A release version `vX.Y.Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    /// Parses `v5.4.0` / `5.4.0`.
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text
            .trim_start_matches('v')
            .split('.')
            .map(|p| p.parse::<u64>().ok());
        Some(Version(parts.next()??, parts.next()??, parts.next()??))
    }
}

fn all(_: Version) -> bool {
    true
}
fn v4_plus(v: Version) -> bool {
    v >= Version(4, 0, 0)
}

macro_rules! knobs {
    ($k:expr, $variant:ident) => {
        match $k {
            Knobs::$variant(inner) => inner,
            _ => unreachable!("rule applied to another component"),
        }
    };
}

fn pd(k: &Knobs) -> &PdKnobs {
    knobs!(k, Pd)
}
fn pd_mut(k: &mut Knobs) -> &mut PdKnobs {
    knobs!(k, Pd)
}
fn tikv(k: &Knobs) -> &TikvKnobs {
    knobs!(k, Tikv)
}
fn tikv_mut(k: &mut Knobs) -> &mut TikvKnobs {
    knobs!(k, Tikv)
}
fn tidb(k: &Knobs) -> &TidbKnobs {
    knobs!(k, Tidb)
}
fn tidb_mut(k: &mut Knobs) -> &mut TidbKnobs {
    knobs!(k, Tidb)
}

fn noisy_level(rng: &mut Rng) -> &'static str {
    if rng.chance(0.5) { "debug" } else { "trace" }
}

/// Outside `1..=max`: zero, or above the cap.
fn out_of_range(rng: &mut Rng, max: i64) -> i64 {
    if rng.chance(0.5) {
        0
    } else {
        max + 1 + rng.below(max as u64) as i64
    }
}

/// Rule 104 is left out on purpose: its version range changed in May 2022, and the generator
/// never sets `new_collations_enabled_on_first_bootstrap`, so it is OK whether or not selected.
pub static CONFIG_RULES: &[ConfigRule] = &[
    ConfigRule {
        id: 7,
        name: "tikv-log-level",
        component: Component::Tikv,
        applies: |v| v < Version(5, 4, 0),
        abnormal: |k, _| matches!(tikv(k).log_level, "debug" | "trace"),
        violate: |k, r| tikv_mut(k).log_level = noisy_level(r),
    },
    ConfigRule {
        id: 8,
        name: "gc.enable-compaction-filter",
        component: Component::Tikv,
        applies: |v| v == Version(5, 0, 0) || v == Version(5, 0, 1),
        abnormal: |k, ctx| tikv(k).enable_compaction_filter && ctx.tiflash_count > 0,
        violate: |k, _| tikv_mut(k).enable_compaction_filter = true,
    },
    ConfigRule {
        id: 9,
        name: "tikv-log-level",
        component: Component::Tikv,
        applies: |v| v >= Version(5, 4, 0),
        abnormal: |k, _| matches!(tikv(k).log_level, "debug" | "trace"),
        violate: |k, r| tikv_mut(k).log_level = noisy_level(r),
    },
    ConfigRule {
        id: 100,
        name: "tidb-max-days",
        component: Component::Tidb,
        applies: all,
        abnormal: |k, _| tidb(k).max_days < 1,
        violate: |k, _| tidb_mut(k).max_days = 0,
    },
    ConfigRule {
        id: 101,
        name: "tidb-max-backups",
        component: Component::Tidb,
        applies: all,
        abnormal: |k, _| tidb(k).max_backups < 1,
        violate: |k, _| tidb_mut(k).max_backups = 0,
    },
    ConfigRule {
        id: 102,
        name: "tidb-log-level",
        component: Component::Tidb,
        applies: all,
        abnormal: |k, _| tidb(k).log_level == "debug",
        violate: |k, _| tidb_mut(k).log_level = "debug",
    },
    ConfigRule {
        id: 103,
        name: "tidb-enable-streaming",
        component: Component::Tidb,
        applies: all,
        abnormal: |k, _| tidb(k).enable_streaming,
        violate: |k, _| tidb_mut(k).enable_streaming = true,
    },
    ConfigRule {
        id: 105,
        name: "feedback-probability",
        component: Component::Tidb,
        applies: all,
        abnormal: |k, _| tidb(k).feedback_probability > 0.0,
        violate: |k, r| tidb_mut(k).feedback_probability = [0.05, 0.1, 0.5][r.below(3) as usize],
    },
    ConfigRule {
        id: 200,
        name: "pdconfig-max-snapshot-count",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| pd(k).max_snapshot_count <= 0,
        violate: |k, _| pd_mut(k).max_snapshot_count = 0,
    },
    ConfigRule {
        id: 201,
        name: "pdconfig-max-pending-peer-count",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| pd(k).max_pending_peer_count <= 0,
        violate: |k, _| pd_mut(k).max_pending_peer_count = 0,
    },
    ConfigRule {
        id: 202,
        name: "pdconfig-leader-schedule-limit",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| pd(k).leader_schedule_limit <= 0,
        violate: |k, _| pd_mut(k).leader_schedule_limit = 0,
    },
    ConfigRule {
        id: 203,
        name: "pdconfig-replica-schedule-limit-a",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| !(1..=64).contains(&pd(k).replica_schedule_limit),
        violate: |k, r| pd_mut(k).replica_schedule_limit = out_of_range(r, 64),
    },
    ConfigRule {
        id: 204,
        name: "pdconfig-merge-schedule-limit",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| !(1..=16).contains(&pd(k).merge_schedule_limit),
        violate: |k, r| pd_mut(k).merge_schedule_limit = out_of_range(r, 16),
    },
    ConfigRule {
        id: 205,
        name: "pdconfig-hot-region-schedule-limit",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| !(1..=8).contains(&pd(k).hot_region_schedule_limit),
        violate: |k, r| pd_mut(k).hot_region_schedule_limit = out_of_range(r, 8),
    },
    ConfigRule {
        id: 206,
        name: "pdconfig-store limit-n-add-peer",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| {
            pd(k).store_limit.is_empty()
                || pd(k)
                    .store_limit
                    .iter()
                    .any(|&(_, add, _)| !(0..=100).contains(&add))
        },
        violate: |k, r| {
            let limits = &mut pd_mut(k).store_limit;
            if !limits.is_empty() {
                let at = r.below(limits.len() as u64) as usize;
                limits[at].1 = 101 + r.below(100) as i64;
            }
        },
    },
    ConfigRule {
        id: 206,
        name: "pdconfig-store limit-n-remove-peer",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| {
            pd(k).store_limit.is_empty()
                || pd(k)
                    .store_limit
                    .iter()
                    .any(|&(_, _, remove)| !(0..=100).contains(&remove))
        },
        violate: |k, r| {
            let limits = &mut pd_mut(k).store_limit;
            if !limits.is_empty() {
                let at = r.below(limits.len() as u64) as usize;
                limits[at].2 = 101 + r.below(100) as i64;
            }
        },
    },
    ConfigRule {
        id: 208,
        name: "pdconfig-replica-schedule-limit-b",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| pd(k).replica_schedule_limit > pd(k).region_schedule_limit,
        violate: |k, _| {
            let pd = pd_mut(k);
            pd.region_schedule_limit = (pd.replica_schedule_limit - 1).max(0);
            if pd.replica_schedule_limit <= pd.region_schedule_limit {
                pd.replica_schedule_limit = pd.region_schedule_limit + 1;
            }
        },
    },
    ConfigRule {
        id: 209,
        name: "pdconfig-max-days",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| pd(k).max_days <= 0,
        violate: |k, _| pd_mut(k).max_days = 0,
    },
    ConfigRule {
        id: 210,
        name: "pdconfig-max-backups",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| pd(k).max_backups <= 0,
        violate: |k, _| pd_mut(k).max_backups = 0,
    },
    ConfigRule {
        id: 211,
        name: "pdconfig-log-level",
        component: Component::Pd,
        applies: v4_plus,
        abnormal: |k, _| pd(k).log_level == "debug",
        violate: |k, _| pd_mut(k).log_level = "debug",
    },
    ConfigRule {
        id: 212,
        name: "flow-round-by-digit",
        component: Component::Pd,
        applies: |v| v >= Version(5, 1, 0),
        abnormal: |k, _| pd(k).flow_round_by_digit == 127,
        violate: |k, _| pd_mut(k).flow_round_by_digit = 127,
    },
    ConfigRule {
        id: 213,
        name: "trace-region-flow",
        component: Component::Pd,
        applies: |v| v >= Version(4, 0, 0) && v <= Version(4, 0, 15),
        abnormal: |k, _| !pd(k).trace_region_flow,
        violate: |k, _| pd_mut(k).trace_region_flow = false,
    },
    ConfigRule {
        id: 214,
        name: "strictly-match-label",
        component: Component::Pd,
        applies: all,
        abnormal: |k, _| pd(k).strictly_match_label,
        violate: |k, _| pd_mut(k).strictly_match_label = true,
    },
    ConfigRule {
        id: 215,
        name: "max-replicas",
        component: Component::Pd,
        applies: all,
        abnormal: |k, _| pd(k).max_replicas < 3,
        violate: |k, r| pd_mut(k).max_replicas = 1 + r.below(2) as i64,
    },
];

/// The findings a correct checker reports for a generated bundle: every config rule the
/// generator models that is selected for the version, with the instances it must flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedFindings {
    /// Cluster version the rules were selected for.
    pub version: String,
    /// Instances in the topology.
    pub instances: usize,
    /// Share of (instance, rule) pairs the generator tried to break.
    pub violation_share: f64,
    /// Selected rules, in id then name order.
    pub rules: Vec<ExpectedRule>,
}

/// One selected rule and the instances it must flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedRule {
    /// diag's id.
    pub id: i64,
    /// diag's name.
    pub name: String,
    /// The config struct it reads (`PdConfig`, …).
    pub component: String,
    /// Row tags (`PdConfig_10.0.0.1:2379`) that must be abnormal, in topology order. Every
    /// other instance of the component must be OK.
    pub abnormal: Vec<String>,
}

impl ExpectedFindings {
    /// The rule with this name, if selected.
    pub fn rule(&self, name: &str) -> Option<&ExpectedRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// Rules with at least one abnormal instance.
    pub fn abnormal_rules(&self) -> impl Iterator<Item = &ExpectedRule> {
        self.rules.iter().filter(|r| !r.abnormal.is_empty())
    }
}
