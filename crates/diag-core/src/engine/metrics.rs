//! The checkers for `source: metric` and `source: alert` rules.
//!
//! The metrics the selected rules read are decoded once when the check starts, their files in
//! parallel, and shared by the rules that read them ([`MetricCache`]) until the last of those
//! has finished, when the series are dropped; metrics no selected rule names are never decoded.
//! Each metric and alert rule is evaluated as soon as the metrics it reads are decoded, beside
//! the decoding of the others (no thread waits for a metric another one decodes); its rows are
//! kept for the engine in rule order. A metric rule computes its
//! function over each series' window, groups series into rows by its `by` labels, and the worst
//! series of a group decides the row; the row cites the file, the series and the time of the
//! worst sample. An alert rule reports each alert of its names seen in `alerts.json` (firing or
//! pending when diag ran) or in the `ALERTS` history (fired during the window).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use super::finding::{Evidence, InstanceRef, Row, RowState, ValueRead};
use crate::model::Cluster;
use crate::model::data::{DataFile, DataKind};
use crate::model::metrics::{
    self, Labels, MetricData, PdLeader, Point, Series, Windowed, histogram_quantile,
};
use crate::rules::metric_rule::{AlertRule, Cmp, Function, LEADER_METRIC, MetricRule, Threshold};
use crate::rules::{Rule, RuleBody, Severity, Subject};

/// The metrics of one check, decoded on first use and shared by the rules that read them.
pub(crate) struct MetricCache<'c> {
    cluster: &'c Cluster,
    loaded: Mutex<BTreeMap<String, Arc<OnceLock<Arc<MetricData>>>>>,
    /// How many selected rules are still to read each metric decoded up front: its series are
    /// dropped once the last of them has finished, not kept to the end of the check.
    readers: Mutex<BTreeMap<String, usize>>,
    /// Alert names some selected alert rule reports by name (the `"*"` rule reports the rest).
    claimed: BTreeSet<String>,
    /// `instance` label → cluster instance, built on first use.
    instances: OnceLock<InstanceIndex>,
    /// The rows of each selected metric and alert rule (by rule name, unique in a selection),
    /// evaluated when the cache was made; the engine takes them in its own order.
    rows: Mutex<BTreeMap<String, Vec<Row>>>,
}

/// How `instance` labels name cluster instances: by address, status address or pod name; and
/// the hosts exporters run on.
struct InstanceIndex {
    by_label: BTreeMap<String, usize>,
    hosts: BTreeSet<String>,
}

impl InstanceIndex {
    fn new(cluster: &Cluster) -> InstanceIndex {
        let mut by_label = BTreeMap::new();
        let mut hosts: BTreeSet<String> = cluster.hosts.keys().cloned().collect();
        // Reverse order so that the first instance wins a shared label.
        for (index, i) in cluster.instances.iter().enumerate().rev() {
            by_label.insert(i.address(), index);
            if let Some(p) = i.status_port {
                by_label.insert(format!("{}:{p}", i.host), index);
            }
            if let Some(pod) = &i.pod {
                by_label.insert(pod.clone(), index);
            }
            hosts.insert(i.host.clone());
        }
        InstanceIndex { by_label, hosts }
    }
}

