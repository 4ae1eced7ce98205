//! What the diag-server end-to-end tests share: fixtures copied into temporary data
//! directories, the real binary on a free loopback port, and bounded HTTP requests to it.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)] // each test file uses a part

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The seed report (see `fixtures/reports/README.md` for its origin).
pub const SEED_REPORT: &str =
    include_str!("../../../../fixtures/reports/diag-fPrz0RnDxRn.check-report.txt");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

pub fn copy_dir(from: &Path, to: &Path) {
    diag_core::testing::copy_bundle(from, to).unwrap();
}

/// A data directory with the seed bundle (`diag-fPrz0RnDxRn`) and the minimal one (`diag-mini`).
pub fn data_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &fixture("diag-fPrz0RnDxRn"),
        &tmp.path().join("diag-fPrz0RnDxRn"),
    );
    copy_dir(&fixture("minimal"), &tmp.path().join("diag-mini"));
    tmp
}

/// The server process; killed when dropped. Unless the test gives `--state-dir`, its state
/// directory is a temporary one of its own.
pub struct Server {
    child: Mutex<Child>,
    pub addr: String,
    pub state: PathBuf,
    /// Every line the server wrote on stderr after its listening line.
    pub log: Arc<Mutex<Vec<String>>>,
    _state_tmp: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(data, extra, &[])
    }

    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Server {
        let (state, state_tmp) = match extra.iter().position(|a| *a == "--state-dir") {
            Some(i) => (PathBuf::from(extra[i + 1]), None),
            None if env.is_empty() => {
                let tmp = tempfile::tempdir().unwrap();
                (tmp.path().to_path_buf(), Some(tmp))
            }
            None => (PathBuf::new(), None),
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_diag-server"));
        command
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("DIAG_SERVER_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if state_tmp.is_some() {
            command.arg("--state-dir").arg(&state);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("diag-server starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("diag-server listening on http://")
            .unwrap_or_else(|| panic!("listening line, got {line:?}"))
            .to_owned();
        // Keep draining the request log so the server never blocks on a full pipe.
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Server {
            child: Mutex::new(child),
            addr,
            state,
            log,
            _state_tmp: state_tmp,
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        let mut stream = self.connect();
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

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], "")
    }

    pub fn post(&self, path: &str, body: &str) -> Response {
        self.request("POST", path, &[], body)
    }

    /// A raw connection to the server, with bounded reads and writes.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// Sends a signal to the server (by its pid, with `kill`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits at most `limit` for the server to exit; its exit code, or None if still running.
    pub fn wait_exit(&self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A `VmHWM`/`VmRSS`-style field of `/proc/<pid>/status`, in KiB (Linux only).
    pub fn proc_status_kib(&self, field: &str) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The lines logged so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The report directories of one data set in the state directory.
    pub fn reports(&self, id: &str) -> Vec<PathBuf> {
        report_dirs(&self.state.join("reports").join(id))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn parse(raw: &[u8]) -> Response {
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

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn dechunk(mut s: &str) -> String {
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

pub fn report_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = read
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("report-")
        })
        .collect();
    dirs.sort();
    dirs
}

pub fn json(r: &Response) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

/// Every file of `dir` in archive order: bundle-relative name and path.
pub fn files_under(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, path));
            }
        }
    }
    // cluster.json first, as diag writes it and as a listing hopes to find it.
    out.sort_by_key(|(rel, _)| (rel != "cluster.json", rel.clone()));
    out
}

pub fn write_zip(src: &Path, dest: &Path) {
    fs::write(dest, zip_of(src, b"")).unwrap();
}

/// A zip of `src`, then `trailing` as one more file (`big.log`).
pub fn zip_of(src: &Path, trailing: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (rel, path) in files_under(src) {
        zip.start_file(rel, options).unwrap();
        zip.write_all(&fs::read(path).unwrap()).unwrap();
    }
    zip.start_file("big.log", options).unwrap();
    zip.write_all(trailing).unwrap();
    zip.finish().unwrap().into_inner()
}

/// A tar.gz of `src`, then `trailing` as one more file (`big.log`).
pub fn tar_gz(src: &Path, trailing: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (rel, path) in files_under(src) {
        tar.append_path_with_name(path, rel).unwrap();
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(trailing.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "big.log", trailing).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}
