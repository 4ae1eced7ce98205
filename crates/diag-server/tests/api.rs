//! The real `diag-server` on a free loopback port, driven over HTTP with bounded requests.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

/// Bytes that do not compress (xorshift), so their place in a gzip stream is predictable.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every entry below `dir` (folders too): name, kind, size, mtime and a hash of the content.
fn fingerprint(dir: &Path) -> Vec<(String, bool, u64, std::time::SystemTime, u64)> {
    use std::hash::{DefaultHasher, Hasher};
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mut hasher = DefaultHasher::new();
            if meta.is_dir() {
                stack.push(path.clone());
            } else {
                hasher.write(&fs::read(&path).unwrap());
            }
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((
                rel,
                meta.is_dir(),
                meta.len(),
                meta.modified().unwrap(),
                hasher.finish(),
            ));
        }
    }
    let top = fs::metadata(dir).unwrap();
    out.push((String::new(), true, top.len(), top.modified().unwrap(), 0));
    out.sort();
    out
}

fn data_set<'a>(list: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("`{id}` is listed: {list}"))
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
    let dirs = server.reports("fPrz0RnDxRn");
    assert_eq!(dirs.len(), 1);
    let shown = dirs[0].strip_prefix(&server.state).unwrap();
    let expected = format!(
        "stdout:\n{SEED_REPORT}\nResult report and record are saved at {}\n",
        shown.display()
    );
    assert_eq!(r.body, expected);
    assert_eq!(
        fs::read_to_string(dirs[0].join("check-report.txt")).unwrap(),
        SEED_REPORT
    );

    let last = server.get("/api/v1/data/fPrz0RnDxRn/check");
    assert_eq!((last.status, last.body.as_str()), (200, expected.as_str()));

    let json_answer = server.request(
        "GET",
        "/api/v1/data/fPrz0RnDxRn/check",
        &[("Accept", "application/json")],
        "",
    );
    assert_eq!(json_answer.header("content-type"), Some("application/json"));
    let doc = json(&json_answer);
    assert_eq!(doc["summary"]["rules_executed"], 21);
    assert_eq!(doc["summary"]["rules_abnormal"], 3);
}

#[test]
fn data_sets_are_listed_and_described() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    let list = server.get("/api/v1/data");
    assert_eq!(list.status, 200);
    let sets = json(&list);
    let ids: Vec<_> = sets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["fPrz0RnDxRn", "mini"]);
    let set = json(&server.get("/api/v1/data/fPrz0RnDxRn"));
    assert!(set["clusterName"].as_str().unwrap().ends_with("basic"));
    assert!(set["size"].as_u64().unwrap() > 0);
    assert!(set["date"].as_str().unwrap().ends_with('Z'));
    assert!(set.get("problem").is_none(), "{set}");
    assert_eq!(
        json(&server.get("/api/v1/data/mini"))["clusterName"],
        "mini"
    );
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
    let before = fingerprint(data.path());
    assert_eq!(server.get("/api/v1/data/nope").status, 404);
    assert_eq!(server.post("/api/v1/data/nope/check", "{}").status, 404);
    assert_eq!(server.get("/api/v1/data/../x/check").status, 400);
    assert_eq!(server.get("/api/v1/data/..%2Fx/check").status, 400);
    assert_eq!(server.get("/api/v1/data/%2e%2e").status, 400);
    let malformed = server.post("/api/v1/data/mini/check", "{\"types\": ");
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.body.starts_with("malformed body"),
        "{}",
        malformed.body
    );
    let unknown = server.post("/api/v1/data/mini/check", r#"{"types": ["banana"]}"#);
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
    assert_eq!(server.post("/api/v1/data/mini/check", &huge).status, 413);
    assert!(
        server.reports("mini").is_empty(),
        "no bad request wrote a report"
    );
    assert_eq!(fingerprint(data.path()), before);
}

