//! `diag-server`: diag's check HTTP API over a directory of bundles.
//!
//! Thin by design: argument parsing, HTTP IO and routing; checking and rendering are
//! `diag_core::report::check_and_write`, the same call `diag-check <bundle>` makes.

mod api;

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
    /// The directory holding the bundles.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,

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
    let server = match tiny_http::Server::http(args.listen) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("diag-server: listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let state = Arc::new(api::State::new(args.data_dir, args.token));
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
    let reply = match read_body(&mut request) {
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

fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, api::Reply> {
    use std::io::Read;
    if request.body_length().is_some_and(|n| n > api::MAX_BODY) {
        return Err(api::Reply::text(
            413,
            format!("request body over {} bytes", api::MAX_BODY),
        ));
    }
    let mut body = Vec::new();
    let limit = api::MAX_BODY as u64 + 1;
    if let Err(e) = request.as_reader().take(limit).read_to_end(&mut body) {
        return Err(api::Reply::text(
            400,
            format!("reading the request body: {e}"),
        ));
    }
    if body.len() > api::MAX_BODY {
        return Err(api::Reply::text(
            413,
            format!("request body over {} bytes", api::MAX_BODY),
        ));
    }
    Ok(body)
}
