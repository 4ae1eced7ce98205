//! Load a bundle and walk its model: `cargo run -p diag-core --example load_bundle -- <bundle>`.
//!
//! Prints each instance's log retention settings with the file and line they came from — the
//! kind of evidence a report cites.

use diag_core::Cluster;
use diag_core::model::Lookup;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/diag-fPrz0RnDxRn".into());
    let cluster = Cluster::open(path.as_ref())?;
    println!(
        "{} {} ({})",
        cluster.name, cluster.version.text, cluster.version.reason
    );
    for warning in &cluster.warnings {
        eprintln!("warning: {warning}");
    }
    for inst in &cluster.instances {
        let Some(config) = inst.config.tree() else {
            println!("{:<36} no runtime config", inst.tag());
            continue;
        };
        for key in ["log.file.max-days", "log.file.max-backups"] {
            match config.lookup(key) {
                Lookup::Present(node) => println!(
                    "{:<36} {key} = {node}  ({}:{})",
                    inst.tag(),
                    config.file,
                    node.line
                ),
                Lookup::Null(_) => println!("{:<36} {key} = null", inst.tag()),
                Lookup::Missing => println!("{:<36} {key} missing", inst.tag()),
            }
        }
    }
    Ok(())
}