impl<'c> MetricCache<'c> {
    pub(crate) fn new(cluster: &'c Cluster, selected: &[&Rule]) -> MetricCache<'c> {
        let claimed = selected
            .iter()
            .filter_map(|r| match &r.body {
                RuleBody::Alert(a) => Some(a.names.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect();
        let mut readers: BTreeMap<String, usize> = BTreeMap::new();
        for rule in selected {
            for name in metrics_read(rule) {
                *readers.entry(name.to_string()).or_default() += 1;
            }
        }
        let cache = MetricCache {
            cluster,
            loaded: Mutex::new(BTreeMap::new()),
            readers: Mutex::new(readers),
            claimed,
            instances: OnceLock::new(),
            rows: Mutex::new(BTreeMap::new()),
        };
        let rules: Vec<&Rule> = selected
            .iter()
            .copied()
            .filter(|r| matches!(r.body, RuleBody::Metric(_) | RuleBody::Alert(_)))
            .collect();
        if !rules.is_empty() {
            Schedule::new(&cache, rules).run();
        }
        cache
    }

    /// The rows of metric or alert rule `rule`, evaluated when the cache was made (every
    /// selected one was; its metrics were let go of once no other rule was to read them).
    pub(super) fn rows(&self, rule: &Rule) -> Vec<Row> {
        lock(&self.rows).remove(&rule.meta.name).unwrap_or_default()
    }

    /// `metric` is decoded: its series are there for the rules that read it.
    fn insert(&self, metric: &str, data: MetricData) {
        lock(&self.loaded).insert(metric.to_string(), Arc::new(OnceLock::from(Arc::new(data))));
    }

    /// `rule` has finished with the metrics it reads: those no other rule is still to read are
    /// dropped from the cache (freed once the last reader lets go of them).
    fn finished(&self, rule: &Rule) {
        let names = metrics_read(rule);
        if names.is_empty() {
            return;
        }
        let mut readers = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut done = Vec::new();
        for name in names {
            if let Some(n) = readers.get_mut(name) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    readers.remove(name);
                    done.push(name);
                }
            }
        }
        drop(readers);
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dropped: Vec<_> = done.iter().filter_map(|n| loaded.remove(*n)).collect();
        drop(loaded);
        // Freed outside the lock.
        drop(dropped);
    }

    /// Every series of `name`, decoded once (on first use if no selected rule named it).
    pub(crate) fn get(&self, name: &str) -> Arc<MetricData> {
        let cell = {
            let mut loaded = self
                .loaded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(loaded.entry(name.to_string()).or_default())
        };
        // Decoding happens outside the lock: other metrics load in parallel.
        Arc::clone(cell.get_or_init(|| {
            Arc::new(MetricData::load(
                name,
                self.cluster.files_of(DataKind::Metric),
            ))
        }))
    }
}

/// A mutex's guard, whether or not a thread panicked holding it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The files of one metric in runs to decode as one task: a file of 64 KiB or more stored
/// alone, smaller ones up to 16 at a time or 64 KiB in all (a thousand per-instance files of a
/// few KiB are not a thousand tasks, each waking a thread).
fn batches(files: &[&DataFile]) -> Vec<std::ops::Range<usize>> {
    const BYTES: u64 = 64 << 10;
    const FILES: usize = 16;
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (k, f) in files.iter().enumerate() {
        if k > start && (k - start == FILES || bytes + f.size > BYTES) {
            out.push(start..k);
            (start, bytes) = (k, 0);
        }
        bytes += f.size;
    }
    if start < files.len() {
        out.push(start..files.len());
    }
    out
}

/// What decoding one metric file gave.
type Decoded = Result<Vec<Series>, crate::error::LoadError>;

/// One metric being decoded for a [`Schedule`].
struct Pending<'a> {
    name: &'a str,
    /// Its files, in path order.
    files: Vec<&'a DataFile>,
    /// What decoding each file gave, in the same order, as the tasks finish.
    decoded: Mutex<Vec<Option<Decoded>>>,
    /// Files not decoded yet: the task that decodes the last joins the blocks.
    left: AtomicUsize,
    /// The rules (positions in [`Schedule::rules`]) that read it.
    readers: Vec<usize>,
}

/// The metric and alert rules of a check with the metrics they read: every file a task of its
/// own, the task that decodes a metric's last file joins its blocks, and a rule is evaluated
/// by the task that completes the last metric it reads. Nothing waits for another task: a rayon
/// thread blocking on a metric another thread decodes could leave no thread to decode it.
/// Which thread does what varies; what each rule computes does not (its metrics are joined in
/// path order, its rows kept by rule).
struct Schedule<'s, 'c> {
    cache: &'s MetricCache<'c>,
    rules: Vec<&'s Rule>,
    metrics: Vec<Pending<'s>>,
    /// Per rule, how many of the metrics it reads are not decoded yet.
    unmet: Vec<AtomicUsize>,
    /// Per rule, its rows once evaluated.
    rows: Vec<Mutex<Option<Vec<Row>>>>,
}

impl<'s, 'c> Schedule<'s, 'c> {
    fn new(cache: &'s MetricCache<'c>, rules: Vec<&'s Rule>) -> Schedule<'s, 'c> {
        let reads: Vec<BTreeSet<&str>> = rules.iter().map(|r| metrics_read(r)).collect();
        let names: Vec<&str> = reads
            .iter()
            .flatten()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let files = MetricData::files_of(&names, cache.cluster.files_of(DataKind::Metric));
        let metrics = files
            .into_iter()
            .map(|(name, files)| Pending {
                name,
                decoded: Mutex::new((0..files.len()).map(|_| None).collect()),
                left: AtomicUsize::new(files.len()),
                files,
                readers: (0..rules.len())
                    .filter(|&r| reads[r].contains(name))
                    .collect(),
            })
            .collect();
        Schedule {
            cache,
            unmet: reads.iter().map(|r| AtomicUsize::new(r.len())).collect(),
            rows: rules.iter().map(|_| Mutex::new(None)).collect(),
            rules,
            metrics,
        }
    }

