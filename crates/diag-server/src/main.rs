//! `diag-server`: diag's check HTTP API over a directory of bundles.
//!
//! Thin by design: argument parsing and signals here, HTTP IO in `http`, routing in `api`; loading, checking and rendering are
//! diag_core's, as for `diag-check <bundle>`. The data directory is only ever read; reports go
//! to the server's state directory.

mod api;
mod catalog;
mod http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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

    /// Connections open at once; more wait to be accepted. Each costs a small IO thread.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_connections: usize,

    /// Seconds a client has to send its whole request (then 408), and for each write of the
    /// answer.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
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
    let Some(timeout) = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
    else {
        eprintln!(
            "diag-server: --timeout {}: not a positive number of seconds",
            args.timeout
        );
        return ExitCode::from(2);
    };
    let state_dir = args.state_dir.clone().unwrap_or_else(default_state_dir);
    if let Err(e) = check_state_dir(&args.data_dir, &state_dir) {
        eprintln!("diag-server: --state-dir {}: {e}", state_dir.display());
        return ExitCode::from(2);
    }
    let listener = match http::Listener::bind(args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("diag-server: listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = stop_on_signals(listener.stop()) {
        eprintln!("diag-server: installing the SIGTERM handler: {e}");
        return ExitCode::from(2);
    }
    let state = api::State::new(api::Config {
        data_dir: args.data_dir,
        state_dir,
        token: args.token,
        keep_reports: args.keep_reports,
    });
    match listener.local_addr() {
        Ok(addr) => eprintln!("diag-server listening on http://{addr}"),
        Err(_) => eprintln!("diag-server listening"),
    }
    let options = http::Options {
        workers: args.workers,
        max_connections: args.max_connections,
        timeout,
    };
    let cut = listener.serve(&options, move |req| {
        state.handle(&api::Request {
            method: &req.method,
            url: &req.url,
            headers: &req.headers,
            body: &req.body,
        })
    });
    if cut > 0 {
        eprintln!(
            "diag-server: stopped; {cut} requests unfinished after {} s were cut off",
            http::SHUTDOWN_GRACE.as_secs()
        );
        return ExitCode::FAILURE;
    }
    eprintln!("diag-server: stopped");
    ExitCode::SUCCESS
}

/// SIGTERM or SIGINT starts a graceful shutdown; a second one exits at once.
fn stop_on_signals(stop: http::Stop) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                seen += 1;
                if seen > 1 {
                    eprintln!("diag-server: signal {signal} again; exiting now");
                    std::process::exit(1);
                }
                eprintln!("diag-server: signal {signal}; finishing the requests in flight");
                stop.trigger();
            }
        })?;
    Ok(())
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
