//! Routing of diag's check API (pingcap/diag `api/swagger.yaml`, operator mode):
//!
//! - `GET /api/v1/data`: the data sets, `[{id, clusterName, size, date}]` (plus `problem` for one
//!   that cannot be checked);
//! - `GET /api/v1/data/{id}`: one data set;
//! - `POST /api/v1/data/{id}/check` with `{"types": ["config"]}`: check it now and answer
//!   `text/plain` `stdout:\n<report>` as diag does, or the JSON report with `Accept: application/json`;
//! - `GET /api/v1/data/{id}/check`: the last check's answer (204 when there is none);
//! - `GET /api/v1/version`.
//!
//! The data directory is only ever read. Reports go to the server's state directory, and no
//! answer names a path of the machine the server runs on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use diag_core::engine::CheckOptions;
use diag_core::pipeline::{self, CheckError, CheckRequest, ReportTarget};
use diag_core::report::{Format, Renderer, saved_line};
use diag_core::rules::RuleSet;
use serde::Deserialize;

use crate::catalog::{self, Container, Entry, Summary};

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
        header(self.headers, name)
    }

    fn wants_json(&self) -> bool {
        wants_json(self.headers)
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Whether the client asked for JSON (`Accept: application/json`); errors then come as JSON too.
pub fn wants_json(headers: &[(String, String)]) -> bool {
    header(headers, "accept").is_some_and(|a| a.to_ascii_lowercase().contains("application/json"))
}

/// A reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
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

    /// An error: `{"status": …, "error": "…"}` when the client wants JSON, else one line of text.
    pub fn error(status: u16, message: &str, json: bool) -> Reply {
        if json {
            Reply::json(
                status,
                &serde_json::json!({ "status": status, "error": message }),
            )
        } else {
            Reply::text(status, message)
        }
    }
}

/// A request that cannot be answered with what it asked for.
#[derive(Debug)]
struct ApiError {
    status: u16,
    message: String,
    headers: Vec<(String, String)>,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            headers: Vec::new(),
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
    /// Why it cannot be checked (a damaged archive, no `cluster.json`); absent when it can.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The bundles; never written.
    pub data_dir: PathBuf,
    /// The server's own files: `reports/<id>/report-…`.
    pub state_dir: PathBuf,
    /// Required bearer token, if any.
    pub token: Option<String>,
    /// Report directories kept per data set (0: all).
    pub keep_reports: usize,
}

/// What the server holds between requests.
pub struct State {
    config: Config,
    /// Absolute spellings of the data and state directories, longest first, cut out of every
    /// error message.
    private_prefixes: Vec<String>,
    rules: RuleSet,
    renderer: Renderer,
    /// One lock per data set: the same bundle checked twice at once runs one after the other.
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    last: Mutex<HashMap<String, CheckAnswer>>,
    /// Archive summaries by path, valid while the file keeps its size and mtime.
    listed: Mutex<HashMap<PathBuf, (FileStamp, Summary)>>,
}

/// An archive's size and mtime: while both stay, its summary does.
type FileStamp = (u64, Option<SystemTime>);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    #[serde(default = "default_types")]
    types: Vec<String>,
}

fn default_types() -> Vec<String> {
    vec!["config".into()]
}

/// The resources, and the methods each answers.
enum Route<'a> {
    Version,
    List,
    DataSet(&'a str),
    Check(&'a str),
}

impl Route<'_> {
    fn allow(&self) -> &'static str {
        match self {
            Route::Check(_) => "GET, POST",
            _ => "GET",
        }
    }
}

impl State {
    pub fn new(mut config: Config) -> State {
        config.token = config.token.filter(|t| !t.is_empty());
        let mut private_prefixes: Vec<String> = [&config.data_dir, &config.state_dir]
            .into_iter()
            .flat_map(|p| [Some(p.clone()), p.canonicalize().ok()])
            .flatten()
            .filter(|p| p.is_absolute() && p.parent().is_some())
            .map(|p| p.to_string_lossy().trim_end_matches('/').to_owned())
            .collect();
        private_prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        private_prefixes.dedup();
        State {
            config,
            private_prefixes,
            rules: RuleSet::builtin(),
            renderer: Renderer::new(),
            locks: Mutex::default(),
            last: Mutex::default(),
            listed: Mutex::default(),
        }
    }

    pub fn handle(&self, req: &Request<'_>) -> Reply {
        match self.route(req) {
            Ok(reply) => reply,
            Err(e) => {
                let mut reply = Reply::error(e.status, &self.redact(&e.message), req.wants_json());
                reply.headers.extend(e.headers);
                reply
            }
        }
    }

