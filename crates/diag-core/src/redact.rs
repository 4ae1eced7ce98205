//! Reports safe to share: every IP address, host and pod name, the cluster name, id and
//! namespace, and the values of config keys that hold secrets or paths are replaced by stable
//! pseudonyms (`ip-1`, `host-1`, `cluster-1`, `secret-1`, `path-1`, …).
//!
//! One original maps to one pseudonym everywhere in a run. Without a key, pseudonyms are
//! numbered in the order the originals are learned (bundle order, then order of appearance), so
//! the same bundle gives the same names; with a key ([`Redactor::with_key`]) each pseudonym is
//! derived from the key and the original alone (`ip-3fa94c1b`), so it is the same across runs
//! and bundles. [`Redactor::mapping`] is the table the user keeps to read the report back.
//!
//! Redaction is applied twice: to the report document before rendering (so escaping in HTML
//! cannot hide an original from it) and to every rendered output after (so nothing a template
//! or format adds survives either).
//!
//! ```
//! let mut r = diag_core::redact::Redactor::new();
//! r.learn("host", "tidb-0.example");
//! assert_eq!(r.redact("10.0.0.7 and tidb-0.example"), "ip-1 and host-1");
//! ```

use std::collections::BTreeMap;

use regex::Regex;
use sha2::{Digest, Sha256};

use crate::Cluster;
use crate::model::value::{ConfigNode, ConfigValue};
use crate::report::ReportDocument;

/// Replaces originals by pseudonyms; see the module docs.
#[derive(Debug, Clone)]
pub struct Redactor {
    key: Option<String>,
    /// original → pseudonym.
    map: BTreeMap<String, String>,
    /// Per kind, how many numbered pseudonyms were handed out.
    counters: BTreeMap<&'static str, usize>,
    /// Literal originals (everything but IPs, which the pattern finds), longest first.
    literals: Option<Regex>,
    ipv4: Regex,
    /// Runs of hex digits, colons and dots with at least two colons: IPv6 candidates, each
    /// confirmed by parsing it as an address (so `12:00:00.000` is left).
    ipv6: Regex,
}

impl Default for Redactor {
    fn default() -> Redactor {
        Redactor::new()
    }
}

/// Addresses that say nothing about a cluster and are kept, so that `0.0.0.0:4000` still reads
/// as "listening everywhere".
const KEPT_IPS: [&str; 5] = ["0.0.0.0", "127.0.0.1", "255.255.255.255", "::", "::1"];