#[test]
fn a_token_is_required_when_set() {
    let data = data_dir();
    let server = Server::start(data.path(), &["--token", "s3cret"]);
    let missing = server.get("/api/v1/data");
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    for wrong in [
        "Bearer wrong",
        "Basic s3cret",
        "Bearers3cret",
        "s3cret",
        "Bearer",
    ] {
        let r = server.request("GET", "/api/v1/data", &[("Authorization", wrong)], "");
        assert_eq!(r.status, 401, "{wrong}");
    }
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
fn the_bearer_scheme_is_case_insensitive() {
    let data = data_dir();
    let server = Server::start(data.path(), &["--token", "s3cret"]);
    for given in ["bearer s3cret", "BEARER s3cret", "bEaReR   s3cret"] {
        let r = server.request("GET", "/api/v1/data", &[("Authorization", given)], "");
        assert_eq!(r.status, 200, "{given}: {}", r.body);
    }
    // The token itself is not.
    let r = server.request(
        "GET",
        "/api/v1/data",
        &[("Authorization", "bearer S3CRET")],
        "",
    );
    assert_eq!(r.status, 401);
}

#[test]
fn errors_are_json_when_the_client_asks_for_json() {
    let data = data_dir();
    let server = Server::start(data.path(), &["--token", "t"]);
    let accept = ("Accept", "application/json");
    let auth = ("Authorization", "Bearer t");
    let huge = "x".repeat(100 * 1024);
    let cases = [
        ("GET", "/api/v1/data", vec![accept], "", 401),
        ("GET", "/api/v1/data/nope", vec![accept, auth], "", 404),
        ("GET", "/api/v1/data/%2e%2e", vec![accept, auth], "", 400),
        ("DELETE", "/api/v1/data/mini", vec![accept, auth], "", 405),
        (
            "POST",
            "/api/v1/data/mini/check",
            vec![accept, auth],
            "{",
            400,
        ),
        (
            "POST",
            "/api/v1/data/mini/check",
            vec![accept, auth],
            &huge,
            413,
        ),
        ("GET", "/elsewhere", vec![accept, auth], "", 404),
    ];
    for (method, path, headers, body, status) in cases {
        let r = server.request(method, path, &headers, body);
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{method} {path}"
        );
        let doc = json(&r);
        assert_eq!(doc["status"], status);
        assert!(!doc["error"].as_str().unwrap().is_empty(), "{doc}");
    }
    // Without Accept, errors stay one line of text.
    let text = server.request("GET", "/api/v1/data/nope", &[auth], "");
    assert!(
        text.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(text.body, "no data set `nope` in the data directory\n");
}

#[test]
fn method_not_allowed_carries_allow() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    for (method, path, allow) in [
        ("DELETE", "/api/v1/data/mini", "GET"),
        ("POST", "/api/v1/data/mini", "GET"),
        ("PUT", "/api/v1/data/mini/check", "GET, POST"),
        ("DELETE", "/api/v1/data/mini/check", "GET, POST"),
        ("POST", "/api/v1/data", "GET"),
        ("POST", "/api/v1/version", "GET"),
    ] {
        let r = server.request(method, path, &[], "");
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
}

#[test]
fn a_body_with_unknown_fields_is_a_400_naming_the_field() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    let r = server.post(
        "/api/v1/data/mini/check",
        r#"{"types": ["config"], "typse": ["performance"]}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("unknown field `typse`"), "{}", r.body);
    assert!(server.reports("mini").is_empty());
}

#[test]
fn a_check_writes_nothing_into_the_bundle() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    let before = fingerprint(data.path());
    let list_before = server.get("/api/v1/data").body;
    for id in ["fPrz0RnDxRn", "mini", "fPrz0RnDxRn"] {
        let r = server.post(&format!("/api/v1/data/{id}/check"), "");
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(
        fingerprint(data.path()),
        before,
        "the data dir is as it was"
    );
    assert_eq!(server.reports("fPrz0RnDxRn").len(), 2);
    assert_eq!(server.reports("mini").len(), 1);
    // Sizes and dates describe the collected data, so checks do not move them.
    assert_eq!(server.get("/api/v1/data").body, list_before);
}

#[test]
fn data_set_size_and_date_ignore_reports_the_cli_wrote() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    let before = json(&server.get("/api/v1/data/mini"));
    std::thread::sleep(Duration::from_millis(20));
    let report = data.path().join("diag-mini/report-261201090459");
    fs::create_dir(&report).unwrap();
    fs::write(report.join("check-report.txt"), "x".repeat(5000)).unwrap();
    assert_eq!(json(&server.get("/api/v1/data/mini")), before);
}

