//! What the benches measure besides their subjects, shared by them (`#[path] mod measure`):
//! the load they ran at, CPU time from `/proc`, medians.
#![allow(dead_code)]

use std::time::Duration;

/// The 1-minute load average, for the tables.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// User + system time so far of this process (`children: false`) or of its waited-for children
/// (`true`), from `/proc/self/stat` (clock ticks of 10 ms); `None` where it is not readable.
pub fn cpu_time(children: bool) -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let (user, sys) = if children { (13, 14) } else { (11, 12) };
    let ticks: u64 =
        fields.get(user)?.parse::<u64>().ok()? + fields.get(sys)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The median of some durations (the upper one of an even count).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
