//! Runtime configs shaped like what each component's status API returns (`/pd/api/v1/config`,
//! TiKV `/config?full=true`, TiDB `/config`, the TiFlash proxy `/config`): the same sections, key
//! spellings, value types and sizes (TiKV ≈ 20 KB), with per-instance noise so no two files match.

use crate::json::Json;
use crate::rng::Rng;
use crate::rules::{Knobs, PdKnobs, TidbKnobs, TikvKnobs};

/// What a config needs to know about its instance.
#[derive(Debug, Clone)]
pub struct ConfigContext<'a> {
    /// The address other components use (`10.0.0.1`, or the Pod's domain on Kubernetes).
    pub advertise_host: &'a str,
    /// Service port.
    pub port: u16,
    /// Status port.
    pub status_port: u16,
    /// Data directory.
    pub data_dir: &'a str,
    /// Log file (empty on Kubernetes, where logs go to stdout).
    pub log_file: &'a str,
    /// PD endpoints (`host:2379`).
    pub pd_endpoints: &'a [String],
    /// PD member name (PD only).
    pub name: &'a str,
    /// Cluster version without the `v`.
    pub version: &'a str,
}

fn o(entries: Vec<(&str, Json)>) -> Json {
    Json::Obj(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}
fn s(text: impl Into<String>) -> Json {
    Json::Str(text.into())
}
fn i(n: i64) -> Json {
    Json::int(n)
}
fn b(v: bool) -> Json {
    Json::Bool(v)
}
fn f(x: f64) -> Json {
    Json::rust_float(x)
}
fn g(x: f64) -> Json {
    Json::go_float(x)
}
fn go_bool(v: bool) -> Json {
    s(if v { "true" } else { "false" })
}
fn mib(n: u64) -> Json {
    s(format!("{n}MiB"))
}

/// Whether `version` (`5.4.0`, with or without `v`) is `at` or later.
pub fn since(version: &str, at: &str) -> bool {
    let parts = |t: &str| -> (u64, u64, u64) {
        let mut it = t
            .trim_start_matches('v')
            .split(['.', '-'])
            .map(|p| p.parse().unwrap_or(0));
        (
            it.next().unwrap_or(0),
            it.next().unwrap_or(0),
            it.next().unwrap_or(0),
        )
    };
    parts(version) >= parts(at)
}

/// Telemetry is off by default from v6.1.5 on the v6.1 line and from v6.5.1 (TiDB and PD).
fn telemetry_default(version: &str) -> bool {
    !(since(version, "6.5.1") || (since(version, "6.1.5") && !since(version, "6.2.0")))
}

/// Keys the generator sets away from their default on purpose, as `(component, path)`: what a
/// correct `default_config` check flags on a healthy generated bundle (at versions whose
/// default tables have a row for the key). Every other key holds the version's stock default.
pub const TUNED: [(&str, &str); 9] = [
    ("PdConfig", "log.file.max-days"),
    ("PdConfig", "log.file.max-backups"),
    ("TikvConfig", "raftstore.apply-pool-size"),
    ("TikvConfig", "raftstore.store-pool-size"),
    ("TikvConfig", "gc.enable-compaction-filter"),
    ("TidbConfig", "mem-quota-query"),
    ("TidbConfig", "log.file.max-days"),
    ("TidbConfig", "log.file.max-backups"),
    // TiUP's topology examples set it; TiFlash's default is `debug` before v7.5.1 (and on the
    // v6.6-v7.0 and v7.2-v7.4 lines), `info` after.
    ("TiflashConfig", "logger.level"),
];

/// What TiUP writes into a TiFlash instance's `conf/tiflash.toml` (its `initTiFlashConfig`:
/// the keys differ before v5.4.0 and from v7.1.0), plus `logger.level = "info"` from the
/// topology (one of [`TUNED`]).
pub fn tiflash_toml(ctx: &ConfigContext<'_>, deploy_dir: &str, tidb_status: &[String]) -> String {
    let v = ctx.version;
    let mut top = vec![
        format!("default_profile = {:?}", "default"),
        format!("display_name = {:?}", "TiFlash"),
        format!("listen_host = {:?}", "0.0.0.0"),
        format!("path = {:?}", ctx.data_dir),
        format!("tmp_path = {:?}", format!("{}/tmp", ctx.data_dir)),
    ];
    if !since(v, "7.1.0") {
        top.push("http_port = 8123".to_string());
        top.push("tcp_port = 9000".to_string());
    }
    if !since(v, "5.4.0") {
        top.push("mark_cache_size = 5368709120".to_string());
    }
    top.sort();
    let mut out = String::from(
        "# WARNING: This file is auto-generated. Do not edit! All your modification will be overwritten!\n",
    );
    for line in top {
        out.push_str(&line);
        out.push('\n');
    }
    if !since(v, "5.4.0") {
        out.push_str("\n[application]\nrunAsDaemon = true\n");
    }
    out.push_str(&format!(
        "\n[flash]\nservice_addr = {:?}\ntidb_status_addr = {:?}\n",
        format!("{}:{}", ctx.advertise_host, ctx.port),
        tidb_status.join(",")
    ));
    out.push_str(&format!(
        "\n[flash.flash_cluster]\ncluster_manager_path = {:?}\nlog = {:?}\nmaster_ttl = 60\nrefresh_interval = 20\nupdate_rule_interval = 5\n",
        format!("{deploy_dir}/bin/tiflash/flash_cluster_manager"),
        format!("{deploy_dir}/log/tiflash_cluster_manager.log"),
    ));
    out.push_str(&format!(
        "\n[flash.proxy]\nconfig = {:?}\n",
        format!("{deploy_dir}/conf/tiflash-learner.toml")
    ));
    out.push_str(&format!(
        "\n[logger]\nerrorlog = {:?}\nlevel = \"info\"\nlog = {:?}\n",
        format!("{deploy_dir}/log/tiflash_error.log"),
        format!("{deploy_dir}/log/tiflash.log"),
    ));
    out.push_str(&format!(
        "\n[raft]\npd_addr = {:?}\n\n[status]\nmetrics_port = 8234\n",
        ctx.pd_endpoints.join(",")
    ));
    out
}

/// What TiUP writes into a TiFlash instance's `conf/tiflash-learner.toml` (its proxy's).
pub fn tiflash_learner_toml(ctx: &ConfigContext<'_>, deploy_dir: &str) -> String {
    format!(
        "# WARNING: This file is auto-generated. Do not edit! All your modification will be overwritten!\nlog-file = {:?}\n\n[raftstore]\ncapacity = \"0\"\n\n[server]\nadvertise-addr = {:?}\nadvertise-status-addr = {:?}\naddr = \"0.0.0.0:20170\"\nengine-addr = {:?}\nstatus-addr = \"0.0.0.0:{}\"\n\n[storage]\ndata-dir = {:?}\n",
        format!("{deploy_dir}/log/tiflash_tikv.log"),
        format!("{}:20170", ctx.advertise_host),
        format!("{}:{}", ctx.advertise_host, ctx.status_port),
        format!("{}:{}", ctx.advertise_host, ctx.port),
        ctx.status_port,
        format!("{}/flash", ctx.data_dir),
    )
}

/// Builds the runtime config of one instance.
pub fn runtime_config(knobs: &Knobs, ctx: &ConfigContext<'_>, rng: &mut Rng) -> Json {
    match knobs {
        Knobs::Pd(k) => pd(k, ctx),
        Knobs::Tikv(k) => tikv(k, ctx, rng, false),
        Knobs::Tidb(k) => tidb(k, ctx, rng),
        Knobs::Tiflash => tikv(
            &TikvKnobs {
                log_level: "info",
                enable_compaction_filter: false,
            },
            ctx,
            rng,
            true,
        ),
    }
}

fn pd(k: &PdKnobs, ctx: &ConfigContext<'_>) -> Json {
    let me = format!("{}:{}", ctx.advertise_host, ctx.port);
    let peer = format!("{}:{}", ctx.advertise_host, ctx.port + 1);
    let initial: Vec<String> = ctx
        .pd_endpoints
        .iter()
        .enumerate()
        .map(|(n, e)| format!("pd-{n}=http://{}", e.replace(":2379", ":2380")))
        .collect();
    let store_limit = Json::Obj(
        k.store_limit
            .iter()
            .map(|&(id, add, remove)| {
                (
                    id.to_string(),
                    o(vec![("add-peer", i(add)), ("remove-peer", i(remove))]),
                )
            })
            .collect(),
    );
    let scheduler = |kind: &str| {
        o(vec![
            ("type", s(kind)),
            ("args", Json::Null),
            ("disable", b(false)),
            ("args-payload", s("")),
        ])
    };
    let payload = |name: &str| {
        o(vec![
            ("name", s(name)),
            (
                "ranges",
                Json::Arr(vec![o(vec![("end-key", s("")), ("start-key", s(""))])]),
            ),
        ])
    };
    o(vec![
        ("client-urls", s("http://0.0.0.0:2379")),
        ("peer-urls", s("http://0.0.0.0:2380")),
        ("advertise-client-urls", s(format!("http://{me}"))),
        ("advertise-peer-urls", s(format!("http://{peer}"))),
        ("name", s(ctx.name)),
        ("data-dir", s(ctx.data_dir)),
        ("force-new-cluster", b(false)),
        ("enable-grpc-gateway", b(true)),
        ("initial-cluster", s(initial.join(","))),
        ("initial-cluster-state", s("new")),
        ("initial-cluster-token", s("pd-cluster")),
        ("join", s("")),
        ("lease", i(3)),
        (
            "log",
            o(vec![
                ("level", s(k.log_level)),
                ("format", s("text")),
                ("disable-timestamp", b(false)),
                (
                    "file",
                    o(vec![
                        ("filename", s(ctx.log_file)),
                        ("max-size", i(300)),
                        ("max-days", i(k.max_days)),
                        ("max-backups", i(k.max_backups)),
                    ]),
                ),
                ("development", b(false)),
                ("disable-caller", b(false)),
                ("disable-stacktrace", b(false)),
                ("disable-error-verbose", b(true)),
                ("sampling", Json::Null),
            ]),
        ),
        ("tso-save-interval", s("3s")),
        ("tso-update-physical-interval", s("50ms")),
        ("enable-local-tso", b(false)),
        (
            "metric",
            o(vec![
                ("job", s(ctx.name)),
                ("address", s("")),
                ("interval", s("15s")),
            ]),
        ),
        (
            "schedule",
            o(vec![
                ("max-snapshot-count", i(k.max_snapshot_count)),
                ("max-pending-peer-count", i(k.max_pending_peer_count)),
                ("max-merge-region-size", i(20)),
                ("max-merge-region-keys", i(200000)),
                ("split-merge-interval", s("1h0m0s")),
                ("enable-one-way-merge", go_bool(false)),
                ("enable-cross-table-merge", go_bool(true)),
                ("patrol-region-interval", s("10ms")),
                ("max-store-down-time", s("30m0s")),
                ("leader-schedule-limit", i(k.leader_schedule_limit)),
                ("leader-schedule-policy", s("count")),
                ("region-schedule-limit", i(k.region_schedule_limit)),
                ("replica-schedule-limit", i(k.replica_schedule_limit)),
                ("merge-schedule-limit", i(k.merge_schedule_limit)),
                ("hot-region-schedule-limit", i(k.hot_region_schedule_limit)),
                ("hot-region-cache-hits-threshold", i(3)),
                ("store-limit", store_limit),
                ("tolerant-size-ratio", g(0.0)),
                ("low-space-ratio", g(0.8)),
                ("high-space-ratio", g(0.7)),
                ("region-score-formula-version", s("v2")),
                ("scheduler-max-waiting-operator", i(5)),
                ("enable-remove-down-replica", go_bool(true)),
                ("enable-replace-offline-replica", go_bool(true)),
                ("enable-make-up-replica", go_bool(true)),
                ("enable-remove-extra-replica", go_bool(true)),
                ("enable-location-replacement", go_bool(true)),
                ("enable-debug-metrics", go_bool(false)),
                ("enable-joint-consensus", go_bool(true)),
                (
                    "schedulers-v2",
                    Json::Arr(
                        [
                            "balance-region",
                            "balance-leader",
                            "balance-hot-region",
                            "label",
                        ]
                        .iter()
                        .map(|t| scheduler(t))
                        .collect(),
                    ),
                ),
                (
                    "schedulers-payload",
                    o(vec![
                        ("balance-hot-region-scheduler", Json::Null),
                        (
                            "balance-leader-scheduler",
                            payload("balance-leader-scheduler"),
                        ),
                        (
                            "balance-region-scheduler",
                            payload("balance-region-scheduler"),
                        ),
                        ("label-scheduler", payload("label-scheduler")),
                    ]),
                ),
                ("store-limit-mode", s("manual")),
                ("hot-regions-write-interval", s("10m0s")),
                ("hot-regions-reserved-days", i(7)),
            ]),
        ),
        (
            "replication",
            o(vec![
                ("max-replicas", i(k.max_replicas)),
                ("location-labels", s("")),
                ("strictly-match-label", go_bool(k.strictly_match_label)),
                ("enable-placement-rules", go_bool(true)),
                ("enable-placement-rules-cache", go_bool(false)),
                ("isolation-level", s("")),
            ]),
        ),
        (
            "pd-server",
            o(vec![
                ("use-region-storage", go_bool(true)),
                ("max-gap-reset-ts", s("24h0m0s")),
                ("key-type", s("table")),
                ("runtime-services", s("")),
                ("metric-storage", s("")),
                ("dashboard-address", s(format!("http://{me}"))),
                ("trace-region-flow", go_bool(k.trace_region_flow)),
                ("flow-round-by-digit", i(k.flow_round_by_digit)),
                ("min-resolved-ts-persistence-interval", s("0s")),
            ]),
        ),
        ("cluster-version", s(ctx.version)),
        ("labels", o(vec![])),
        ("quota-backend-bytes", s("8GiB")),
        ("auto-compaction-mode", s("periodic")),
        ("auto-compaction-retention-v2", s("1h")),
        ("TickInterval", s("500ms")),
        ("ElectionInterval", s("3s")),
        ("PreVote", b(true)),
        ("max-request-bytes", i(157286400)),
        (
            "security",
            o(vec![
                ("cacert-path", s("")),
                ("cert-path", s("")),
                ("key-path", s("")),
                ("cert-allowed-cn", Json::Null),
                ("redact-info-log", b(false)),
                (
                    "encryption",
                    o(vec![
                        ("data-encryption-method", s("plaintext")),
                        ("data-key-rotation-period", s("168h0m0s")),
                        (
                            "master-key",
                            o(vec![
                                ("type", s("plaintext")),
                                ("key-id", s("")),
                                ("region", s("")),
                                ("endpoint", s("")),
                                ("path", s("")),
                            ]),
                        ),
                    ]),
                ),
            ]),
        ),
        ("label-property", o(vec![])),
        ("WarningMsgs", Json::Null),
        ("DisableStrictReconfigCheck", b(false)),
        ("HeartbeatStreamBindInterval", s("1m0s")),
        ("LeaderPriorityCheckInterval", s("1m0s")),
        (
            "dashboard",
            o(vec![
                ("tidb-cacert-path", s("")),
                ("tidb-cert-path", s("")),
                ("tidb-key-path", s("")),
                ("public-path-prefix", s("")),
                ("internal-proxy", b(false)),
                ("enable-telemetry", b(telemetry_default(ctx.version))),
                ("enable-experimental", b(false)),
            ]),
        ),
        (
            "replication-mode",
            o(vec![
                ("replication-mode", s("majority")),
                (
                    "dr-auto-sync",
                    o(vec![
                        ("label-key", s("")),
                        ("primary", s("")),
                        ("dr", s("")),
                        ("primary-replicas", i(0)),
                        ("dr-replicas", i(0)),
                        ("wait-store-timeout", s("1m0s")),
                        ("wait-sync-timeout", s("1m0s")),
                        ("wait-async-timeout", s("2m0s")),
                    ]),
                ),
            ]),
        ),
    ])
}

fn tidb(k: &TidbKnobs, ctx: &ConfigContext<'_>, rng: &mut Rng) -> Json {
    let feedback = if k.feedback_probability == 0.0 {
        i(0)
    } else {
        g(k.feedback_probability)
    };
    let mem_quota = (1u64 << 30) * (1 + rng.below(4));
    o(vec![
        ("host", s("0.0.0.0")),
        ("advertise-address", s(ctx.advertise_host)),
        ("port", i(ctx.port.into())),
        ("cors", s("")),
        ("store", s("tikv")),
        ("path", s(ctx.pd_endpoints.join(","))),
        ("socket", s("")),
        ("lease", s("45s")),
        ("run-ddl", b(true)),
        ("split-table", b(true)),
        ("token-limit", i(1000)),
        ("oom-use-tmp-storage", b(true)),
        (
            "tmp-storage-path",
            s(format!(
                "/tmp/{}_tidb/MC4wLjAuMDo0MDAwLzAuMC4wLjA6MTAwODA=/tmp-storage",
                1000 + rng.below(1000)
            )),
        ),
        ("oom-action", s("cancel")),
        ("mem-quota-query", i(mem_quota as i64)),
        ("tmp-storage-quota", i(-1)),
        ("enable-streaming", b(k.enable_streaming)),
        ("enable-batch-dml", b(false)),
        ("lower-case-table-names", i(2)),
        ("server-version", s("")),
        (
            "log",
            o(vec![
                ("level", s(k.log_level)),
                ("format", s("text")),
                ("disable-timestamp", Json::Null),
                ("enable-timestamp", Json::Null),
                ("disable-error-stack", Json::Null),
                ("enable-error-stack", Json::Null),
                (
                    "file",
                    o(vec![
                        ("filename", s(ctx.log_file)),
                        ("max-size", i(300)),
                        ("max-days", i(k.max_days)),
                        ("max-backups", i(k.max_backups)),
                    ]),
                ),
                ("enable-slow-log", b(true)),
                ("slow-query-file", s("tidb-slow.log")),
                ("slow-threshold", i(300)),
                ("expensive-threshold", i(10000)),
                ("query-log-max-len", i(4096)),
                ("record-plan-in-slow-log", i(1)),
            ]),
        ),
        (
            "security",
            o(vec![
                ("skip-grant-table", b(false)),
                ("ssl-ca", s("")),
                ("ssl-cert", s("")),
                ("ssl-key", s("")),
                ("require-secure-transport", b(false)),
                ("cluster-ssl-ca", s("")),
                ("cluster-ssl-cert", s("")),
                ("cluster-ssl-key", s("")),
                ("cluster-verify-cn", Json::Null),
                ("spilled-file-encryption-method", s("plaintext")),
                ("enable-sem", b(false)),
                ("auto-tls", b(false)),
                ("tls-version", s("")),
                ("rsa-key-size", i(4096)),
                ("secure-bootstrap", b(false)),
            ]),
        ),
        (
            "status",
            o(vec![
                ("status-host", s("0.0.0.0")),
                ("metrics-addr", s("")),
                ("status-port", i(ctx.status_port.into())),
                ("metrics-interval", i(15)),
                ("report-status", b(true)),
                ("record-db-qps", b(false)),
            ]),
        ),
        (
            "performance",
            o(vec![
                ("max-procs", i(0)),
                ("max-memory", i(0)),
                ("server-memory-quota", i(0)),
                ("memory-usage-alarm-ratio", g(0.8)),
                ("stats-lease", s("3s")),
                ("stmt-count-limit", i(5000)),
                ("feedback-probability", feedback),
                ("query-feedback-limit", i(512)),
                ("pseudo-estimate-ratio", g(0.8)),
                ("force-priority", s("NO_PRIORITY")),
                ("bind-info-lease", s("3s")),
                ("txn-entry-size-limit", i(6291456)),
                ("txn-total-size-limit", i(104857600)),
                ("tcp-keep-alive", b(true)),
                ("tcp-no-delay", b(true)),
                ("cross-join", b(true)),
                ("run-auto-analyze", b(true)),
                ("distinct-agg-push-down", b(false)),
                ("committer-concurrency", i(128)),
                ("max-txn-ttl", i(3600000)),
                ("mem-profile-interval", s("1m")),
                ("index-usage-sync-lease", s("0s")),
                ("plan-replayer-gc-lease", s("10m")),
                ("gogc", i(100)),
                ("enforce-mpp", b(false)),
            ]),
        ),
        (
            "prepared-plan-cache",
            o(vec![
                ("enabled", b(false)),
                ("capacity", i(100)),
                ("memory-guard-ratio", g(0.1)),
            ]),
        ),
        (
            "opentracing",
            o(vec![
                ("enable", b(false)),
                ("rpc-metrics", b(false)),
                (
                    "sampler",
                    o(vec![
                        ("type", s("const")),
                        ("param", g(1.0)),
                        ("sampling-server-url", s("")),
                        ("max-operations", i(0)),
                        ("sampling-refresh-interval", i(0)),
                    ]),
                ),
                (
                    "reporter",
                    o(vec![
                        ("queue-size", i(0)),
                        ("buffer-flush-interval", i(0)),
                        ("log-spans", b(false)),
                        ("local-agent-host-port", s("")),
                    ]),
                ),
            ]),
        ),
        (
            "proxy-protocol",
            o(vec![("networks", s("")), ("header-timeout", i(5))]),
        ),
        ("pd-client", o(vec![("pd-server-timeout", i(3))])),
        (
            "tikv-client",
            o(vec![
                ("grpc-connection-count", i(4)),
                ("grpc-keepalive-time", i(10)),
                ("grpc-keepalive-timeout", i(3)),
                ("grpc-compression-type", s("none")),
                ("commit-timeout", s("41s")),
                (
                    "async-commit",
                    o(vec![
                        ("keys-limit", i(256)),
                        ("total-key-size-limit", i(4096)),
                        ("safe-window", i(2000000000)),
                        ("allowed-clock-drift", i(500000000)),
                    ]),
                ),
                ("max-batch-size", i(128)),
                ("overload-threshold", i(200)),
                ("max-batch-wait-time", i(0)),
                ("batch-wait-size", i(8)),
                ("enable-chunk-rpc", b(true)),
                ("region-cache-ttl", i(600)),
                ("store-limit", i(0)),
                ("store-liveness-timeout", s("1s")),
                ("copr-cache", o(vec![("capacity-mb", g(1000.0))])),
                ("ttl-refreshed-txn-size", i(33554432)),
                ("resolve-lock-lite-threshold", i(16)),
            ]),
        ),
        (
            "binlog",
            o(vec![
                ("enable", b(false)),
                ("ignore-error", b(false)),
                ("write-timeout", s("15s")),
                ("binlog-socket", s("")),
                ("strategy", s("range")),
            ]),
        ),
        ("compatible-kill-query", b(false)),
        ("plugin", o(vec![("dir", s("")), ("load", s(""))])),
        (
            "pessimistic-txn",
            o(vec![
                ("max-retry-count", i(256)),
                ("deadlock-history-capacity", i(10)),
                ("deadlock-history-collect-retryable", b(false)),
            ]),
        ),
        ("check-mb4-value-in-utf8", b(true)),
        ("max-index-length", i(3072)),
        ("index-limit", i(64)),
        ("table-column-count-limit", i(1017)),
        ("graceful-wait-before-shutdown", i(0)),
        ("alter-primary-key", b(false)),
        ("treat-old-version-utf8-as-utf8mb4", b(true)),
        ("enable-table-lock", b(false)),
        ("delay-clean-table-lock", i(0)),
        ("split-region-max-num", i(1000)),
        (
            "stmt-summary",
            o(vec![
                ("enable", b(true)),
                ("enable-internal-query", b(false)),
                ("max-stmt-count", i(3000)),
                ("max-sql-length", i(4096)),
                ("refresh-interval", i(1800)),
                ("history-size", i(24)),
            ]),
        ),
        ("repair-mode", b(false)),
        ("repair-table-list", Json::Arr(vec![])),
        (
            "isolation-read",
            o(vec![("engines", Json::strs(&["tikv", "tiflash", "tidb"]))]),
        ),
        ("max-server-connections", i(0)),
        (
            "new_collations_enabled_on_first_bootstrap",
            b(since(ctx.version, "6.0.0")),
        ),
        (
            "experimental",
            o(vec![
                ("allow-expression-index", b(false)),
                ("enable-global-kill", b(false)),
            ]),
        ),
        ("enable-collect-execution-info", b(true)),
        ("skip-register-to-dashboard", b(false)),
        ("enable-telemetry", b(telemetry_default(ctx.version))),
        ("labels", o(vec![])),
        ("enable-global-index", b(false)),
        ("deprecate-integer-display-length", b(false)),
        ("enable-enum-length-limit", b(true)),
        ("stores-refresh-interval", i(60)),
        ("enable-tcp4-only", b(false)),
        ("enable-forwarding", b(false)),
    ])
}

/// One RocksDB column family; the four of TiKV's kv engine differ in a few values.
fn column_family(cf: &str, version: &str, rng: &mut Rng) -> Json {
    let lock = cf == "lockcf";
    let compression = if lock {
        Json::strs(&["no"; 7])
    } else {
        Json::strs(&["no", "no", "lz4", "lz4", "lz4", "zstd", "zstd"])
    };
    let block_cache = [0u64, 0, 256, 1024][rng.below(4) as usize];
    o(vec![
        (
            "block-size",
            s(match (lock, since(version, "6.6.0")) {
                (true, _) => "16KiB",
                (false, true) => "32KiB",
                (false, false) => "64KiB",
            }),
        ),
        ("block-cache-size", s(format!("{block_cache}MiB"))),
        ("disable-block-cache", b(false)),
        ("cache-index-and-filter-blocks", b(true)),
        ("pin-l0-filter-and-index-blocks", b(true)),
        ("use-bloom-filter", b(true)),
        ("optimize-filters-for-hits", b(cf == "defaultcf")),
        ("whole-key-filtering", b(cf != "writecf")),
        ("bloom-filter-bits-per-key", i(10)),
        ("block-based-bloom-filter", b(false)),
        ("read-amp-bytes-per-bit", i(0)),
        ("compression-per-level", compression),
        ("write-buffer-size", mib(if lock { 32 } else { 128 })),
        ("max-write-buffer-number", i(5)),
        ("min-write-buffer-number-to-merge", i(1)),
        (
            "max-bytes-for-level-base",
            mib(if lock { 128 } else { 512 }),
        ),
        ("target-file-size-base", mib(8)),
        (
            "level0-file-num-compaction-trigger",
            i(if lock { 1 } else { 4 }),
        ),
        ("level0-slowdown-writes-trigger", i(20)),
        (
            "level0-stop-writes-trigger",
            i(if since(version, "6.2.0") { 20 } else { 36 }),
        ),
        ("max-compaction-bytes", s("2GiB")),
        ("compaction-pri", i(if lock { 0 } else { 3 })),
        ("dynamic-level-bytes", b(true)),
        ("num-levels", i(7)),
        ("max-bytes-for-level-multiplier", i(10)),
        ("compaction-style", i(0)),
        ("disable-auto-compactions", b(false)),
        ("disable-write-stall", b(false)),
        ("soft-pending-compaction-bytes-limit", s("192GiB")),
        (
            "hard-pending-compaction-bytes-limit",
            s(if since(version, "6.2.0") {
                "1TiB"
            } else {
                "256GiB"
            }),
        ),
        ("force-consistency-checks", b(false)),
        ("prop-size-index-distance", i(4194304)),
        ("prop-keys-index-distance", i(40960)),
        ("enable-doubly-skiplist", b(true)),
        ("enable-compaction-guard", b(!lock)),
        ("compaction-guard-min-output-file-size", mib(8)),
        ("compaction-guard-max-output-file-size", mib(128)),
        (
            "bottommost-level-compression",
            s(if lock { "disable" } else { "zstd" }),
        ),
        ("bottommost-zstd-compression-dict-size", i(0)),
        ("bottommost-zstd-compression-sample-size", i(0)),
        (
            "titan",
            o(vec![
                ("min-blob-size", s("1KiB")),
                ("blob-file-compression", s("lz4")),
                ("blob-cache-size", s("0KiB")),
                ("min-gc-batch-size", mib(16)),
                ("max-gc-batch-size", mib(64)),
                ("discardable-ratio", f(0.5)),
                ("sample-ratio", f(0.1)),
                ("merge-small-file-threshold", mib(8)),
                (
                    "blob-run-mode",
                    s(if cf == "defaultcf" {
                        "normal"
                    } else {
                        "read-only"
                    }),
                ),
                ("level-merge", b(false)),
                ("range-merge", b(true)),
                ("max-sorted-runs", i(20)),
                ("gc-merge-rewrite", b(false)),
            ]),
        ),
    ])
}

fn rocksdb_db(
    cfs: &[&'static str],
    wal_dir: &str,
    version: &str,
    rng: &mut Rng,
) -> Vec<(&'static str, Json)> {
    let mut db: Vec<(&'static str, Json)> = vec![
        ("info-log-level", s("info")),
        ("wal-recovery-mode", i(2)),
        ("wal-dir", s(wal_dir)),
        ("wal-ttl-seconds", i(0)),
        ("wal-size-limit", s("0KiB")),
        ("max-total-wal-size", s("4GiB")),
        ("max-background-jobs", i(4 + rng.below(5) as i64)),
        ("max-background-flushes", i(2)),
        ("max-manifest-file-size", mib(128)),
        ("create-if-missing", b(true)),
        ("max-open-files", i(40960)),
        ("enable-statistics", b(true)),
        ("stats-dump-period", s("10m")),
        ("compaction-readahead-size", s("0KiB")),
        ("info-log-max-size", s("1GiB")),
        ("info-log-roll-time", s("0s")),
        ("info-log-keep-log-file-num", i(10)),
        ("info-log-dir", s("")),
        ("rate-bytes-per-sec", s("10GiB")),
        ("rate-limiter-refill-period", s("100ms")),
        ("rate-limiter-mode", i(2)),
        ("rate-limiter-auto-tuned", b(true)),
        ("bytes-per-sync", s("1MiB")),
        ("wal-bytes-per-sync", s("512KiB")),
        ("max-sub-compactions", i(3)),
        ("writable-file-max-buffer-size", s("1MiB")),
        ("use-direct-io-for-flush-and-compaction", b(false)),
        ("enable-pipelined-write", b(!since(version, "6.0.0"))),
        ("enable-multi-batch-write", b(true)),
        ("enable-unordered-write", b(false)),
    ];
    for cf in cfs {
        db.push((cf, column_family(cf, version, rng)));
    }
    db.push((
        "titan",
        o(vec![
            ("enabled", b(false)),
            ("dirname", s("")),
            ("disable-gc", b(false)),
            ("max-background-gc", i(1)),
            ("purge-obsolete-files-period", s("10s")),
        ]),
    ));
    db
}

fn tikv(k: &TikvKnobs, ctx: &ConfigContext<'_>, rng: &mut Rng, tiflash: bool) -> Json {
    let cpus = [8u64, 16, 32, 48][rng.below(4) as usize];
    let cache_mib = 4096 + rng.below(60_000);
    let pool = |conc: u64| {
        o(vec![
            ("use-unified-pool", b(true)),
            ("high-concurrency", i(conc as i64)),
            ("normal-concurrency", i(conc as i64)),
            ("low-concurrency", i(conc as i64)),
            ("max-tasks-per-worker-high", i(2000)),
            ("max-tasks-per-worker-normal", i(2000)),
            ("max-tasks-per-worker-low", i(2000)),
            ("stack-size", mib(10)),
        ])
    };
    let addr = format!("{}:{}", ctx.advertise_host, ctx.port);
    let status = format!("{}:{}", ctx.advertise_host, ctx.status_port);
    let mut top: Vec<(&str, Json)> = vec![
        ("log-level", s(k.log_level)),
        ("log-file", s(ctx.log_file)),
        ("log-format", s("text")),
        ("slow-log-file", s("")),
        ("slow-log-threshold", s("1s")),
        ("log-rotation-timespan", s("1d")),
        ("log-rotation-size", mib(300)),
        (
            "log",
            o(vec![
                ("level", s(k.log_level)),
                ("format", s("text")),
                ("enable-timestamp", b(true)),
                (
                    "file",
                    o(vec![
                        ("filename", s(ctx.log_file)),
                        ("max-size", i(300)),
                        ("max-days", i(0)),
                        ("max-backups", i(0)),
                    ]),
                ),
            ]),
        ),
        ("panic-when-unexpected-key-or-data", b(false)),
        ("enable-io-snoop", b(true)),
        ("abort-on-panic", b(false)),
    ];
    if tiflash {
        top.push(("memory-usage-limit", s("0KiB")));
        top.push(("memory-usage-high-water", f(0.9)));
    }
    top.extend([
        (
            "readpool",
            o(vec![
                (
                    "unified",
                    o(vec![
                        ("min-thread-count", i(1)),
                        ("max-thread-count", i((cpus * 8 / 10) as i64)),
                        ("stack-size", mib(10)),
                        ("max-tasks-per-worker", i(2000)),
                    ]),
                ),
                ("storage", pool(4)),
                ("coprocessor", pool(cpus * 8 / 10)),
            ]),
        ),
        (
            "server",
            o(vec![
                ("addr", s(format!("0.0.0.0:{}", ctx.port))),
                ("advertise-addr", s(addr)),
                ("status-addr", s(format!("0.0.0.0:{}", ctx.status_port))),
                ("advertise-status-addr", s(status)),
                ("status-thread-pool-size", i(1)),
                ("max-grpc-send-msg-len", i(10485760)),
                ("raft-client-grpc-send-msg-buffer", i(524288)),
                ("raft-client-queue-size", i(8192)),
                ("raft-msg-max-batch-size", i(128)),
                ("grpc-compression-type", s("none")),
                ("grpc-concurrency", i(5)),
                ("grpc-concurrent-stream", i(1024)),
                ("grpc-raft-conn-num", i(1)),
                ("grpc-memory-pool-quota", Json::Num(i64::MAX.to_string())),
                ("grpc-stream-initial-window-size", s("2MiB")),
                ("grpc-keepalive-time", s("10s")),
                ("grpc-keepalive-timeout", s("3s")),
                ("concurrent-send-snap-limit", i(32)),
                ("concurrent-recv-snap-limit", i(32)),
                ("end-point-recursion-limit", i(1000)),
                ("end-point-stream-channel-size", i(8)),
                ("end-point-batch-row-limit", i(64)),
                ("end-point-stream-batch-row-limit", i(128)),
                ("end-point-enable-batch-if-possible", b(true)),
                ("end-point-request-max-handle-duration", s("1m")),
                ("end-point-max-concurrency", i(cpus as i64)),
                ("snap-max-write-bytes-per-sec", mib(100)),
                ("snap-max-total-size", s("0KiB")),
                ("stats-concurrency", i(1)),
                ("heavy-load-threshold", i(75)),
                ("heavy-load-wait-duration", s("1ms")),
                ("enable-request-batch", b(true)),
                ("background-thread-count", i(2)),
                ("end-point-slow-log-threshold", s("1s")),
                ("forward-max-connections-per-address", i(4)),
                ("reject-messages-on-memory-ratio", f(0.2)),
                (
                    "labels",
                    if tiflash {
                        o(vec![("engine", s("tiflash"))])
                    } else {
                        o(vec![("zone", s(format!("z{}", rng.below(3))))])
                    },
                ),
            ]),
        ),
        (
            "storage",
            o(vec![
                ("data-dir", s(ctx.data_dir)),
                ("gc-ratio-threshold", f(1.1)),
                ("max-key-size", i(8192)),
                ("scheduler-concurrency", i(524288)),
                (
                    "scheduler-worker-pool-size",
                    i(if cpus >= 16 { 8 } else { 4 }),
                ),
                ("scheduler-pending-write-threshold", mib(100)),
                ("reserve-space", s("5GiB")),
                ("enable-async-apply-prewrite", b(false)),
                ("enable-ttl", b(false)),
                ("ttl-check-poll-interval", s("12h")),
                (
                    "flow-control",
                    o(vec![
                        ("enable", b(true)),
                        ("soft-pending-compaction-bytes-limit", s("192GiB")),
                        ("hard-pending-compaction-bytes-limit", s("1TiB")),
                        ("memtables-threshold", i(5)),
                        ("l0-files-threshold", i(20)),
                    ]),
                ),
                (
                    "block-cache",
                    o(vec![
                        ("shared", b(true)),
                        ("capacity", mib(cache_mib)),
                        ("num-shard-bits", i(6)),
                        ("strict-capacity-limit", b(false)),
                        ("high-pri-pool-ratio", f(0.8)),
                        ("memory-allocator", s("nodump")),
                    ]),
                ),
                (
                    "io-rate-limit",
                    o(vec![
                        ("max-bytes-per-sec", s("0KiB")),
                        ("mode", s("write-only")),
                        ("strict", b(false)),
                        ("foreground-read-priority", s("high")),
                        ("foreground-write-priority", s("high")),
                        ("flush-priority", s("high")),
                        ("level-zero-compaction-priority", s("medium")),
                        ("compaction-priority", s("low")),
                        ("replication-priority", s("high")),
                        ("load-balance-priority", s("high")),
                        ("gc-priority", s("high")),
                        ("import-priority", s("medium")),
                        ("export-priority", s("medium")),
                        ("other-priority", s("high")),
                    ]),
                ),
            ]),
        ),
        (
            "pd",
            o(vec![
                (
                    "endpoints",
                    Json::Arr(ctx.pd_endpoints.iter().map(|e| s(e.as_str())).collect()),
                ),
                ("retry-interval", s("300ms")),
                ("retry-max-count", Json::Num(i64::MAX.to_string())),
                ("retry-log-every", i(10)),
                ("update-interval", s("10m")),
                ("enable-forwarding", b(false)),
            ]),
        ),
        (
            "metric",
            o(vec![("job", s(if tiflash { "tiflash" } else { "tikv" }))]),
        ),
        ("raftstore", raftstore(ctx, rng)),
        (
            "coprocessor",
            o(vec![
                ("split-region-on-table", b(false)),
                ("batch-split-limit", i(10)),
                ("region-max-size", mib(144)),
                ("region-split-size", mib(96)),
                ("region-max-keys", i(1440000)),
                ("region-split-keys", i(960000)),
                ("consistency-check-method", s("mvcc")),
                ("perf-level", i(0)),
            ]),
        ),
        (
            "coprocessor-v2",
            o(vec![("coprocessor-plugin-directory", Json::Null)]),
        ),
        (
            "rocksdb",
            Json::Obj(
                rocksdb_db(
                    &["defaultcf", "writecf", "lockcf", "raftcf"],
                    "",
                    ctx.version,
                    rng,
                )
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            ),
        ),
        (
            "raftdb",
            Json::Obj(
                rocksdb_db(&["defaultcf"], "", ctx.version, rng)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
        ),
        (
            "raft-engine",
            o(vec![
                ("enable", b(since(ctx.version, "6.1.0"))),
                ("dir", s(format!("{}/raft-engine", ctx.data_dir))),
                ("recovery-mode", s("tolerate-tail-corruption")),
                ("bytes-per-sync", s("256KiB")),
                ("target-file-size", mib(128)),
                ("purge-threshold", s("10GiB")),
                ("recovery-read-block-size", s("16KiB")),
                ("recovery-threads", i(4)),
                ("batch-compression-threshold", s("8KiB")),
            ]),
        ),
        (
            "security",
            o(vec![
                ("ca-path", s("")),
                ("cert-path", s("")),
                ("key-path", s("")),
                ("cert-allowed-cn", Json::Arr(vec![])),
                ("redact-info-log", Json::Null),
                (
                    "encryption",
                    o(vec![
                        ("data-encryption-method", s("plaintext")),
                        ("data-key-rotation-period", s("7d")),
                        ("enable-file-dictionary-log", b(true)),
                        ("file-dictionary-rewrite-threshold", i(1000000)),
                        ("master-key", o(vec![("type", s("plaintext"))])),
                        ("previous-master-key", o(vec![("type", s("plaintext"))])),
                    ]),
                ),
            ]),
        ),
        (
            "import",
            o(vec![
                ("num-threads", i(8)),
                ("stream-channel-window", i(128)),
                ("import-mode-timeout", s("10m")),
            ]),
        ),
        (
            "backup",
            o(vec![
                ("num-threads", i((cpus * 3 / 4) as i64)),
                ("batch-size", i(8)),
                ("sst-max-size", mib(144)),
                ("enable-auto-tune", b(true)),
                ("hadoop", o(vec![("home", s("")), ("linux-user", s(""))])),
            ]),
        ),
        (
            "pessimistic-txn",
            o(vec![
                ("enabled", b(true)),
                ("wait-for-lock-timeout", s("1s")),
                ("wake-up-delay-duration", s("20ms")),
                ("pipelined", b(true)),
            ]),
        ),
        (
            "gc",
            o(vec![
                ("ratio-threshold", f(1.1)),
                ("batch-keys", i(512)),
                ("max-write-bytes-per-sec", s("0KiB")),
                ("enable-compaction-filter", b(k.enable_compaction_filter)),
                ("compaction-filter-skip-version-check", b(false)),
            ]),
        ),
        (
            "split",
            o(vec![
                ("qps-threshold", i(3000)),
                ("split-balance-score", f(0.25)),
                ("split-contained-score", f(0.5)),
                ("detect-times", i(10)),
                ("sample-num", i(20)),
                ("sample-threshold", i(100)),
                ("byte-threshold", i(31457280)),
            ]),
        ),
        (
            "cdc",
            o(vec![
                ("min-ts-interval", s("1s")),
                ("old-value-cache-size", i(1024)),
                ("hibernate-regions-compatible", b(true)),
                ("incremental-scan-threads", i(4)),
                ("incremental-scan-concurrency", i(6)),
                ("incremental-scan-speed-limit", mib(128)),
                ("sink-memory-quota", mib(512)),
                ("old-value-cache-memory-quota", mib(512)),
            ]),
        ),
        (
            "resolved-ts",
            o(vec![
                ("enable", b(true)),
                (
                    "advance-ts-interval",
                    // 20s on v6.5.1+ of the v6.5 line and from v7.0; v6.6 kept 1s.
                    s(
                        if (since(ctx.version, "6.5.1") && !since(ctx.version, "6.6.0"))
                            || since(ctx.version, "7.0.0")
                        {
                            "20s"
                        } else {
                            "1s"
                        },
                    ),
                ),
                ("scan-lock-pool-size", i(2)),
            ]),
        ),
        (
            "resource-metering",
            o(vec![
                ("enabled", b(false)),
                ("agent-address", s("")),
                ("report-agent-interval", s("1m")),
                ("max-resource-groups", i(2000)),
                ("precision", s("1s")),
            ]),
        ),
    ]);
    o(top)
}

fn raftstore(ctx: &ConfigContext<'_>, rng: &mut Rng) -> Json {
    let pool = 2 + rng.below(3) as i64;
    o(vec![
        ("prevote", b(true)),
        ("raftdb-path", s(format!("{}/raft", ctx.data_dir))),
        ("capacity", s("0KiB")),
        ("raft-base-tick-interval", s("1s")),
        ("raft-heartbeat-ticks", i(2)),
        ("raft-election-timeout-ticks", i(10)),
        ("raft-min-election-timeout-ticks", i(10)),
        ("raft-max-election-timeout-ticks", i(20)),
        ("raft-max-size-per-msg", s("1MiB")),
        ("raft-max-inflight-msgs", i(256)),
        ("raft-entry-max-size", mib(8)),
        ("raft-log-compact-sync-interval", s("2s")),
        ("raft-log-gc-tick-interval", s("3s")),
        ("raft-log-gc-threshold", i(50)),
        ("raft-log-gc-count-limit", i(73728)),
        ("raft-log-gc-size-limit", mib(72)),
        ("raft-log-reserve-max-ticks", i(6)),
        ("raft-engine-purge-interval", s("10s")),
        ("raft-entry-cache-life-time", s("30s")),
        ("raft-reject-transfer-leader-duration", s("3s")),
        ("split-region-check-tick-interval", s("10s")),
        ("region-split-check-diff", mib(6)),
        ("region-compact-check-interval", s("5m")),
        ("region-compact-check-step", i(100)),
        ("region-compact-min-tombstones", i(10000)),
        ("region-compact-tombstones-percent", i(30)),
        ("pd-heartbeat-tick-interval", s("1m")),
        ("pd-store-heartbeat-tick-interval", s("10s")),
        ("snap-mgr-gc-tick-interval", s("1m")),
        ("snap-gc-timeout", s("4h")),
        ("lock-cf-compact-interval", s("10m")),
        ("lock-cf-compact-bytes-threshold", mib(256)),
        ("notify-capacity", i(40960)),
        ("messages-per-tick", i(4096)),
        ("max-peer-down-duration", s("10m")),
        ("max-leader-missing-duration", s("2h")),
        ("abnormal-leader-missing-duration", s("10m")),
        ("peer-stale-state-check-interval", s("5m")),
        ("leader-transfer-max-log-lag", i(128)),
        ("snap-apply-batch-size", mib(10)),
        ("consistency-check-interval", s("0s")),
        ("report-region-flow-interval", s("1m")),
        ("raft-store-max-leader-lease", s("9s")),
        ("right-derive-when-split", b(true)),
        ("allow-remove-leader", b(false)),
        ("merge-max-log-gap", i(10)),
        ("merge-check-tick-interval", s("2s")),
        ("use-delete-range", b(false)),
        ("cleanup-import-sst-interval", s("10m")),
        ("local-read-batch-size", i(1024)),
        ("apply-max-batch-size", i(256)),
        ("apply-pool-size", i(pool)),
        ("apply-reschedule-duration", s("5s")),
        ("apply-low-priority-pool-size", i(1)),
        ("store-max-batch-size", i(256)),
        ("store-pool-size", i(pool)),
        ("store-reschedule-duration", s("5s")),
        ("store-low-priority-pool-size", i(0)),
        ("future-poll-size", i(1)),
        ("hibernate-regions", b(true)),
        ("dev-assert", b(false)),
        ("apply-yield-duration", s("500ms")),
        ("perf-level", i(0)),
        ("evict-cache-on-memory-ratio", f(0.0)),
        ("cmd-batch", b(true)),
        ("cmd-batch-concurrent-ready-max-count", i(1)),
        ("raft-write-size-limit", s("1MiB")),
        ("waterfall-metrics", b(false)),
        ("io-reschedule-concurrent-max-count", i(4)),
        ("io-reschedule-hotpot-duration", s("5s")),
        ("inspect-interval", s("500ms")),
        ("check-leader-lease-interval", s("2s250ms")),
        ("renew-leader-lease-advance-duration", s("2s250ms")),
        ("reactive-memory-lock-tick-interval", s("2s")),
        ("reactive-memory-lock-timeout-tick", i(5)),
        ("report-min-resolved-ts-interval", s("0s")),
    ])
}