#[test]
fn no_answer_reveals_a_server_path() {
    let data = data_dir();
    fs::write(data.path().join("diag-broken.zip"), b"not a zip at all").unwrap();
    fs::write(
        data.path().join("diag-broken2.tar.gz"),
        b"\x1f\x8b nor a tar.gz",
    )
    .unwrap();
    fs::create_dir(data.path().join("diag-empty")).unwrap();
    // Lists, but fails to load: the loader's error names the archive by its full path.
    let mut tail = tar_gz(&fixture("minimal"), &noise(1 << 20));
    let damage = tail.len() / 2;
    tail[damage..].fill(0xA5);
    fs::write(data.path().join("diag-tail.tar.gz"), &tail).unwrap();
    let server = Server::start(data.path(), &["--token", "t"]);
    let private: Vec<String> = [data.path(), server.state.as_path()]
        .iter()
        .flat_map(|p| [p.to_path_buf(), p.canonicalize().unwrap()])
        .map(|p| p.to_string_lossy().into_owned())
        .chain([std::env::temp_dir().to_string_lossy().into_owned()])
        .collect();
    let auth = ("Authorization", "Bearer t");
    let huge = "x".repeat(100 * 1024);
    let mut answers = Vec::new();
    for accept in ["text/plain", "application/json"] {
        let h = [auth, ("Accept", accept)];
        answers.extend([
            server.request("GET", "/api/v1/data", &[("Accept", accept)], ""),
            server.request("GET", "/api/v1/version", &h, ""),
            server.request("GET", "/api/v1/data", &h, ""),
            server.request("GET", "/api/v1/data/mini", &h, ""),
            server.request("GET", "/api/v1/data/broken", &h, ""),
            server.request("GET", "/api/v1/data/nope", &h, ""),
            server.request("GET", "/api/v1/data/%2e%2e", &h, ""),
            server.request("GET", "/nowhere", &h, ""),
            server.request("DELETE", "/api/v1/data/mini", &h, ""),
            server.request("POST", "/api/v1/data/mini/check", &h, "{"),
            server.request("POST", "/api/v1/data/mini/check", &h, &huge),
            server.request("POST", "/api/v1/data/mini/check", &h, r#"{"types":["x"]}"#),
            server.request("POST", "/api/v1/data/mini/check", &h, ""),
            server.request("GET", "/api/v1/data/mini/check", &h, ""),
            server.request("POST", "/api/v1/data/fPrz0RnDxRn/check", &h, ""),
            server.request("POST", "/api/v1/data/broken/check", &h, ""),
            server.request("POST", "/api/v1/data/broken2/check", &h, ""),
            server.request("POST", "/api/v1/data/empty/check", &h, ""),
            server.request("POST", "/api/v1/data/tail/check", &h, ""),
        ]);
    }
    for r in &answers {
        for p in &private {
            assert!(
                !r.body.contains(p.as_str()),
                "`{p}` in answer {}: {}",
                r.status,
                r.body
            );
            for (name, value) in &r.headers {
                assert!(
                    !value.contains(p.as_str()),
                    "`{p}` in header {name}: {value}"
                );
            }
        }
    }
    assert!(
        answers
            .iter()
            .any(|r| r.status == 200 && r.body.contains("saved at reports/"))
    );
    assert!(
        answers.iter().any(|r| r.status == 200
            && r.body
                .contains("diag-tail.tar.gz: unreadable tar.gz archive: ends early")),
        "the loader's warning names the archive, not its path"
    );
}

#[test]
fn a_corrupt_archive_is_listed_with_its_problem_and_checking_it_is_a_4xx() {
    let data = data_dir();
    fs::write(data.path().join("diag-broken.zip"), b"PK\x03\x04 truncated").unwrap();
    fs::write(
        data.path().join("diag-garbled.tar.gz"),
        b"\x1f\x8b\x08 garbled",
    )
    .unwrap();
    fs::create_dir(data.path().join("diag-empty")).unwrap();
    fs::write(
        data.path().join("diag-empty/notes.txt"),
        b"no cluster.json here",
    )
    .unwrap();
    let server = Server::start(data.path(), &[]);
    let list = json(&server.get("/api/v1/data"));
    for (id, file) in [
        ("broken", "diag-broken.zip"),
        ("garbled", "diag-garbled.tar.gz"),
        ("empty", "diag-empty"),
    ] {
        let set = data_set(&list, id);
        let problem = set["problem"].as_str().unwrap_or_else(|| panic!("{set}"));
        assert!(problem.starts_with(&format!("{file}: ")), "{problem}");
        assert_eq!(json(&server.get(&format!("/api/v1/data/{id}"))), *set);
        for accept in ["text/plain", "application/json"] {
            let r = server.request(
                "POST",
                &format!("/api/v1/data/{id}/check"),
                &[("Accept", accept)],
                "",
            );
            assert_eq!(r.status, 422, "{}", r.body);
            assert!(r.body.contains(file), "{}", r.body);
            if accept == "application/json" {
                assert_eq!(json(&r)["status"], 422);
            }
        }
    }
    assert!(data_set(&list, "mini").get("problem").is_none());
}

#[test]
fn report_dirs_the_cli_wrote_are_not_data_sets() {
    let data = data_dir();
    // What `diag-check diag-x.zip` and `diag-check diag-x.tar.gz` leave beside the archive.
    write_zip(&fixture("minimal"), &data.path().join("diag-x.zip"));
    for name in [
        "diag-x-report-261201090459",
        "diag-x-report-261201090459-1",
        ".diag-report-a1b2c3",
    ] {
        let dir = data.path().join(name);
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("check-report.txt"), SEED_REPORT).unwrap();
    }
    let server = Server::start(data.path(), &[]);
    let list = json(&server.get("/api/v1/data"));
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["fPrz0RnDxRn", "mini", "x"]);
    assert_eq!(data_set(&list, "x")["clusterName"], "mini");
    assert_eq!(server.get("/api/v1/data/x-report-261201090459").status, 404);
}

