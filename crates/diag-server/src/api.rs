//! Routing of diag's check API (pingcap/diag `api/swagger.yaml`, operator mode):
//!
//! - `GET /api/v1/data`: the data sets, `[{id, clusterName, size, date}]`;
//! - `GET /api/v1/data/{id}`: one data set;
//! - `POST /api/v1/data/{id}/check` with `{"types": ["config"]}`: check it now and answer
//!   `text/plain` `stdout:\n<report>` as diag does, or the JSON report with `Accept: application/json`;
//! - `GET /api/v1/data/{id}/check`: the last check's answer (204 when there is none);
//! - `GET /api/v1/version`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use diag_core::engine::CheckOptions;
use diag_core::report::{Format, Renderer, ReportRequest, check_and_write};
use diag_core::rules::{CheckKind, RuleSet};
use serde::Deserialize;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// A request, as the router sees it. Header names are lower case.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn wants_json(&self) -> bool {
        self.header("accept")
            .is_some_and(|a| a.contains("application/json"))
    }
}

/// A reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.into_bytes(),
        }
    }

    fn json(status: u16, value: &impl serde::Serialize) -> Reply {
        match serde_json::to_vec_pretty(value) {
            Ok(mut body) => {
                body.push(b'\n');
                Reply {
                    status,
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body,
                }
            }
            Err(e) => Reply::text(500, format!("serializing the answer: {e}")),
        }
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// One check's answers, kept for `GET …/check`.
#[derive(Debug, Clone)]
struct CheckAnswer {
    text: String,
    json: String,
}

/// A data set as diag lists it.
#[derive(Debug, Clone, serde::Serialize)]
struct DataSet {
    id: String,
    #[serde(rename = "clusterName")]
    cluster_name: String,
    size: u64,
    date: String,
}

/// What the server holds between requests.
pub struct State {
    data_dir: PathBuf,
    token: Option<String>,
    rules: RuleSet,
    renderer: Renderer,
    /// One lock per data set: the same bundle checked twice at once runs one after the other.
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    last: Mutex<HashMap<String, CheckAnswer>>,
    /// Listing needs the cluster name; loading is not free, so it is kept per (path, mtime).
    listed: Mutex<HashMap<PathBuf, (SystemTime, DataSet)>>,
}

#[derive(Debug, Deserialize)]
struct CheckBody {
    #[serde(default = "default_types")]
    types: Vec<String>,
}

fn default_types() -> Vec<String> {
    vec!["config".into()]
}

impl State {
    pub fn new(data_dir: PathBuf, token: Option<String>) -> State {
        State {
            data_dir,
            token: token.filter(|t| !t.is_empty()),
            rules: RuleSet::builtin(),
            renderer: Renderer::new(),
            locks: Mutex::default(),
            last: Mutex::default(),
            listed: Mutex::default(),
        }
    }

    pub fn handle(&self, req: &Request<'_>) -> Reply {
        if let Some(token) = &self.token {
            let given = req
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if !constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
                let mut reply = Reply::text(401, "missing or wrong bearer token");
                reply
                    .headers
                    .push(("WWW-Authenticate".into(), "Bearer".into()));
                return reply;
            }
        }
        let url_path = req.url.split(['?', '#']).next().unwrap_or("");
        let Some(rest) = url_path.strip_prefix("/api/v1/") else {
            return Reply::text(404, format!("no such endpoint: {url_path}"));
        };
        let segments: Vec<&str> = rest.split('/').collect();
        match (req.method, segments.as_slice()) {
            ("GET", ["version"]) => Reply::json(
                200,
                &serde_json::json!({ "version": env!("CARGO_PKG_VERSION"), "ruleSetVersion": self.rules.version() }),
            ),
            ("GET", ["data"] | ["data", ""]) => Reply::json(200, &self.list()),
            (_, ["data", raw_id, tail @ ..]) => {
                let id = match data_id(raw_id) {
                    Ok(id) => id,
                    Err(reply) => return reply,
                };
                let Some(path) = self.find(&id) else {
                    return Reply::text(404, format!("no data set `{id}` in the data directory"));
                };
                match (req.method, tail) {
                    ("GET", []) => match self.describe(&id, &path) {
                        Ok(d) => Reply::json(200, &d),
                        Err(e) => Reply::text(500, e),
                    },
                    ("POST", ["check"]) => self.check(&id, &path, req),
                    ("GET", ["check"]) => self.last_check(&id, req),
                    (_, [] | ["check"]) => {
                        Reply::text(405, format!("{} not allowed here", req.method))
                    }
                    _ => Reply::text(404, format!("no such endpoint: {url_path}")),
                }
            }
            _ => Reply::text(404, format!("no such endpoint: {url_path}")),
        }
    }

    /// Bundles in the data directory: `diag-<id>/`, `diag-<id>.zip`, `diag-<id>.tar.gz`/`.tgz`,
    /// sorted by id.
    fn bundles(&self) -> Vec<(String, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(&self.data_dir) else {
            return Vec::new();
        };
        let mut found: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let path = e.path();
                let id = if path.is_dir() {
                    name.strip_prefix("diag-")?.to_owned()
                } else {
                    let stem = [".tar.gz", ".tgz", ".zip"]
                        .iter()
                        .find_map(|ext| name.strip_suffix(ext))?;
                    stem.strip_prefix("diag-")?.to_owned()
                };
                (!id.is_empty()).then_some((id, path))
            })
            .collect();
        found.sort();
        found
    }

    fn find(&self, id: &str) -> Option<PathBuf> {
        self.bundles()
            .into_iter()
            .find(|(i, _)| i == id)
            .map(|(_, p)| p)
    }

    fn list(&self) -> Vec<DataSet> {
        self.bundles()
            .into_iter()
            .filter_map(|(id, path)| self.describe(&id, &path).ok())
            .collect()
    }

    fn describe(&self, id: &str, path: &Path) -> Result<DataSet, String> {
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some((when, set)) = lock(&self.listed).get(path)
            && *when == modified
        {
            return Ok(set.clone());
        }
        let cluster = diag_core::Cluster::open(path).map_err(|e| e.to_string())?;
        let cluster_name = match &cluster.namespace {
            Some(ns) if !ns.is_empty() => format!("{ns}/{}", cluster.name),
            _ => cluster.name.clone(),
        };
        let date = jiff::Timestamp::try_from(modified)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let set = DataSet {
            id: id.to_owned(),
            cluster_name,
            size: cluster.source.index().values().map(|e| e.size).sum(),
            date,
        };
        lock(&self.listed).insert(path.to_path_buf(), (modified, set.clone()));
        Ok(set)
    }

    fn check(&self, id: &str, path: &Path, req: &Request<'_>) -> Reply {
        let body = if req.body.iter().all(u8::is_ascii_whitespace) {
            CheckBody {
                types: default_types(),
            }
        } else {
            match serde_json::from_slice::<CheckBody>(req.body) {
                Ok(b) => b,
                Err(e) => {
                    return Reply::text(
                        400,
                        format!("malformed body: {e}; expected {{\"types\": [\"config\"]}}"),
                    );
                }
            }
        };
        let mut kinds = Vec::new();
        for t in &body.types {
            match CheckKind::parse(t) {
                Some(k) if !kinds.contains(&k) => kinds.push(k),
                Some(_) => {}
                None => {
                    let known: Vec<_> = CheckKind::ALL.iter().map(|k| k.as_str()).collect();
                    return Reply::text(
                        400,
                        format!("unknown check type `{t}` (known: {})", known.join(", ")),
                    );
                }
            }
        }
        let options = CheckOptions {
            kinds,
            ..CheckOptions::default()
        };

        let bundle_lock = lock(&self.locks).entry(id.to_owned()).or_default().clone();
        let _held = lock(&bundle_lock);
        let request = ReportRequest {
            rules: &self.rules,
            options: &options,
            renderer: &self.renderer,
            formats: &[Format::Text],
            output: None,
        };
        let written = match check_and_write(path, &request) {
            Ok(w) => w,
            Err(e) => return Reply::text(500, format!("check failed: {e}")),
        };
        let json = match self.renderer.render(Format::Json, &written.doc) {
            Ok(j) => j,
            Err(e) => return Reply::text(500, format!("check failed: {e}")),
        };
        // diag answers "stdout:\n" + what `diag check` printed.
        let answer = CheckAnswer {
            text: format!("stdout:\n{}", written.terminal_text()),
            json,
        };
        lock(&self.last).insert(id.to_owned(), answer.clone());
        answer_reply(&answer, req)
    }

    fn last_check(&self, id: &str, req: &Request<'_>) -> Reply {
        match lock(&self.last).get(id) {
            Some(answer) => answer_reply(answer, req),
            None => Reply::empty(204),
        }
    }
}

fn answer_reply(answer: &CheckAnswer, req: &Request<'_>) -> Reply {
    if req.wants_json() {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: answer.json.clone().into_bytes(),
        }
    } else {
        Reply::text(200, answer.text.clone())
    }
}

/// A data set id from the URL: percent-decoded, then plain (letters, digits, `-`, `_`, `.`),
/// never `.`/`..` or anything that could name a path outside the data directory.
fn data_id(raw: &str) -> Result<String, Reply> {
    let bad = |why: &str| Reply::text(400, format!("bad data set id `{raw}`: {why}"));
    let decoded = percent_decode(raw).ok_or_else(|| bad("malformed percent-encoding"))?;
    if decoded.is_empty() {
        return Err(bad("empty"));
    }
    if decoded.starts_with('.') || decoded.contains(['/', '\\']) {
        return Err(bad("looks like a path"));
    }
    if !decoded
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(bad("only letters, digits, `-`, `_` and `.` are allowed"));
    }
    Ok(decoded)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A poisoned lock only means another request panicked; the maps stay usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