    /// Decodes, evaluates, and leaves each rule's rows with the cache.
    fn run(self) {
        // Built before the rules start, so that none waits for another to build it.
        self.cache
            .instances
            .get_or_init(|| InstanceIndex::new(self.cache.cluster));
        // The largest metrics first (stored bytes), so that the small ones and their rules
        // fill in around the long ones rather than after them.
        let mut order: Vec<usize> = (0..self.metrics.len()).collect();
        order.sort_by_key(|&m| {
            std::cmp::Reverse(self.metrics[m].files.iter().map(|f| f.size).sum::<u64>())
        });
        let this = &self;
        rayon::scope_fifo(|s| {
            for &m in &order {
                for files in batches(&this.metrics[m].files) {
                    s.spawn_fifo(move |_| this.decode(m, files));
                }
            }
            // Metrics the bundle has no file of are complete already.
            for &m in &order {
                if this.metrics[m].files.is_empty() {
                    this.complete(m, Vec::new());
                }
            }
        });
        let mut rows = lock(&self.cache.rows);
        for (rule, evaluated) in self.rules.iter().zip(self.rows) {
            let evaluated = evaluated
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            rows.insert(rule.meta.name.clone(), evaluated.unwrap_or_default());
        }
    }

    /// Decodes files `files` of metric `m`; the last of its files completes it.
    fn decode(&self, m: usize, files: std::ops::Range<usize>) {
        let metric = &self.metrics[m];
        let count = files.len();
        let results: Vec<Decoded> = metric.files[files.clone()]
            .iter()
            .map(|f| metrics::decode_file(f))
            .collect();
        for (k, result) in files.zip(results) {
            lock(&metric.decoded)[k] = Some(result);
        }
        if metric.left.fetch_sub(count, Ordering::AcqRel) == count {
            let decoded: Vec<_> = std::mem::take(&mut *lock(&metric.decoded))
                .into_iter()
                .map(|r| r.unwrap_or_else(|| Ok(Vec::new())))
                .collect();
            self.complete(m, decoded);
        }
    }

    /// Metric `m`'s files are all decoded: its blocks are joined into the cache, and each rule
    /// reading it that has nothing else to wait for is evaluated.
    fn complete(&self, m: usize, decoded: Vec<Result<Vec<Series>, crate::error::LoadError>>) {
        let metric = &self.metrics[m];
        let data = MetricData::from_decoded(metric.name, &metric.files, decoded);
        self.cache.insert(metric.name, data);
        let ready: Vec<usize> = metric
            .readers
            .iter()
            .copied()
            .filter(|&r| self.unmet[r].fetch_sub(1, Ordering::AcqRel) == 1)
            .collect();
        // Evaluated here and now (in parallel when there are several): a job spawned into the
        // scope would queue behind the files still to decode, holding the metric meanwhile.
        ready.into_par_iter().for_each(|r| self.evaluate(r));
    }

    /// Rule `r`'s rows; then the metrics no other rule is still to read are dropped.
    fn evaluate(&self, r: usize) {
        let rule = self.rules[r];
        let cluster = self.cache.cluster;
        let rows = match &rule.body {
            RuleBody::Metric(spec) => evaluate_metric_rule(cluster, rule, spec, self.cache),
            RuleBody::Alert(spec) => evaluate_alert_rule(rule, spec, cluster, self.cache),
            _ => Vec::new(),
        };
        *lock(&self.rows[r]) = Some(rows);
        self.cache.finished(rule);
    }
}

/// The metrics `rule` reads (each once).
fn metrics_read(rule: &Rule) -> BTreeSet<&str> {
    let mut names = BTreeSet::new();
    match &rule.body {
        RuleBody::Metric(spec) => {
            names.insert(spec.series.metric.as_str());
            if let Some(d) = &spec.divide_by {
                names.insert(d.metric.as_str());
            }
            if spec.pd_leader {
                names.insert(LEADER_METRIC);
            }
        }
        RuleBody::Alert(_) => {
            names.insert("ALERTS");
        }
        _ => {}
    }
    names
}

/// One thing a metric rule evaluated: the series it rests on and what the function gave.
struct Evaluated<'a> {
    /// The series cited (the numerator of a ratio, the `+Inf` bucket of a histogram).
    series: &'a Series,
    /// Its labels for grouping (a histogram's without `le`).
    labels: Cow<'a, Labels>,
    /// The function's value and the time it refers to; `None` with too few samples.
    value: Option<Point>,
    /// The samples behind the value, for sparklines.
    samples: Cow<'a, [Point]>,
}

/// The samples a rule reads of `s`: the series' own (borrowed) unless the rule keeps only the
/// PD leader's or transforms the values.
fn window<'a>(s: &'a Series, leader: Option<&PdLeader>, spec: &MetricRule) -> Cow<'a, [Point]> {
    if leader.is_none() && spec.transform.is_none() {
        return Cow::Borrowed(&s.samples);
    }
    let mut samples = match leader {
        Some(l) => l.keep(s),
        None => s.samples.clone(),
    };
    if let Some(t) = spec.transform {
        for p in &mut samples {
            p.v = t.apply(p.t, p.v);
        }
    }
    Cow::Owned(samples)
}

