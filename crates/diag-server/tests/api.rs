//! The real `diag-server` on a free loopback port, driven over HTTP with bounded requests.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The seed report (see `fixtures/reports/README.md` for its origin).
const SEED_REPORT: &str =
    include_str!("../../../fixtures/reports/diag-fPrz0RnDxRn.check-report.txt");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            // Not the report directories a run of the README's sample command left in a fixture.
            if entry.file_name().to_string_lossy().starts_with("report-") {
                continue;
            }
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A data directory with the seed bundle (`diag-fPrz0RnDxRn`) and the minimal one (`diag-mini`).
fn data_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &fixture("diag-fPrz0RnDxRn"),
        &tmp.path().join("diag-fPrz0RnDxRn"),
    );
    copy_dir(&fixture("minimal"), &tmp.path().join("diag-mini"));
    tmp
}

/// The server process; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_diag-server"))
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("DIAG_SERVER_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("diag-server starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("diag-server listening on http://")
            .expect("listening line")
            .to_owned();
        // Keep draining the request log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in stderr.lines() {});
        Server { child, addr }
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.take(16 << 20).read_to_end(&mut raw).unwrap();
        Response::parse(&raw)
    }

    fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], "")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let text = String::from_utf8(raw.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect::<Vec<_>>();
        let body = if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Response {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn report_dirs(bundle: &Path) -> Vec<PathBuf> {
    fs::read_dir(bundle)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("report-")
        })
        .collect()
}

#[test]
fn the_seed_curl_example_answers_the_seed_report() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    // curl -s http://${host}:${port}/api/v1/data/${id}/check -XPOST -d '{"types": ["config"]}'
    let r = server.request(
        "POST",
        "/api/v1/data/fPrz0RnDxRn/check",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        r#"{"types": ["config"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let dirs = report_dirs(&data.path().join("diag-fPrz0RnDxRn"));
    assert_eq!(dirs.len(), 1);
    let expected = format!(
        "stdout:\n{SEED_REPORT}\nResult report and record are saved at {}\n",
        dirs[0].display()
    );
    assert_eq!(r.body, expected);

    let last = server.get("/api/v1/data/fPrz0RnDxRn/check");
    assert_eq!((last.status, last.body.as_str()), (200, expected.as_str()));

    let json = server.request(
        "GET",
        "/api/v1/data/fPrz0RnDxRn/check",
        &[("Accept", "application/json")],
        "",
    );
    assert_eq!(json.header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(doc["summary"]["rules_executed"], 21);
    assert_eq!(doc["summary"]["rules_abnormal"], 3);
}

#[test]
fn data_sets_are_listed_and_described() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    let list = server.get("/api/v1/data");
    assert_eq!(list.status, 200);
    let sets: serde_json::Value = serde_json::from_str(&list.body).unwrap();
    let ids: Vec<_> = sets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["fPrz0RnDxRn", "mini"]);
    let one = server.get("/api/v1/data/fPrz0RnDxRn");
    let set: serde_json::Value = serde_json::from_str(&one.body).unwrap();
    assert!(set["clusterName"].as_str().unwrap().ends_with("basic"));
    assert!(set["size"].as_u64().unwrap() > 0);
    assert!(set["date"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        server.get("/api/v1/data/mini/check").status,
        204,
        "no check yet"
    );
}

#[test]
fn bad_requests_get_clear_answers() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    assert_eq!(server.get("/api/v1/data/nope").status, 404);
    assert_eq!(
        server
            .request("POST", "/api/v1/data/nope/check", &[], "{}")
            .status,
        404
    );
    assert_eq!(server.get("/api/v1/data/../x/check").status, 400);
    assert_eq!(server.get("/api/v1/data/..%2Fx/check").status, 400);
    assert_eq!(server.get("/api/v1/data/%2e%2e").status, 400);
    let malformed = server.request("POST", "/api/v1/data/mini/check", &[], "{\"types\": ");
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.body.starts_with("malformed body"),
        "{}",
        malformed.body
    );
    let unknown = server.request(
        "POST",
        "/api/v1/data/mini/check",
        &[],
        r#"{"types": ["banana"]}"#,
    );
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("banana"));
    assert_eq!(
        server
            .request("DELETE", "/api/v1/data/mini", &[], "")
            .status,
        405
    );
    assert_eq!(server.get("/nowhere").status, 404);
    let huge = "x".repeat(100 * 1024);
    assert_eq!(
        server
            .request("POST", "/api/v1/data/mini/check", &[], &huge)
            .status,
        413
    );
    assert!(
        report_dirs(&data.path().join("diag-mini")).is_empty(),
        "no bad request wrote a report"
    );
}

#[test]
fn a_token_is_required_when_set() {
    let data = data_dir();
    let server = Server::start(data.path(), &["--token", "s3cret"]);
    assert_eq!(server.get("/api/v1/data").status, 401);
    assert_eq!(
        server
            .request(
                "GET",
                "/api/v1/data",
                &[("Authorization", "Bearer wrong")],
                ""
            )
            .status,
        401
    );
    assert_eq!(
        server
            .request(
                "GET",
                "/api/v1/data",
                &[("Authorization", "Bearer s3cret")],
                ""
            )
            .status,
        200
    );
}

#[test]
fn checks_run_concurrently_and_the_same_bundle_twice_is_safe() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    let answers: Vec<Response> = std::thread::scope(|s| {
        let jobs: Vec<_> = ["fPrz0RnDxRn", "fPrz0RnDxRn", "mini"]
            .into_iter()
            .map(|id| {
                let server = &server;
                s.spawn(move || {
                    server.request("POST", &format!("/api/v1/data/{id}/check"), &[], "")
                })
            })
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
    }
    assert!(
        answers[0]
            .body
            .starts_with(&format!("stdout:\n{SEED_REPORT}"))
    );
    assert!(
        answers[1]
            .body
            .starts_with(&format!("stdout:\n{SEED_REPORT}"))
    );
    assert_ne!(
        answers[0].body, answers[1].body,
        "two report directories, two paths"
    );
    assert_eq!(report_dirs(&data.path().join("diag-fPrz0RnDxRn")).len(), 2);
    assert_eq!(report_dirs(&data.path().join("diag-mini")).len(), 1);
}
