//! `diag_core` loads PingCAP Clinic diagnostic bundles (what `diag collect` writes) into a typed
//! cluster model, evaluates rules over it and renders Check Result Reports.
//!
//! Data flows one way: [`bundle`] (bytes) → [`model`] (the typed cluster) → engine (rules and
//! findings) → report. [`pipeline`] runs the whole chain for a front end (load → select → check
//! → render → write), so the binaries only parse arguments and print.
//!
//! ```
//! let cluster = diag_core::Cluster::open("../../fixtures/diag-fPrz0RnDxRn".as_ref()).unwrap();
//! assert_eq!(cluster.version.text, "v5.4.0");
//! assert_eq!(cluster.instances_of(diag_core::model::ComponentKind::Pd).count(), 3);
//! ```

pub mod bundle;
pub mod diff;
pub mod engine;
pub mod error;
pub mod model;
pub mod pipeline;
pub mod redact;
pub mod report;
pub mod rules;
pub mod testing;
pub mod timeline;
pub mod waivers;

pub use error::LoadError;
pub use model::Cluster;