    fn route(&self, req: &Request<'_>) -> Result<Reply, ApiError> {
        self.authorize(req)?;
        let url_path = req.url.split(['?', '#']).next().unwrap_or("");
        let no_endpoint = || ApiError::new(404, format!("no such endpoint: {url_path}"));
        let rest = url_path.strip_prefix("/api/v1/").ok_or_else(no_endpoint)?;
        let segments: Vec<&str> = rest.split('/').collect();
        let route = match segments.as_slice() {
            ["version"] => Route::Version,
            ["data"] | ["data", ""] => Route::List,
            ["data", id] => Route::DataSet(id),
            ["data", id, "check"] => Route::Check(id),
            ["data", id, ..] => {
                // A path-like id (`data/../x`) is a bad id rather than an unknown endpoint.
                data_id(id)?;
                return Err(no_endpoint());
            }
            _ => return Err(no_endpoint()),
        };
        let allowed = route.allow();
        if !allowed.split(", ").any(|m| m == req.method) {
            let mut e = ApiError::new(
                405,
                format!(
                    "{} not allowed on {url_path} (allowed: {allowed})",
                    req.method
                ),
            );
            e.headers.push(("Allow".into(), allowed.into()));
            return Err(e);
        }
        match route {
            Route::Version => Ok(Reply::json(
                200,
                &serde_json::json!({ "version": env!("CARGO_PKG_VERSION"), "ruleSetVersion": self.rules.version() }),
            )),
            Route::List => Ok(Reply::json(200, &self.list())),
            Route::DataSet(raw) => {
                let entry = self.find(raw)?;
                Ok(Reply::json(200, &self.describe(&entry)))
            }
            Route::Check(raw) if req.method == "POST" => {
                let options = check_options(req.body)?;
                let entry = self.find(raw)?;
                self.check(&entry, &options, req)
            }
            Route::Check(raw) => {
                let entry = self.find(raw)?;
                Ok(match lock(&self.last).get(&entry.id) {
                    Some(answer) => answer_reply(answer, req),
                    None => Reply::empty(204),
                })
            }
        }
    }

    /// `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235 §2.1).
    fn authorize(&self, req: &Request<'_>) -> Result<(), ApiError> {
        let Some(token) = &self.config.token else {
            return Ok(());
        };
        let given = req
            .header("authorization")
            .and_then(|v| v.trim().split_once([' ', '\t']))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, t)| t.trim());
        if constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return Ok(());
        }
        let mut e = ApiError::new(401, "missing or wrong bearer token");
        e.headers.push(("WWW-Authenticate".into(), "Bearer".into()));
        Err(e)
    }

    fn find(&self, raw_id: &str) -> Result<Entry, ApiError> {
        let id = data_id(raw_id)?;
        catalog::scan(&self.config.data_dir)
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| ApiError::new(404, format!("no data set `{id}` in the data directory")))
    }

    fn list(&self) -> Vec<DataSet> {
        catalog::scan(&self.config.data_dir)
            .iter()
            .map(|e| self.describe(e))
            .collect()
    }

    fn describe(&self, entry: &Entry) -> DataSet {
        let summary = self.summary(entry);
        let date = summary
            .modified
            .and_then(|m| jiff::Timestamp::try_from(m).ok())
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        DataSet {
            id: entry.id.clone(),
            cluster_name: summary.cluster_name,
            size: summary.size,
            date,
            problem: summary.problem.map(|p| self.redact(&p)),
        }
    }

    /// An archive is summarized once per (size, mtime); a directory, whose files can change
    /// without its own mtime moving, every time (a walk of names and one small file).
    fn summary(&self, entry: &Entry) -> Summary {
        if entry.container == Container::Directory {
            return catalog::summarize(entry);
        }
        let stamp: Option<FileStamp> = std::fs::metadata(&entry.path)
            .map(|m| (m.len(), m.modified().ok()))
            .ok();
        if let Some(stamp) = stamp
            && let Some((cached, summary)) = lock(&self.listed).get(&entry.path)
            && *cached == stamp
        {
            return summary.clone();
        }
        let summary = catalog::summarize(entry);
        if let Some(stamp) = stamp {
            lock(&self.listed).insert(entry.path.clone(), (stamp, summary.clone()));
        }
        summary
    }

    fn check(
        &self,
        entry: &Entry,
        options: &CheckOptions,
        req: &Request<'_>,
    ) -> Result<Reply, ApiError> {
        if let Some(problem) = self.summary(entry).problem {
            return Err(ApiError::new(
                422,
                format!("cannot check `{}`: {problem}", entry.id),
            ));
        }
        let bundle_lock = lock(&self.locks)
            .entry(entry.id.clone())
            .or_default()
            .clone();
        let _held = lock(&bundle_lock);
        let reports = self.config.state_dir.join("reports").join(&entry.id);
        let checked = check_bundle(&entry.path, &reports, &self.rules, options, &self.renderer);
        // Deleted while it was being checked: whatever was read is a partial bundle (files
        // missing, or a load error for one), not an answer about the data set.
        if !entry.path.exists() {
            if let Ok(partial) = &checked {
                let _ = std::fs::remove_dir_all(&partial.dir);
            }
            return Err(ApiError::new(
                410,
                format!(
                    "data set `{}` was removed while it was being checked",
                    entry.id
                ),
            ));
        }
        let checked = checked.map_err(|e| match e {
            CheckError::Load(e) => ApiError::new(422, format!("cannot check `{}`: {e}", entry.id)),
            e => ApiError::new(500, format!("check of `{}` failed: {e}", entry.id)),
        })?;
        prune_reports(&reports, self.config.keep_reports);
        // diag answers "stdout:\n" + what `diag check` printed; the place is the state dir's.
        let shown = checked
            .dir
            .strip_prefix(&self.config.state_dir)
            .unwrap_or(&checked.dir);
        let answer = CheckAnswer {
            text: format!("stdout:\n{}\n{}\n", checked.text, saved_line(shown)),
            json: checked.json,
        };
        lock(&self.last).insert(entry.id.clone(), answer.clone());
        Ok(answer_reply(&answer, req))
    }

    /// Cuts the data and state directories out of a message: `diag-x.zip: …`, not `/srv/…`.
    fn redact(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for prefix in &self.private_prefixes {
            out = out.replace(&format!("{prefix}/"), "");
            // The directory itself, where it is not the start of a longer name.
            let mut rest = out.as_str();
            let mut kept = String::with_capacity(out.len());
            while let Some(at) = rest.find(prefix.as_str()) {
                let after = &rest[at + prefix.len()..];
                let whole = !after
                    .starts_with(|c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
                kept.push_str(&rest[..at]);
                kept.push_str(if whole { "." } else { prefix });
                rest = after;
            }
            kept.push_str(rest);
            out = kept;
        }
        out
    }
}