#[test]
fn listing_a_tar_gz_does_not_inflate_past_cluster_json() {
    let data = data_dir();
    // cluster.json first, then 4 MiB that do not compress, then damage: what lies past
    // cluster.json is never read by a listing.
    let mut bytes = tar_gz(&fixture("minimal"), &noise(4 << 20));
    let damage = bytes.len() / 2;
    bytes[damage..].fill(0xA5);
    fs::write(data.path().join("diag-tail.tar.gz"), &bytes).unwrap();
    // A zip whose big entry is damaged lists by its central directory and cluster.json alone.
    let mut zip = zip_of(&fixture("minimal"), &noise(4 << 20));
    let damage = zip.len() / 2;
    zip[damage..damage + 4096].fill(0xA5);
    fs::write(data.path().join("diag-z.zip"), &zip).unwrap();
    let server = Server::start(data.path(), &[]);
    let list = json(&server.get("/api/v1/data"));
    let tail = data_set(&list, "tail");
    assert_eq!(tail["clusterName"], "mini", "{tail}");
    assert!(tail.get("problem").is_none(), "{tail}");
    assert_eq!(tail["size"], bytes.len() as u64);
    assert_eq!(data_set(&list, "z")["clusterName"], "mini");
    // A check reads what comes before the damage and says the archive is damaged there.
    let r = server.post("/api/v1/data/tail/check", "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("diag-tail.tar.gz: unreadable tar.gz archive: ends early"),
        "{}",
        r.body
    );
}

