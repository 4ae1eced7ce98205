//! `diag-server`: diag's check HTTP API over a directory of bundles.
//!
//! Thin by design: argument parsing, HTTP IO and routing; loading, checking and rendering are
//! diag_core's, as for `diag-check <bundle>`. The data directory is only ever read; reports go
//! to the server's state directory.

mod api;
mod catalog;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

/// Serve diag's check API (`/api/v1/data`, `/api/v1/data/{id}/check`) over the bundles in a
/// directory: each `diag-<id>/` folder, `diag-<id>.zip` or `diag-<id>.tar.gz`.
#[derive(Debug, Parser)]
#[command(name = "diag-server", version)]
struct Args {
    /// The directory holding the bundles. It is only ever read.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,

    /// Where the server keeps its own files (reports of checks, under `reports/<id>/`). Must not
    /// be inside --data-dir. Default: `$XDG_STATE_HOME/diag-server`, else
    /// `~/.local/state/diag-server`, else `diag-server` in the temporary directory.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Report directories kept per data set; older ones are removed (0 keeps all).
    #[arg(long, value_name = "N", default_value_t = 10)]
    keep_reports: usize,

    /// Address to listen on. Loopback by default; port 0 picks a free port (printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4917")]
    listen: SocketAddr,

    /// Require `Authorization: Bearer <TOKEN>` on every request.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "DIAG_SERVER_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// Requests served at once (checks of different bundles run concurrently).
    #[arg(long, value_name = "N", default_value_t = 4)]
    workers: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.data_dir.is_dir() {
        eprintln!(
            "diag-server: --data-dir {}: not a directory",
            args.data_dir.display()
        );
        return ExitCode::from(2);
    }
    let state_dir = args.state_dir.clone().unwrap_or_else(default_state_dir);
    if let Err(e) = check_state_dir(&args.data_dir, &state_dir) {
        eprintln!("diag-server: --state-dir {}: {e}", state_dir.display());
        return ExitCode::from(2);
    }
    let server = match tiny_http::Server::http(args.listen) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("diag-server: listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let state = Arc::new(api::State::new(api::Config {
        data_dir: args.data_dir,
        state_dir,
        token: args.token,
        keep_reports: args.keep_reports,
    }));
    match server.server_addr().to_ip() {
        Some(addr) => eprintln!("diag-server listening on http://{addr}"),
        None => eprintln!("diag-server listening"),
    }
    let workers: Vec<_> = (0..args.workers.max(1))
        .map(|_| {
            let server = server.clone();
            let state = state.clone();
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    serve(&state, request);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    ExitCode::SUCCESS
}

/// `$XDG_STATE_HOME/diag-server`, else `$HOME/.local/state/diag-server`, else the temporary
/// directory's `diag-server`: somewhere nobody reads as data.
fn default_state_dir() -> PathBuf {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    from_env("XDG_STATE_HOME")
        .or_else(|| from_env("HOME").map(|home| home.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("diag-server")
}

/// Makes sure checks cannot write into the data (neither directory may hold the other), then
/// creates the state directory.
fn check_state_dir(data_dir: &std::path::Path, state_dir: &std::path::Path) -> Result<(), String> {
    let data = data_dir.canonicalize().map_err(|e| e.to_string())?;
    let state = canonical_to_be(state_dir).map_err(|e| e.to_string())?;
    if state.starts_with(&data) || data.starts_with(&state) {
        return Err(format!(
            "overlaps --data-dir {}; the server never writes into its data, give a state directory outside it",
            data_dir.display()
        ));
    }
    std::fs::create_dir_all(state_dir).map_err(|e| e.to_string())
}

/// The canonical form `path` will have once created: its nearest existing ancestor
/// canonicalized, then the rest.
fn canonical_to_be(path: &std::path::Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize()?;
    out.extend(rest.iter().rev());
    Ok(out)
}

/// Reads one request (body bounded), routes it, writes the reply.
fn serve(state: &api::State, mut request: tiny_http::Request) {
    let method = request.method().as_str().to_owned();
    let url = request.url().to_owned();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    let json = api::wants_json(&headers);
    let reply = match read_body(&mut request, json) {
        Ok(body) => state.handle(&api::Request {
            method: &method,
            url: &url,
            headers: &headers,
            body: &body,
        }),
        Err(reply) => reply,
    };
    eprintln!("{method} {url} -> {}", reply.status);
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    for (name, value) in reply.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    let _ = request.respond(response);
}

fn read_body(request: &mut tiny_http::Request, json: bool) -> Result<Vec<u8>, api::Reply> {
    use std::io::Read;
    if request.body_length().is_some_and(|n| n > api::MAX_BODY) {
        return Err(api::Reply::error(
            413,
            &format!("request body over {} bytes", api::MAX_BODY),
            json,
        ));
    }
    let mut body = Vec::new();
    let limit = api::MAX_BODY as u64 + 1;
    if let Err(e) = request.as_reader().take(limit).read_to_end(&mut body) {
        return Err(api::Reply::error(
            400,
            &format!("reading the request body: {e}"),
            json,
        ));
    }
    if body.len() > api::MAX_BODY {
        return Err(api::Reply::error(
            413,
            &format!("request body over {} bytes", api::MAX_BODY),
            json,
        ));
    }
    Ok(body)
}
