//! `diag-server`: diag's check HTTP API over a directory of bundles.

fn main() {
    eprintln!("diag-server: not built yet");
    std::process::exit(2);
}