/// A metric rule's rows, computed.
fn evaluate_metric_rule(
    cluster: &Cluster,
    rule: &Rule,
    spec: &MetricRule,
    cache: &MetricCache<'_>,
) -> Vec<Row> {
    let data = cache.get(&spec.series.metric);
    let mut rows = problem_rows(&data);
    if data.files.is_empty() {
        rows.push(cluster_row(
            RowState::NoData,
            format!(
                "no `{}` metric file under monitor/metrics/",
                spec.series.metric
            ),
        ));
        return rows;
    }
    let den = spec.divide_by.as_ref().map(|d| cache.get(&d.metric));
    // A ratio of one metric's series (available / capacity) reads the same files twice: each
    // bad file is one row.
    if let Some(den) = den
        .as_ref()
        .filter(|_| spec.divide_by.as_ref().map(|d| &d.metric) != Some(&spec.series.metric))
    {
        rows.extend(problem_rows(den));
    }
    let leader = spec
        .pd_leader
        .then(|| PdLeader::from_series(&cache.get(LEADER_METRIC).series))
        .filter(PdLeader::is_known);
    let window = |s| window(s, leader.as_ref(), spec);

    let mut evaluated = Vec::new();
    let mut idle = 0;
    match spec.function {
        Function::Quantile(q) => {
            // One histogram per label set without `le`.
            let mut histograms: BTreeMap<Labels, Vec<&Series>> = BTreeMap::new();
            for s in data.select(&spec.series) {
                let mut key = s.labels.clone();
                key.remove("le");
                histograms.entry(key).or_default().push(s);
            }
            for (labels, buckets) in histograms {
                let windows: Vec<(f64, Cow<'_, [Point]>)> = buckets
                    .iter()
                    .filter_map(|b| {
                        let le = b.label("le").and_then(metrics::parse_value)?;
                        Some((le, window(b)))
                    })
                    .collect();
                let Some(top) = buckets
                    .iter()
                    .find(|b| b.label("le") == Some("+Inf"))
                    .copied()
                else {
                    continue;
                };
                let (value, samples) = quantile_over(q, spec.range, &windows, &spec.abnormal);
                evaluated.push(Evaluated {
                    series: top,
                    labels: Cow::Owned(labels),
                    value,
                    samples: Cow::Owned(samples),
                });
            }
        }
        _ => {
            let mut denominators = Denominators::new(
                spec.divide_by
                    .as_ref()
                    .zip(den.as_deref())
                    .map(|(selector, den)| den.select(selector).collect())
                    .unwrap_or_default(),
            );
            // Each series (with its denominator) is paired first, in series order, then
            // evaluated in parallel: a rule over a thousand series is not one thread's work.
            let ratio = spec.divide_by.is_some() && den.is_some();
            let pairs: Vec<(&Series, Option<&Series>)> = data
                .select(&spec.series)
                .filter_map(|s| {
                    if !ratio {
                        return Some((s, None));
                    }
                    let on = join_labels(spec, s);
                    Some((s, Some(denominators.find(&on, s)?)))
                })
                .collect();
            // `None`: a counter ratio whose denominator never grew.
            let results: Vec<Option<Evaluated<'_>>> = pairs
                .par_iter()
                .map(|&(s, d)| {
                    let (samples, value) = match d {
                        Some(d) => match counter_function(spec.function) {
                            Some(f) => {
                                let points = counter_ratio(&window(s), &window(d), spec.range, f);
                                if points.is_empty() {
                                    // The denominator never grew (an idle disk): nothing to rate.
                                    return None;
                                }
                                let value = worst_point(&points, &spec.abnormal);
                                (Cow::Owned(points), value)
                            }
                            None => {
                                let samples = metrics::ratio(&window(s), &window(d));
                                let value = evaluate(spec, &samples);
                                (Cow::Owned(samples), value)
                            }
                        },
                        None => {
                            let samples = window(s);
                            let value = evaluate(spec, &samples);
                            (samples, value)
                        }
                    };
                    Some(Evaluated {
                        series: s,
                        labels: Cow::Borrowed(&s.labels),
                        value,
                        samples,
                    })
                })
                .collect();
            for result in results {
                match result {
                    Some(e) => evaluated.push(e),
                    None => idle += 1,
                }
            }
        }
    }

    if evaluated.is_empty() {
        let what = match &spec.divide_by {
            Some(d) => format!("`{}` with a matching `{}`", spec.series, d),
            None => format!("`{}`", spec.series),
        };
        let idle = match (idle, &spec.divide_by) {
            (0, _) | (_, None) => String::new(),
            (n, Some(d)) => format!(" ({n} series whose `{}` never grew)", d.metric),
        };
        rows.push(cluster_row(
            RowState::NoData,
            format!("no series {what} in {} file(s){idle}", data.files.len()),
        ));
        return rows;
    }

    let by: Vec<String> = match (&spec.by, rule.subject) {
        (Some(by), _) => by.clone(),
        (None, Subject::Cluster) => Vec::new(),
        (None, _) => vec!["instance".to_string()],
    };
    let mut groups: BTreeMap<Vec<String>, Vec<Evaluated>> = BTreeMap::new();
    for e in evaluated {
        let key = by
            .iter()
            .map(|l| e.labels.get(l).cloned().unwrap_or_default())
            .collect();
        groups.entry(key).or_default().push(e);
    }
    let leader_note = (spec.pd_leader && leader.is_none())
        .then_some("no etcd_server_is_leader series: every PD's samples counted");
    let index = cache.instances.get_or_init(|| InstanceIndex::new(cluster));
    // Rows in group order, built in parallel (a thousand instances' rows, each a sketch).
    let groups: Vec<(Vec<String>, Vec<Evaluated<'_>>)> = groups.into_iter().collect();
    let built: Vec<Row> = groups
        .into_par_iter()
        .map(|(key, members)| {
            let worst = members.iter().filter(|e| e.value.is_some()).reduce(|a, b| {
                match (a.value, b.value) {
                    (Some(x), Some(y)) if spec.abnormal.worse(y.v, x.v) => b,
                    _ => a,
                }
            });
            let (tag, instances) = subject_of(cluster, index, &by, &key);
            let mut row = match worst.and_then(|e| e.value.map(|p| (e, p))) {
                None => Row::new(
                    tag,
                    instances,
                    Vec::new(),
                    RowState::NoData,
                    Some(format!(
                        "too few samples of `{}` to compute {}",
                        spec.series, spec.function
                    )),
                ),
                Some((e, point)) => metric_row(rule, spec, (e, point), tag, instances, leader_note),
            };
            if let Some(e) = worst {
                row.series = Some(Box::new(super::finding::SeriesSketch::of(
                    &e.samples,
                    spec.abnormal.value,
                )));
            }
            row
        })
        .collect();
    rows.extend(built);
    rows
}

fn metric_row(
    rule: &Rule,
    spec: &MetricRule,
    (e, point): (&Evaluated<'_>, Point),
    tag: String,
    instances: Vec<InstanceRef>,
    note: Option<&str>,
) -> Row {
    let shown = spec.unit.format(point.v);
    let time = rfc3339(point.t);
    let cited = cited(e);
    let file = e
        .series
        .file_at(point.t)
        .cloned()
        .unwrap_or_else(|| Arc::from(""));
    let evidence = Evidence::at(file, 0)
        .with_time(time.clone())
        .with_excerpt(format!("{cited} = {shown}"));
    let variation: Arc<str> = if rule.meta.variation.is_empty() {
        Arc::from(spec.describe())
    } else {
        Arc::from(rule.meta.variation.as_str())
    };
    let state = if spec.abnormal.hit(point.v) {
        let critical = spec.critical.is_some_and(|c| c.hit(point.v));
        RowState::Abnormal(if critical {
            Severity::Critical
        } else {
            rule.meta.severity
        })
    } else {
        RowState::Ok
    };
    let message = match state {
        RowState::Abnormal(_) => {
            let past = match spec.critical {
                Some(c) if c.hit(point.v) => c,
                _ => spec.abnormal,
            };
            Some(format!(
                "{cited} at {time}: {shown} {} {}",
                past.symbol(),
                spec.unit.format(past.value)
            ))
        }
        _ => None,
    };
    let message = match (message, note) {
        (Some(m), Some(n)) => Some(format!("{m}; {n}")),
        (m, _) => m,
    };
    let mut row = Row::new(
        tag,
        instances,
        vec![ValueRead {
            variation,
            value: Some(shown.into()),
            evidence: Some(evidence.clone()),
        }],
        state,
        message,
    );
    row.evidence.push(evidence);
    // What a normal value looks like: the abnormal comparison's opposite.
    let normal = match spec.abnormal.op {
        Cmp::Gt => "<=",
        Cmp::Ge => "<",
        Cmp::Lt => ">=",
        Cmp::Le => ">",
        Cmp::Eq => "!=",
        Cmp::Ne => "=",
    };
    row.expected = Some(Arc::from(format!(
        "{normal} {}",
        spec.unit.format(spec.abnormal.value)
    )));
    row
}

/// The series a row cites, as PromQL writes it (a histogram without its `le`).
fn cited(e: &Evaluated<'_>) -> String {
    use std::fmt::Write;
    let mut out = format!("{}{{", e.series.metric);
    for (i, (k, v)) in e.labels.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let _ = write!(out, "{comma}{k}={v:?}");
    }
    out.push('}');
    out
}

/// The denominator series of a ratio, indexed by the values of the labels they are joined on:
/// a numerator finds the first denominator (in series order) that agrees with it on every
/// join label, without a scan of them all.
struct Denominators<'a> {
    series: Vec<&'a Series>,
    /// Join labels → their values (`None` where a series lacks one) → the first series.
    by_labels: BTreeMap<Vec<String>, BTreeMap<Vec<Option<&'a str>>, &'a Series>>,
}

impl<'a> Denominators<'a> {
    fn new(series: Vec<&'a Series>) -> Denominators<'a> {
        Denominators {
            series,
            by_labels: BTreeMap::new(),
        }
    }

    fn find(&mut self, on: &[String], num: &Series) -> Option<&'a Series> {
        let series = &self.series;
        let index = self.by_labels.entry(on.to_vec()).or_insert_with(|| {
            let mut index = BTreeMap::new();
            for d in series {
                let key = on.iter().map(|l| d.label(l)).collect();
                index.entry(key).or_insert(*d);
            }
            index
        });
        let key: Vec<Option<&str>> = on.iter().map(|l| num.label(l)).collect();
        index.get(&key).copied()
    }
}

/// The labels a ratio's numerator and denominator are joined on.
fn join_labels(spec: &MetricRule, num: &Series) -> Vec<String> {
    if let Some(on) = &spec.on {
        return on.clone();
    }
    let differ: BTreeSet<&str> = match &spec.divide_by {
        Some(den) => spec
            .series
            .matcher_labels()
            .symmetric_difference(&den.matcher_labels())
            .map(|(l, _)| *l)
            .collect(),
        None => BTreeSet::new(),
    };
    num.labels
        .keys()
        .filter(|l| !differ.contains(l.as_str()))
        .cloned()
        .collect()
}

/// The function's value over `samples` and the time it refers to, the worst window when the
/// rule has a range.
fn evaluate(spec: &MetricRule, samples: &[Point]) -> Option<Point> {
    let last_t = samples.last().map(|p| p.t);
    let windowed = |f| {
        let points = match spec.range {
            Some(range) => metrics::sliding(samples, range, f),
            None => Vec::new(),
        };
        worst_point(&points, &spec.abnormal)
    };
    match spec.function {
        Function::Max => metrics::max(samples),
        Function::Min => metrics::min(samples),
        Function::Last => metrics::last(samples),
        Function::Avg => match spec.range {
            None => Some(Point::new(last_t?, metrics::avg(samples)?)),
            Some(range) => worst_point(&sliding_avg(samples, range), &spec.abnormal),
        },
        Function::Changes if spec.range.is_none() => {
            let (count, at) = metrics::changes(samples)?;
            Some(Point::new(at.map_or(last_t?, |p| p.t), count))
        }
        Function::Increase if spec.range.is_none() => {
            Some(Point::new(last_t?, metrics::increase(samples)?))
        }
        Function::Rate if spec.range.is_none() => {
            Some(Point::new(last_t?, metrics::rate(samples)?))
        }
        Function::Delta if spec.range.is_none() => {
            Some(Point::new(last_t?, metrics::delta(samples)?))
        }
        Function::Changes => windowed(Windowed::Changes),
        Function::Increase => windowed(Windowed::Increase),
        Function::Rate => windowed(Windowed::Rate),
        Function::Delta => windowed(Windowed::Delta),
        Function::Quantile(_) => None,
    }
}

fn worst_point(points: &[Point], threshold: &Threshold) -> Option<Point> {
    points
        .iter()
        .filter(|p| !p.v.is_nan())
        .copied()
        .reduce(|a, b| if threshold.worse(b.v, a.v) { b } else { a })
}

/// `rate` and `increase` of a ratio apply to each side: `rate(num[range]) / rate(den[range])`, as
/// PromQL writes a cost per operation (disk time per completed IO).
fn counter_function(f: Function) -> Option<Windowed> {
    match f {
        Function::Rate => Some(Windowed::Rate),
        Function::Increase => Some(Windowed::Increase),
        _ => None,
    }
}

/// The counter function of `num` over that of `den`, per window of `range` seconds ending at a
/// sample (one point over the whole window without a range); windows where `den` did not grow
/// are skipped (an idle disk has no latency).
fn counter_ratio(num: &[Point], den: &[Point], range: Option<f64>, f: Windowed) -> Vec<Point> {
    match range {
        Some(range) => metrics::ratio(
            &metrics::sliding(num, range, f),
            &metrics::sliding(den, range, f),
        ),
        None => {
            let whole = |s: &[Point]| match f {
                Windowed::Rate => metrics::rate(s),
                _ => metrics::increase(s),
            };
            match (whole(num), whole(den), metrics::last(num)) {
                (Some(n), Some(d), Some(at)) if d != 0.0 => vec![Point::new(at.t, n / d)],
                _ => Vec::new(),
            }
        }
    }
}

/// The mean of every window of `range` seconds ending at a sample.
fn sliding_avg(samples: &[Point], range: f64) -> Vec<Point> {
    let pts: Vec<Point> = samples.iter().filter(|p| !p.v.is_nan()).copied().collect();
    let mut out = Vec::with_capacity(pts.len());
    let (mut start, mut sum) = (0, 0.0);
    for (end, p) in pts.iter().enumerate() {
        sum += p.v;
        while pts[start].t < p.t - range {
            sum -= pts[start].v;
            start += 1;
        }
        out.push(Point::new(p.t, sum / (end - start + 1) as f64));
    }
    out
}

/// The quantile of a histogram's growth over the window (or its worst `range` window), and the
/// quantile over time for the sparkline.
fn quantile_over(
    q: f64,
    range: Option<f64>,
    buckets: &[(f64, Cow<'_, [Point]>)],
    threshold: &Threshold,
) -> (Option<Point>, Vec<Point>) {
    let grown: Vec<(f64, Vec<Point>)> = buckets
        .iter()
        .map(|(le, s)| {
            // A whole-window quantile is the last point of a window as long as the data.
            let span = match (s.first(), s.last()) {
                (Some(a), Some(b)) => b.t - a.t,
                _ => 0.0,
            };
            (
                *le,
                metrics::sliding(s, range.unwrap_or(span), Windowed::Increase),
            )
        })
        .collect();
    let Some((_, base)) = grown.iter().find(|(le, _)| *le == f64::INFINITY) else {
        return (None, Vec::new());
    };
    let series: Vec<Point> = base
        .iter()
        .filter_map(|p| {
            let at: Vec<(f64, f64)> = grown
                .iter()
                .filter_map(|(le, pts)| {
                    let i = pts.partition_point(|x| x.t < p.t - 0.5);
                    pts.get(i)
                        .filter(|x| (x.t - p.t).abs() <= 0.5)
                        .map(|x| (*le, x.v))
                })
                .collect();
            histogram_quantile(q, &at).map(|v| Point::new(p.t, v))
        })
        .collect();
    let value = match range {
        Some(_) => worst_point(&series, threshold),
        None => series.last().copied(),
    };
    (value, series)
}

/// A row's tag and instances for a group of series: the cluster instance the `instance` label
/// names (by address, status address or pod), else the label values as written.
fn subject_of(
    cluster: &Cluster,
    index: &InstanceIndex,
    by: &[String],
    key: &[String],
) -> (String, Vec<InstanceRef>) {
    if by.is_empty() {
        return ("cluster".to_string(), Vec::new());
    }
    let mut parts = Vec::new();
    let mut instances = Vec::new();
    for (label, value) in by.iter().zip(key) {
        let found = index
            .by_label
            .get(value)
            .and_then(|&n| cluster.instances.get(n).map(|i| (n, i)));
        if label == "instance"
            && let Some((index, instance)) = found
        {
            parts.push(instance.tag());
            instances.push(InstanceRef {
                component: instance.component,
                host: instance.host.clone(),
                port: instance.port,
                index,
            });
            continue;
        }
        // Exporters on a host (node_exporter's `<host>:9100`) are about the host.
        let host = value.rsplit_once(':').map_or(value.as_str(), |(h, _)| h);
        if label == "instance" && index.hosts.contains(host) {
            parts.push(format!("Host_{host}"));
            continue;
        }
        parts.push(format!("{label}={value}"));
    }
    (parts.join(","), instances)
}

fn cluster_row(state: RowState, message: String) -> Row {
    Row::new(
        "cluster".into(),
        Vec::new(),
        Vec::new(),
        state,
        Some(message),
    )
}

/// A `nodata` row for each metric file that could not be used; the other files still count.
fn problem_rows(data: &MetricData) -> Vec<Row> {
    data.problems
        .iter()
        .map(|e| {
            let file = match e {
                crate::LoadError::Io { path, .. } => path.display().to_string(),
                e => e.file().unwrap_or_default().to_string(),
            };
            let mut row = Row::new(
                format!("file={file}"),
                Vec::new(),
                Vec::new(),
                RowState::NoData,
                Some(e.to_string()),
            );
            row.evidence.push(Evidence::at(file, 0));
            row
        })
        .collect()
}

/// Unix seconds as RFC 3339 UTC (`2022-01-24T01:34:27Z`).
pub(crate) fn rfc3339(t: f64) -> String {
    let ms = (t * 1000.0).round() as i64;
    jiff::Timestamp::from_millisecond(ms)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| format!("{t}"))
}

/// One alert seen in the bundle: its labels (without `alertstate`) and when it was seen in each
/// state, with the file.
#[derive(Default)]
struct AlertSeen {
    firing: Option<(f64, f64, Arc<str>)>,
    pending: Option<(f64, f64, Arc<str>)>,
    /// Seen in the `ALERTS` history (not only in the snapshot at collection time).
    history: bool,
}

/// An alert rule's rows, computed.
fn evaluate_alert_rule(
    rule: &Rule,
    spec: &AlertRule,
    cluster: &Cluster,
    cache: &MetricCache<'_>,
) -> Vec<Row> {
    let snapshot_files: Vec<_> = cluster.files_of(DataKind::Alerts).collect();
    let history = cache.get("ALERTS");
    let mut rows = problem_rows(&history);
    if snapshot_files.is_empty() && history.files.is_empty() {
        rows.push(cluster_row(
            RowState::NoData,
            "no alerts.json and no ALERTS history in the bundle".into(),
        ));
        return rows;
    }
    let mut snapshot: Vec<Series> = Vec::new();
    for f in &snapshot_files {
        match f.bytes().and_then(|b| metrics::decode(&f.path, &b)) {
            Ok(s) => snapshot.extend(s),
            Err(e) => {
                let mut row = Row::new(
                    format!("file={}", f.path),
                    Vec::new(),
                    Vec::new(),
                    RowState::NoData,
                    Some(e.to_string()),
                );
                row.evidence.push(Evidence::at(f.path.as_str(), 0));
                rows.push(row);
            }
        }
    }
    let wanted = |name: &str| {
        if spec.others {
            !cache.claimed.contains(name)
        } else {
            spec.names.iter().any(|n| n == name)
        }
    };
    let mut seen: BTreeMap<Labels, AlertSeen> = BTreeMap::new();
    let from_history = history.series.iter().map(|s| (s, true));
    for (s, in_history) in snapshot.iter().map(|s| (s, false)).chain(from_history) {
        let Some(name) = s.label("alertname") else {
            continue;
        };
        if !wanted(name) {
            continue;
        }
        let mut key = s.labels.clone();
        let state = key.remove("alertstate").unwrap_or_default();
        let entry = seen.entry(key).or_default();
        entry.history |= in_history;
        for (i, p) in s.samples.iter().enumerate() {
            if p.v != 1.0 {
                continue;
            }
            let file = s.file_of(i).cloned().unwrap_or_else(|| Arc::from(""));
            let slot = if state == "firing" {
                &mut entry.firing
            } else {
                &mut entry.pending
            };
            *slot = Some(match slot.take() {
                None => (p.t, p.t, file),
                Some((first, last, f)) => (first.min(p.t), last.max(p.t), f),
            });
        }
    }
    if seen.is_empty() {
        rows.push(Row::new(
            "cluster".into(),
            Vec::new(),
            Vec::new(),
            RowState::Ok,
            None,
        ));
        return rows;
    }
    for (labels, alert) in seen {
        let name = labels.get("alertname").cloned().unwrap_or_default();
        let tag = match labels.get("instance") {
            Some(i) => format!("{name}_{i}"),
            None => name.clone(),
        };
        let level = labels.get("level").map(String::as_str).unwrap_or("");
        let severity = match level {
            "emergency" | "critical" => Severity::Critical,
            "warning" => Severity::Warning,
            "info" => Severity::Info,
            _ => rule.meta.severity,
        };
        let (state, when, what) = match (&alert.firing, &alert.pending) {
            (Some(f), _) => (RowState::Abnormal(severity), f, "firing"),
            (None, Some(p)) => (RowState::Abnormal(Severity::Info), p, "pending"),
            (None, None) => continue,
        };
        let (first, last, file) = when;
        let span = if first == last {
            format!("{what} at {}", rfc3339(*first))
        } else {
            format!("{what} from {} to {}", rfc3339(*first), rfc3339(*last))
        };
        let level_text = if level.is_empty() {
            String::new()
        } else {
            format!(" (level {level})")
        };
        let source = if alert.history {
            "the ALERTS history"
        } else {
            "alerts.json"
        };
        let excerpt = {
            let shown: Vec<String> = labels
                .iter()
                .filter(|(k, _)| k.as_str() != "expr")
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            format!("ALERTS{{{}}}", shown.join(","))
        };
        let evidence = Evidence::at(file.clone(), 0)
            .with_time(rfc3339(*first))
            .with_excerpt(excerpt);
        let mut row = Row::new(
            tag,
            Vec::new(),
            vec![ValueRead {
                variation: Arc::from("expr"),
                value: labels.get("expr").map(|e| e.as_str().into()),
                evidence: None,
            }],
            state,
            Some(format!("{span}{level_text}, in {source}")),
        );
        row.evidence.push(evidence);
        rows.push(row);
    }
    rows
}