/// What one check answers with, and where its report went.
struct Checked {
    text: String,
    json: String,
    dir: PathBuf,
}

/// Runs one check of `bundle` through the pipeline and writes its report directory under
/// `reports` (never inside the bundle, with no links into it).
fn check_bundle(
    bundle: &Path,
    reports: &Path,
    rules: &RuleSet,
    options: &CheckOptions,
    renderer: &Renderer,
) -> Result<Checked, CheckError> {
    let mut request = CheckRequest::new(rules, renderer);
    request.selection = options.clone();
    request.formats = vec![Format::Text, Format::Json];
    let written =
        pipeline::check_and_write(bundle, &request, &ReportTarget::Under(reports.into()))?;
    let file = |f: Format| {
        written
            .checked
            .file(f.file_name())
            .unwrap_or_default()
            .to_string()
    };
    Ok(Checked {
        text: file(Format::Text),
        json: file(Format::Json),
        dir: written.dir,
    })
}

/// Keeps the newest `keep` report directories of one data set.
fn prune_reports(reports: &Path, keep: usize) {
    if keep == 0 {
        return;
    }
    let Ok(read) = std::fs::read_dir(reports) else {
        return;
    };
    let mut dirs: Vec<(Option<SystemTime>, String, PathBuf)> = read
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            (name.starts_with("report-") && catalog::is_report_dir_name(&name)).then(|| {
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                (modified, name, e.path())
            })
        })
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep);
    for (_, _, dir) in dirs.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn check_options(body: &[u8]) -> Result<CheckOptions, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        CheckBody {
            types: default_types(),
        }
    } else {
        serde_json::from_slice::<CheckBody>(body).map_err(|e| {
            ApiError::new(
                400,
                format!("malformed body: {e} (the body is {{\"types\": [\"config\"]}})"),
            )
        })?
    };
    let kinds = pipeline::parse_kinds(&body.types).map_err(|e| ApiError::new(400, e))?;
    Ok(CheckOptions {
        kinds,
        ..CheckOptions::default()
    })
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
fn data_id(raw: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::new(400, format!("bad data set id `{raw}`: {why}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_the_data_and_state_directories_but_nothing_else() {
        let state = State::new(Config {
            data_dir: PathBuf::from("/srv/data"),
            state_dir: PathBuf::from("/var/lib/diag-server"),
            token: None,
            keep_reports: 0,
        });
        assert_eq!(
            state.redact("/srv/data/diag-x.zip: invalid; /var/lib/diag-server/reports/x: full"),
            "diag-x.zip: invalid; reports/x: full"
        );
        assert_eq!(
            state.redact("cannot read /srv/data: gone"),
            "cannot read .: gone"
        );
        assert_eq!(
            state.redact("/srv/database/x and /srv/data.old"),
            "/srv/database/x and /srv/data.old"
        );
    }
}