#[test]
fn an_archive_replaced_in_place_is_listed_anew() {
    let data = data_dir();
    let archive = data.path().join("diag-z.zip");
    write_zip(&fixture("minimal"), &archive);
    let server = Server::start(data.path(), &[]);
    assert_eq!(json(&server.get("/api/v1/data/z"))["clusterName"], "mini");
    // The seed bundle under the same name: another size, so the cached summary is stale.
    write_zip(&fixture("diag-fPrz0RnDxRn"), &archive);
    let set = json(&server.get("/api/v1/data/z"));
    assert_eq!(set["clusterName"], "tidb-cluster/basic");
    assert_eq!(set["size"], fs::metadata(&archive).unwrap().len());
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
                s.spawn(move || server.post(&format!("/api/v1/data/{id}/check"), ""))
            })
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
    }
    for a in &answers[..2] {
        assert!(a.body.starts_with(&format!("stdout:\n{SEED_REPORT}")));
    }
    assert_ne!(
        answers[0].body, answers[1].body,
        "two report directories, two paths"
    );
    assert_eq!(server.reports("fPrz0RnDxRn").len(), 2);
    assert_eq!(server.reports("mini").len(), 1);
}

#[test]
fn a_hundred_checks_leave_the_data_dir_byte_identical() {
    let data = data_dir();
    write_zip(&fixture("minimal"), &data.path().join("diag-z.zip"));
    fs::write(
        data.path().join("diag-t.tar.gz"),
        tar_gz(&fixture("minimal"), b"a log line\n"),
    )
    .unwrap();
    let before = fingerprint(data.path());
    let server = Server::start(data.path(), &["--workers", "4", "--keep-reports", "3"]);
    let list_before = server.get("/api/v1/data").body;
    let ids = ["fPrz0RnDxRn", "mini", "z", "t"];
    std::thread::scope(|s| {
        for worker in 0..4 {
            let server = &server;
            s.spawn(move || {
                for n in 0..25 {
                    let id = ids[(worker + n) % ids.len()];
                    let accept = if n % 2 == 0 {
                        "application/json"
                    } else {
                        "text/plain"
                    };
                    let r = server.request(
                        "POST",
                        &format!("/api/v1/data/{id}/check"),
                        &[("Accept", accept)],
                        r#"{"types": ["config"]}"#,
                    );
                    assert_eq!(r.status, 200, "{id}: {}", r.body);
                    if n % 5 == 0 {
                        assert_eq!(server.get("/api/v1/data").status, 200);
                    }
                }
            });
        }
    });
    assert_eq!(
        fingerprint(data.path()),
        before,
        "the data dir is as it was"
    );
    assert_eq!(server.get("/api/v1/data").body, list_before);
    for id in ids {
        assert_eq!(
            server.reports(id).len(),
            3,
            "{id}: the newest three are kept"
        );
    }
}

#[test]
fn the_state_dir_defaults_to_the_users_state_dir() {
    let data = data_dir();
    let home = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(data.path(), &[], &[("XDG_STATE_HOME", home.path())]);
    assert_eq!(server.post("/api/v1/data/mini/check", "").status, 200);
    let reports = report_dirs(&home.path().join("diag-server/reports/mini"));
    assert_eq!(reports.len(), 1);
    assert!(reports[0].join("check-report.txt").is_file());
    assert!(reports[0].join("check-report.json").is_file());
}

#[test]
fn a_state_dir_inside_the_data_dir_is_refused() {
    let data = data_dir();
    let inside = data.path().join("state");
    let before = fingerprint(data.path());
    let out = Command::new(env!("CARGO_BIN_EXE_diag-server"))
        .arg("--data-dir")
        .arg(data.path())
        .arg("--state-dir")
        .arg(&inside)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("overlaps --data-dir"), "{stderr}");
    assert_eq!(
        fingerprint(data.path()),
        before,
        "nothing was created in it"
    );
}
