//! `diag-server` under load and faults, over loopback: many concurrent checks answer what a
//! lone check answers, and slow, oversized, vanishing and interrupted clients, a bundle deleted
//! mid-check and SIGTERM cost only the request concerned.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::*;

/// The fixtures the load data sets are copied from: small ones of every layout.
const BASES: [&str; 5] = [
    "minimal",
    "diag-operator-faults",
    "diag-binlog-drainers",
    "diag-fPrz0RnDxRn",
    "diag-system-healthy",
];

/// `count` data sets `load00`…: copies of [`BASES`] in turn, each with its own cluster name
/// (`load-<n>`, so every answer differs), stored as a directory, a zip and a tar.gz in turn.
fn load_data(count: usize) -> (tempfile::TempDir, Vec<String>) {
    let data = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for n in 0..count {
        let id = format!("load{n:02}");
        let src = staging.path().join(&id);
        copy_dir(&fixture(BASES[n % BASES.len()]), &src);
        let cluster = src.join("cluster.json");
        let mut doc: serde_json::Value =
            serde_json::from_slice(&fs::read(&cluster).unwrap()).unwrap();
        doc["cluster_name"] = format!("load-{n}").into();
        fs::write(&cluster, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        match n % 3 {
            0 => copy_dir(&src, &data.path().join(format!("diag-{id}"))),
            1 => write_zip(&src, &data.path().join(format!("diag-{id}.zip"))),
            _ => fs::write(
                data.path().join(format!("diag-{id}.tar.gz")),
                tar_gz(&src, b""),
            )
            .unwrap(),
        }
        ids.push(id);
    }
    (data, ids)
}

/// What a check answered, less what legitimately differs between two checks of one bundle:
/// the text answer's last line names the check's own report directory
/// (`…saved at reports/<id>/report-YYMMDDhhmmss[-N]`). The JSON answer has no such field and
/// is kept whole.
fn comparable(id: &str, json: bool, r: &Response) -> String {
    assert_eq!(r.status, 200, "{id}: {}", r.body);
    if json {
        return r.body.clone();
    }
    let body = r.body.strip_suffix('\n').unwrap();
    let (report, saved) = body.rsplit_once('\n').unwrap();
    let dir = saved
        .strip_prefix(&format!(
            "Result report and record are saved at reports/{id}/report-"
        ))
        .unwrap_or_else(|| panic!("{id}: last line {saved:?}"));
    assert!(
        dir.bytes().all(|b| b.is_ascii_digit() || b == b'-'),
        "{id}: {saved}"
    );
    report.to_owned()
}

fn check(server: &Server, id: &str, json: bool) -> Response {
    let accept = if json {
        "application/json"
    } else {
        "text/plain"
    };
    server.request(
        "POST",
        &format!("/api/v1/data/{id}/check"),
        &[("Accept", accept)],
        r#"{"types": ["config"]}"#,
    )
}

/// Each bundle's answers (text, JSON) to a check with nothing else running, and how long
/// each took.
fn lone_answers(server: &Server, ids: &[String]) -> (Vec<[String; 2]>, Vec<Duration>) {
    let mut took = Vec::new();
    let answers: Vec<[String; 2]> = ids
        .iter()
        .map(|id| {
            [false, true].map(|json| {
                let asked = Instant::now();
                let r = check(server, id, json);
                took.push(asked.elapsed());
                comparable(id, json, &r)
            })
        })
        .collect();
    for (i, a) in answers.iter().enumerate() {
        for (j, b) in answers.iter().enumerate().skip(i + 1) {
            assert_ne!(a, b, "{} and {} answer alike", ids[i], ids[j]);
        }
    }
    took.sort();
    (answers, took)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `clients` connections at once (released together), each running `per_client` checks in
/// turn over the bundles, alternating text and JSON. Every answer must be the lone one; prints
/// the latency percentiles and the server's peak RSS.
fn run_load(bundles: usize, clients: usize, per_client: usize) {
    let (data, ids) = load_data(bundles);
    let workers = WORKERS.to_string();
    let server = Server::start(data.path(), &["--keep-reports", "0", "--workers", &workers]);
    let (lone, lone_took) = lone_answers(&server, &ids);
    let rss_idle = server.proc_status_kib("VmHWM");
    let gate = Barrier::new(clients);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let jobs: Vec<_> = (0..clients)
            .map(|c| {
                let (server, ids, lone, gate) = (&server, &ids, &lone, &gate);
                s.spawn(move || {
                    gate.wait();
                    (0..per_client)
                        .map(|n| {
                            let k = c * per_client + n;
                            let (b, json) = (k % ids.len(), (k / ids.len()) % 2 == 1);
                            let asked = Instant::now();
                            let r = check(server, &ids[b], json);
                            let took = asked.elapsed();
                            assert_eq!(
                                comparable(&ids[b], json, &r),
                                lone[b][usize::from(json)],
                                "{} (json: {json}) under load answers as alone",
                                ids[b]
                            );
                            took
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        jobs.into_iter().flat_map(|j| j.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let checks = clients * per_client;
    // Every check wrote its own report directory; none was overwritten or lost.
    for (b, id) in ids.iter().enumerate() {
        let mine = (0..checks).filter(|k| k % ids.len() == b).count();
        assert_eq!(server.reports(id).len(), mine + 2, "{id}");
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mib = |kib: Option<u64>| kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "load: {checks} checks of {bundles} bundles, {clients} clients at once, {} workers: \
         wall {:.1} s, latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (a lone check: p50 \
         {:.0} ms, max {:.0} ms); server peak RSS (VmHWM) {:.1} MiB ({:.1} MiB after the lone \
         checks); loadavg {}",
        WORKERS,
        wall.as_secs_f64(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(*latencies.last().unwrap()),
        ms(percentile(&lone_took, 50.0)),
        ms(*lone_took.last().unwrap()),
        mib(server.proc_status_kib("VmHWM")),
        mib(rss_idle),
        load.split(' ').take(3).collect::<Vec<_>>().join(" "),
    );
}

#[test]
fn two_hundred_concurrent_checks_of_twenty_bundles_answer_as_each_alone() {
    run_load(20, 200, 1);
}

/// The figures in the README: `cargo test --release -p diag-server --test load -- --ignored
/// --nocapture`.
#[test]
#[ignore = "a few minutes; run by hand for the README's figures"]
fn two_thousand_checks_by_two_hundred_clients() {
    run_load(20, 200, 10);
}

/// Writes `bytes` one at a time, `gap` apart, until done, a write fails or `stop` is set.
/// Returns how many were written and whether a write failed.
fn drip(stream: &mut TcpStream, bytes: &[u8], gap: Duration, stop: &AtomicBool) -> (usize, bool) {
    for (n, b) in bytes.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            return (n, false);
        }
        if stream.write_all(&[*b]).is_err() {
            return (n, true);
        }
        std::thread::sleep(gap);
    }
    (bytes.len(), false)
}

#[test]
fn clients_sending_a_byte_a_second_do_not_block_others() {
    let data = data_dir();
    // Fewer workers than slow clients: none of them may hold one.
    let server = Server::start(data.path(), &["--workers", "2", "--timeout", "120"]);
    let lone = server.post("/api/v1/data/mini/check", "").body;
    let body = r#"{"types": ["config"]}"#;
    // Even ones send the head a byte a second; odd ones the head at once, then the body a
    // byte a second (a request a worker would wait on if it read the body itself).
    let head = format!(
        "POST /api/v1/data/mini/check HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let requests: Vec<(&[u8], &[u8])> = (0..6)
        .map(|k| {
            if k % 2 == 0 {
                (&b""[..], head.as_bytes())
            } else {
                (head.as_bytes(), body.as_bytes())
            }
        })
        .collect();
    let stop = AtomicBool::new(false);
    let served = AtomicBool::new(false);
    std::thread::scope(|s| {
        let slow: Vec<_> = requests
            .iter()
            .enumerate()
            .map(|(k, &(at_once, bytes))| {
                let (server, stop, served) = (&server, &stop, &served);
                s.spawn(move || {
                    let mut stream = server.connect();
                    stream.write_all(at_once).unwrap();
                    let (sent, failed) = drip(&mut stream, bytes, Duration::from_secs(1), stop);
                    assert!(!failed, "slow client {k}: the server dropped it");
                    assert!(
                        sent < bytes.len() || !served.load(Ordering::SeqCst),
                        "slow client {k} finished before the others were served"
                    );
                })
            })
            .collect();
        // Give every slow client time to be accepted and send its first bytes.
        std::thread::sleep(Duration::from_millis(1500));
        for _ in 0..4 {
            let r = server.post("/api/v1/data/mini/check", "");
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(
                comparable("mini", false, &r),
                comparable(
                    "mini",
                    false,
                    &Response {
                        status: 200,
                        headers: Vec::new(),
                        body: lone.clone()
                    }
                )
            );
            assert_eq!(server.get("/api/v1/data").status, 200);
        }
        served.store(true, Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        for t in slow {
            t.join().unwrap();
        }
    });
}

/// Reads a whole answer from a raw connection.
fn answer(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    let _ = stream.take(16 << 20).read_to_end(&mut raw);
    Response::parse(&raw)
}

#[test]
fn a_request_not_sent_within_the_timeout_is_a_408() {
    let data = data_dir();
    let server = Server::start(data.path(), &["--timeout", "1"]);
    let mut stalled_head = server.connect();
    stalled_head.write_all(b"GET /api/v1/da").unwrap();
    let r = answer(&mut stalled_head);
    assert_eq!(r.status, 408, "{}", r.body);
    assert!(r.body.contains("did not arrive within 1 s"), "{}", r.body);

    let mut stalled_body = server.connect();
    stalled_body
        .write_all(b"POST /api/v1/data/mini/check HTTP/1.1\r\nAccept: application/json\r\nContent-Length: 30\r\n\r\n{\"ty")
        .unwrap();
    let r = answer(&mut stalled_body);
    assert_eq!(r.status, 408, "{}", r.body);
    assert_eq!(json(&r)["status"], 408, "JSON as asked");
    assert_eq!(server.post("/api/v1/data/mini/check", "").status, 200);
}

/// Sends `head` and `body` (ignoring write errors: the server may answer and close first),
/// then reads the answer.
fn send_raw(server: &Server, head: &[u8], body: &[u8]) -> Response {
    let mut stream = server.connect();
    let _ = stream.write_all(head).and_then(|()| stream.write_all(body));
    answer(&mut stream)
}

#[test]
fn oversized_heads_and_bodies_are_refused_clearly_in_bounded_memory() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    let big_header = format!(
        "GET /api/v1/data HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 << 10)
    );
    let r = send_raw(&server, big_header.as_bytes(), b"");
    assert_eq!(r.status, 431, "{}", r.body);
    assert!(
        r.body.contains("request head over 16384 bytes"),
        "{}",
        r.body
    );

    let many = format!(
        "GET /api/v1/data HTTP/1.1\r\n{}\r\n",
        (0..101)
            .map(|n| format!("X-{n}: y\r\n"))
            .collect::<String>()
    );
    let r = send_raw(&server, many.as_bytes(), b"");
    assert_eq!(r.status, 431, "{}", r.body);
    assert!(r.body.contains("more than 100 header fields"), "{}", r.body);

    // Refused from the Content-Length alone, before a byte of the body.
    let r = send_raw(
        &server,
        b"POST /api/v1/data/mini/check HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n",
        b"",
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.body.contains("request body over 65536 bytes"),
        "{}",
        r.body
    );
    let body = vec![b' '; 100 << 10];
    let r = send_raw(
        &server,
        format!(
            "POST /api/v1/data/mini/check HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
        &body,
    );
    assert_eq!(r.status, 413, "{}", r.body);
    let chunked: Vec<u8> = [
        b"POST /api/v1/data/mini/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        format!("{:x}\r\n", body.len()).into_bytes(),
        body.clone(),
        b"\r\n0\r\n\r\n".to_vec(),
    ]
    .concat();
    let r = send_raw(&server, &chunked, b"");
    assert_eq!(r.status, 413, "{}", r.body);
    // A small chunked body is read.
    let r = send_raw(
        &server,
        b"POST /api/v1/data/mini/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"ty\r\n11\r\npes\": [\"config\"]}\r\n0\r\n\r\n",
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // Forty clients at once each sending 4 MiB of header: the server reads 16 KiB of each.
    let before = server.proc_status_kib("VmHWM");
    let flood = format!(
        "GET /api/v1/data HTTP/1.1\r\nX-Big: {}",
        "a".repeat(4 << 20)
    );
    std::thread::scope(|s| {
        for _ in 0..40 {
            let (server, flood) = (&server, &flood);
            s.spawn(move || {
                let mut stream = server.connect();
                let _ = stream.write_all(flood.as_bytes());
                let _ = stream.shutdown(Shutdown::Write);
                let mut sink = Vec::new();
                let _ = stream.read_to_end(&mut sink);
            });
        }
    });
    let after = server.proc_status_kib("VmHWM");
    if let (Some(before), Some(after)) = (before, after) {
        eprintln!("header flood: peak RSS {before} KiB -> {after} KiB");
        assert!(
            after - before < 16 << 10,
            "160 MiB of headers grew the peak RSS from {before} KiB to {after} KiB"
        );
    }
    assert_eq!(server.get("/api/v1/data").status, 200);
}

#[test]
fn clients_that_disconnect_mid_request_or_mid_response_cost_only_themselves() {
    let data = data_dir();
    let server = Server::start(data.path(), &["--workers", "2"]);
    let lone = comparable("fPrz0RnDxRn", true, &check(&server, "fPrz0RnDxRn", true));
    let request = b"POST /api/v1/data/fPrz0RnDxRn/check HTTP/1.1\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n";
    std::thread::scope(|s| {
        for k in 0..30 {
            let server = &server;
            s.spawn(move || {
                let mut stream = server.connect();
                match k % 3 {
                    // Reads the first bytes of the answer, then closes with the rest unread.
                    0 => {
                        stream.write_all(request).unwrap();
                        let mut first = [0u8; 64];
                        stream.read_exact(&mut first).unwrap();
                        assert!(first.starts_with(b"HTTP/1.1 200 OK"));
                    }
                    // Asks, and is gone before the check ends.
                    1 => {
                        stream.write_all(request).unwrap();
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                    // Gone halfway through its head.
                    _ => {
                        stream.write_all(&request[..40]).unwrap();
                    }
                }
            });
        }
    });
    // Others are answered in full, as before.
    let r = check(&server, "fPrz0RnDxRn", true);
    assert_eq!(comparable("fPrz0RnDxRn", true, &r), lone);
    assert!(server.wait_exit(Duration::ZERO).is_none(), "still running");
}

/// A tar.gz of `src` whose `filler.bin` (text nothing reads, `filler` bytes) comes right
/// after `cluster.json`: a check streams through it before reaching the configs, so the
/// archive stays open for a while.
fn slow_tar_gz(src: &Path, filler: usize) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let files = files_under(src);
    tar.append_path_with_name(&files[0].1, &files[0].0).unwrap();
    // Numbered lines: they compress as text does (a repeated line would pass the loader's
    // compression-ratio limit), and a MiB of them repeated looks no different to deflate.
    let block: String = (0..)
        .map(|n| format!("{n:08} filler: nothing in a check reads this file\n"))
        .scan(0, |len, line| {
            *len += line.len();
            (*len <= 1 << 20).then_some(line)
        })
        .collect();
    let mut text = block.as_bytes().repeat(filler.div_ceil(block.len()));
    text.truncate(filler);
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "filler.bin", text.as_slice())
        .unwrap();
    for (rel, path) in &files[1..] {
        tar.append_path_with_name(path, rel).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// Waits until the server process has `path` open (a check is reading it).
fn wait_until_open(server: &Server, path: &Path) {
    let fds = PathBuf::from(format!("/proc/{}/fd", server.pid()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t == path))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the server never opened {}", path.display());
}

/// 128 MiB of filler: a check streams through it in about a second.
const FILLER: usize = 128 << 20;

/// Workers of the load runs (the server's default).
const WORKERS: usize = 4;

#[test]
fn a_bundle_deleted_while_being_checked_is_a_410_and_nothing_else_is_affected() {
    let data = data_dir();
    let archive = data.path().join("diag-doomed.tar.gz");
    fs::write(&archive, slow_tar_gz(&fixture("minimal"), FILLER)).unwrap();
    let archive = archive.canonicalize().unwrap();
    let server = Server::start(data.path(), &["--workers", "3"]);
    let lone = comparable(
        "fPrz0RnDxRn",
        false,
        &server.post("/api/v1/data/fPrz0RnDxRn/check", ""),
    );
    std::thread::scope(|s| {
        let doomed = s.spawn(|| server.post("/api/v1/data/doomed/check", ""));
        let others: Vec<_> = (0..4)
            .map(|_| s.spawn(|| server.post("/api/v1/data/fPrz0RnDxRn/check", "")))
            .collect();
        // The listing reads the archive up to cluster.json, the check through the filler.
        // Either way the data set is gone before the check ends.
        wait_until_open(&server, &archive);
        fs::remove_file(&archive).unwrap();
        let r = doomed.join().unwrap();
        assert_eq!(r.status, 410, "{}", r.body);
        assert_eq!(
            r.body,
            "data set `doomed` was removed while it was being checked\n"
        );
        for o in others {
            assert_eq!(comparable("fPrz0RnDxRn", false, &o.join().unwrap()), lone);
        }
    });
    assert!(
        server.reports("doomed").is_empty(),
        "no report of a half-read bundle"
    );
    assert_eq!(server.get("/api/v1/data/doomed").status, 404);
    assert_eq!(server.post("/api/v1/data/mini/check", "").status, 200);
}

/// What the client of the SIGTERM test sends a byte every 300 ms: 12 s in all.
const DRIPPED: &[u8] = b"GET /api/v1/data HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn sigterm_finishes_the_checks_in_flight_and_exits_within_10_s() {
    let data = data_dir();
    let archive = data.path().join("diag-slow.tar.gz");
    fs::write(&archive, slow_tar_gz(&fixture("minimal"), FILLER)).unwrap();
    let archive = archive.canonicalize().unwrap();
    let server = Server::start(data.path(), &[]);
    let stop = AtomicBool::new(false);
    let slow_sent = AtomicUsize::new(0);
    // A client still sending its request when the signal comes. It connects before the check
    // is asked for, so it is accepted before the check starts.
    let mut stream = server.connect();
    let (in_flight, dripping) = std::thread::scope(|s| {
        let dripping = s.spawn(|| {
            let (sent, _) = drip(&mut stream, DRIPPED, Duration::from_millis(300), &stop);
            slow_sent.store(sent, Ordering::SeqCst);
            answer(&mut stream)
        });
        let in_flight = s.spawn(|| server.post("/api/v1/data/slow/check", ""));
        wait_until_open(&server, &archive);
        server.signal("TERM");
        let sent_at = Instant::now();
        let exit = server.wait_exit(Duration::from_secs(10));
        let took = sent_at.elapsed();
        stop.store(true, Ordering::SeqCst);
        eprintln!("sigterm: exited {took:?} after the signal");
        assert!(
            exit.is_some_and(|e| e.success()),
            "exit {exit:?} within 10 s (took {took:?})"
        );
        (in_flight.join().unwrap(), dripping.join().unwrap())
    });
    assert_eq!(in_flight.status, 200, "{}", in_flight.body);
    assert!(
        in_flight.body.starts_with("stdout:\n")
            && in_flight.body.contains("saved at reports/slow/"),
        "{}",
        in_flight.body
    );
    assert_eq!(server.reports("slow").len(), 1);
    assert_eq!(dripping.status, 503, "{}", dripping.body);
    assert!(
        slow_sent.load(Ordering::SeqCst) < DRIPPED.len(),
        "answered mid-request"
    );
    assert!(
        TcpStream::connect(&server.addr).is_err(),
        "no longer listening"
    );
    let log = server.log_lines().join("\n");
    assert!(log.contains("finishing the requests in flight"), "{log}");
    assert!(log.contains("diag-server: stopped"), "{log}");
}

#[test]
fn a_client_expecting_100_continue_gets_it_before_sending_its_body() {
    let data = data_dir();
    let server = Server::start(data.path(), &[]);
    let body = br#"{"types": ["config"]}"#;
    let mut stream = server.connect();
    stream
        .write_all(
            format!(
                "POST /api/v1/data/mini/check HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(body).unwrap();
    let r = answer(&mut stream);
    assert_eq!(r.status, 200, "{}", r.body);

    let r = send_raw(
        &server,
        b"POST /api/v1/data/mini/check HTTP/1.1\r\nExpect: something-else\r\n\r\n",
        b"",
    );
    assert_eq!(r.status, 417, "{}", r.body);
}