impl Redactor {
    /// A redactor with numbered pseudonyms.
    pub fn new() -> Redactor {
        Redactor {
            key: None,
            map: BTreeMap::new(),
            counters: BTreeMap::new(),
            literals: None,
            // Boundaries are checked by hand (no look-around in `regex`).
            ipv4: Regex::new(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
                .unwrap_or_else(|_| unreachable!()),
            ipv6: Regex::new(r"[0-9A-Fa-f]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*")
                .unwrap_or_else(|_| unreachable!()),
        }
    }

    /// A redactor whose pseudonyms are derived from `key` (the same across runs with the key).
    pub fn with_key(key: &str) -> Redactor {
        Redactor {
            key: Some(key.to_owned()),
            ..Redactor::new()
        }
    }

    /// A redactor that knows every original of `cluster`: hosts and pod names, cluster name,
    /// id and namespace, instance directories, and secret or path values of every config.
    pub fn for_cluster(cluster: &Cluster, key: Option<&str>) -> Redactor {
        let mut r = key.map_or_else(Redactor::new, Redactor::with_key);
        r.learn_cluster(cluster);
        r
    }

    /// Learns the originals of another cluster (the second bundle of a diff).
    pub fn learn_cluster(&mut self, cluster: &Cluster) {
        self.learn("cluster", &cluster.name);
        self.learn("id", &cluster.id);
        if let Some(ns) = &cluster.namespace {
            self.learn("namespace", ns);
        }
        for i in &cluster.instances {
            self.learn_host(&i.host);
            if let Some(pod) = &i.pod {
                self.learn("host", pod);
            }
            for dir in [&i.deploy_dir, &i.log_dir, &i.data_dir]
                .into_iter()
                .flatten()
            {
                self.learn("path", dir);
            }
            if let Some(tree) = i.config.tree() {
                self.learn_config(&tree.root, "");
            }
        }
        for host in cluster.hosts.keys() {
            self.learn_host(host);
        }
    }

    fn learn_host(&mut self, host: &str) {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Some(v6) = ipv6_address(host) {
            self.learn("ip", &v6);
        } else if self.ipv4.find(host).is_some_and(|m| m.len() == host.len()) {
            self.learn("ip", host);
        } else {
            self.learn("host", host);
        }
    }

    /// `http://a:2379,b:2379` → the hosts `a` and `b` (IPs are found by the pattern anyway).
    fn learn_addresses(&mut self, value: &str) {
        for part in value.split(',') {
            let part = part.trim();
            let part = part.split_once("://").map_or(part, |(_, rest)| rest);
            let host = match part.rsplit_once(':') {
                // A bare IPv6 address has colons but no port.
                _ if ipv6_address(part.trim_end_matches('/')).is_some() => part,
                Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
                _ => part,
            };
            let host = host.trim_end_matches('/');
            if !host.is_empty() {
                self.learn_host(host);
            }
        }
    }

    fn learn_config(&mut self, node: &ConfigNode, key: &str) {
        match &node.value {
            ConfigValue::Map(map) => {
                for (k, v) in map.iter() {
                    self.learn_config(v, k);
                }
            }
            ConfigValue::Array(items) => {
                for v in items {
                    self.learn_config(v, key);
                }
            }
            ConfigValue::String(s) => {
                match sensitive_key(key) {
                    Some("host") => self.learn_addresses(s),
                    // A value that is only a dot or a separator is no secret.
                    Some(kind) if s.trim().len() >= 2 && s.trim() != "./" => {
                        self.learn(kind, s.trim())
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Adds `original` with a pseudonym of `kind` (`ip`, `host`, `cluster`, `id`, `namespace`,
    /// `secret`, `path`; anything else counts as `secret`). Empty or one-letter originals are
    /// ignored (replacing them would garble every text); a known original keeps its pseudonym.
    pub fn learn(&mut self, kind: &str, original: &str) {
        if original.chars().count() < 2 || self.map.contains_key(original) {
            return;
        }
        if KEPT_IPS.contains(&original) {
            return;
        }
        let kind: &'static str = match kind {
            "ip" => "ip",
            "host" => "host",
            "cluster" => "cluster",
            "id" => "id",
            "namespace" => "namespace",
            "path" => "path",
            _ => "secret",
        };
        let pseudonym = match &self.key {
            Some(key) => {
                let mut h = Sha256::new();
                h.update(key.as_bytes());
                h.update([0]);
                h.update(kind.as_bytes());
                h.update([0]);
                h.update(original.as_bytes());
                let digest = h.finalize();
                let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
                format!("{kind}-{hex}")
            }
            None => {
                let n = self.counters.entry(kind).or_insert(0);
                *n += 1;
                format!("{kind}-{n}")
            }
        };
        self.map.insert(original.to_owned(), pseudonym);
        if kind != "ip" {
            self.literals = None;
        }
    }

    /// Every original learned so far and its pseudonym, sorted by original: the table to keep
    /// (never share it with the report).
    pub fn mapping(&self) -> &BTreeMap<String, String> {
        &self.map
    }

    /// The mapping as text, one `pseudonym<TAB>original` a line, sorted by pseudonym.
    pub fn mapping_text(&self) -> String {
        let mut rows: Vec<(&String, &String)> = self.map.iter().map(|(o, p)| (p, o)).collect();
        rows.sort();
        rows.iter().map(|(p, o)| format!("{p}\t{o}\n")).collect()
    }

    fn literal_pattern(&mut self) -> Option<Regex> {
        if self.literals.is_none() {
            let mut originals: Vec<&str> = self
                .map
                .iter()
                .filter(|(o, _)| {
                    self.ipv4.find(o).is_none_or(|m| m.len() != o.len())
                        && ipv6_address(o).is_none()
                })
                .map(|(o, _)| o.as_str())
                .collect();
            // Longest first: `basic-pd-1` before `basic`, `/data/tidb/log` before `/data/tidb`.
            originals.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
            if originals.is_empty() {
                return None;
            }
            let alternation: Vec<String> = originals.iter().map(|o| regex::escape(o)).collect();
            self.literals = Regex::new(&alternation.join("|")).ok();
        }
        self.literals.clone()
    }

    /// `text` with every known original and every IPv4 and IPv6 address replaced (an address
    /// not seen before is learned on the spot; one IPv6 address in any spelling, `FE80:0::1` or
    /// `fe80::1`, is one pseudonym). Names are replaced where they stand as a word: not inside a
    /// longer run of letters and digits.
    pub fn redact(&mut self, text: &str) -> String {
        // (start, end, the address as the map knows it)
        let mut ips: Vec<(usize, usize, String)> = Vec::new();
        for m in self.ipv6.find_iter(text) {
            // A sentence may end right after an address: `… at fe80::1.`
            let token = m.as_str().trim_end_matches('.');
            let end = m.start() + token.len();
            if word_boundary(text, m.start(), end)
                && let Some(v6) = ipv6_address(token)
            {
                ips.push((m.start(), end, v6));
            }
        }
        for m in self.ipv4.find_iter(text) {
            if ip_boundary(text, m.start(), m.end()) {
                ips.push((m.start(), m.end(), m.as_str().to_owned()));
            }
        }
        for (_, _, ip) in &ips {
            self.learn("ip", ip);
        }
        let mut spans: Vec<(usize, usize, String)> = ips
            .into_iter()
            .filter(|(_, _, ip)| self.map.contains_key(ip))
            .collect();
        if let Some(re) = self.literal_pattern() {
            for m in re.find_iter(text) {
                if word_boundary(text, m.start(), m.end()) {
                    spans.push((m.start(), m.end(), m.as_str().to_owned()));
                }
            }
        }
        if spans.is_empty() {
            return text.to_owned();
        }
        spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e, original) in spans {
            if s < at {
                continue; // inside a longer replacement already made
            }
            out.push_str(&text[at..s]);
            match self.map.get(&original) {
                Some(p) => out.push_str(p),
                None => out.push_str(&text[s..e]),
            }
            at = e;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Redacts every text of `doc` in place, drops its links into the bundle (they would
    /// name the original folders) and marks it redacted.
    pub fn redact_document(&mut self, doc: &mut ReportDocument) {
        // Learn every address first, in document order, so numbering follows the document.
        if let Ok(json) = serde_json::to_string(doc) {
            self.redact(&json);
        }
        let mut r = |s: &mut String| *s = self.redact(s);
        r(&mut doc.bundle.name);
        doc.bundle.href = None;
        r(&mut doc.cluster.name);
        r(&mut doc.cluster.id);
        for i in &mut doc.cluster.instances {
            r(&mut i.host);
            r(&mut i.tag);
        }
        for f in &mut doc.findings {
            r(&mut f.rule.description);
            r(&mut f.rule.suggestion);
            for row in std::sync::Arc::make_mut(&mut f.rows) {
                r(&mut row.tag);
                r(&mut row.values_text);
                row.message.iter_mut().for_each(&mut r);
                row.expected.iter_mut().for_each(&mut r);
                for i in &mut row.instances {
                    r(&mut i.host);
                }
                for v in &mut row.values {
                    v.value.iter_mut().for_each(&mut r);
                }
                let values = row.values.iter_mut().filter_map(|v| v.evidence.as_mut());
                let examples = row.aggregate.iter_mut().flat_map(|a| &mut a.examples);
                for e in values.chain(row.evidence.iter_mut()).chain(examples) {
                    r(&mut e.file);
                    e.href = None;
                    e.excerpt.iter_mut().for_each(&mut r);
                }
                if let Some(w) = &mut row.waiver {
                    r(&mut w.reason);
                }
            }
        }
        for w in &mut doc.warnings {
            r(&mut w.message);
            w.file.iter_mut().for_each(&mut r);
            w.href = None;
        }
        for e in &mut doc.errors {
            r(&mut e.tag);
            r(&mut e.message);
        }
        if let Some(waivers) = &mut doc.waivers {
            for w in &mut waivers.waived {
                r(&mut w.tag);
                r(&mut w.values_text);
                r(&mut w.reason);
            }
            for w in waivers.expired.iter_mut().chain(waivers.unused.iter_mut()) {
                w.instance.iter_mut().for_each(&mut r);
                w.host.iter_mut().for_each(&mut r);
                r(&mut w.reason);
            }
        }
        doc.redacted = Some(true);
    }
}

/// The kind of pseudonym for the value of config key `key`, when it holds a secret or a path.
fn sensitive_key(key: &str) -> Option<&'static str> {
    let k = key.to_ascii_lowercase();
    const SECRET: [&str; 7] = [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "access-key",
        "private-key",
    ];
    const PATH: [&str; 6] = ["path", "dir", "file", "filename", "socket", "prefix"];
    if SECRET.iter().any(|s| k.contains(s)) {
        return Some("secret");
    }
    let last = k.rsplit(['-', '_', '.']).next().unwrap_or(&k);
    if PATH.contains(&last) || k.ends_with("-dir") || k.ends_with("-path") {
        return Some("path");
    }
    if matches!(
        last,
        "host" | "hostname" | "addr" | "address" | "urls" | "endpoints"
    ) {
        return Some("host");
    }
    None
}

/// An IPv4 match stands alone: no digit or `.` glued to either side (so `1.2.3.4.5` and
/// version strings are left).
fn ip_boundary(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let mut after = text[end..].chars();
    let glued_before = before.is_some_and(|c| c.is_ascii_digit() || c == '.');
    let glued_after = match after.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => after.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    !glued_before && !glued_after
}

/// `token` as an IPv6 address in its canonical spelling (lower case, zeros compressed), when
/// it is one; an address written with an embedded IPv4 part (`::ffff:10.0.0.1`) counts too.
fn ipv6_address(token: &str) -> Option<String> {
    if token.matches(':').count() < 2 {
        return None;
    }
    token
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|a| a.to_string())
}

/// A literal match stands as a word: no letter or digit glued to either side.
fn word_boundary(text: &str, start: usize, end: usize) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    !alnum(text[..start].chars().next_back()) && !alnum(text[end..].chars().next())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test fails by panicking
mod tests {
    use super::*;

    #[test]
    fn one_original_one_pseudonym_and_longest_first() {
        let mut r = Redactor::new();
        r.learn("cluster", "basic");
        r.learn("host", "basic-pd-1");
        assert_eq!(
            r.redact("basic-pd-1 of basic at 10.1.1.1:2379, 10.1.1.1 again, 10.1.1.12"),
            "host-1 of cluster-1 at ip-1:2379, ip-1 again, ip-2"
        );
        // Not inside a longer word, and version-like runs of numbers are left.
        assert_eq!(r.redact("basically v1.2.3.4.5"), "basically v1.2.3.4.5");
        assert_eq!(r.redact("listen 0.0.0.0:4000"), "listen 0.0.0.0:4000");
    }

    #[test]
    fn ipv6_addresses_in_every_spelling_and_nothing_that_only_looks_like_one() {
        let mut r = Redactor::new();
        r.learn_addresses("[2001:db8::7]:2379,http://[fd00::1:2]:20160");
        assert_eq!(
            r.redact("peer [2001:DB8:0:0::7]:2379 and fd00::1:2, then 2001:db8::7."),
            "peer [ip-1]:2379 and ip-2, then ip-1."
        );
        assert_eq!(r.redact("fe80::9%eth0 ::ffff:10.9.9.9"), "ip-3%eth0 ip-4");
        // Times, Rust paths, loopback and the unspecified address are left.
        let kept = "at 12:00:00.000 in de::Error, std::io, ::1 and :: and a:b";
        assert_eq!(r.redact(kept), kept);
        assert!(r.mapping().contains_key("2001:db8::7"));
    }

    #[test]
    fn keyed_pseudonyms_depend_only_on_key_and_original() {
        let mut a = Redactor::with_key("k");
        a.learn("ip", "10.0.0.9");
        let mut b = Redactor::with_key("k");
        b.learn("ip", "10.0.0.1");
        b.learn("ip", "10.0.0.9");
        assert_eq!(a.redact("10.0.0.9"), b.redact("10.0.0.9"));
        assert!(a.redact("10.0.0.9").starts_with("ip-"));
        let mut c = Redactor::with_key("other");
        assert_ne!(a.redact("10.0.0.9"), c.redact("10.0.0.9"));
    }

    #[test]
    fn secret_and_path_keys() {
        assert_eq!(sensitive_key("password"), Some("secret"));
        assert_eq!(sensitive_key("ssl-key-password"), Some("secret"));
        assert_eq!(sensitive_key("data-dir"), Some("path"));
        assert_eq!(sensitive_key("filename"), Some("path"));
        assert_eq!(sensitive_key("max-days"), None);
        assert_eq!(sensitive_key("level"), None);
    }
}
