//! TiUP `meta.yaml` through `parse_file(MetaYaml)`, and the whole loader over a bundle whose
//! top level is only that `meta.yaml` (the cluster.json-less layout).
//!
//! Beyond "no panic" it checks:
//! - an error names the file, and a syntax error's line is within the file;
//! - a parsed tree serializes to JSON that parses back (every YAML value maps to a JSON one,
//!   non-string keys included);
//! - the loader either refuses the bundle with an error or builds a cluster whose every
//!   instance has a host and a port, and loading it twice gives the same instances and warnings;
//! - under the time bound.
#![no_main]

use std::time::Instant;

use diag_core::bundle::ReadPlan;
use diag_core::model::DataKind;
use diag_core::model::data::parse_file;
use diag_core::{Cluster, LoadError};
use diag_fuzz::{MemSource, summary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    match parse_file(DataKind::MetaYaml, "meta.yaml", data) {
        Ok(tree) => {
            let json = serde_json::to_string(&tree.root).expect("a tree serializes");
            serde_json::from_str::<serde_json::Value>(&json).expect("its JSON parses");
        }
        Err(e) => {
            assert!(
                e.to_string().contains("meta.yaml"),
                "error does not name the file: {e}"
            );
            if let LoadError::Syntax { line, .. } = e {
                let lines = data.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                assert!(
                    line <= lines,
                    "error line {line} past the end ({lines} lines)"
                );
            }
        }
    }
    let load = || {
        let source = MemSource::new(vec![("meta.yaml".into(), data.to_vec())]);
        Cluster::from_source(source.opened(), &ReadPlan::everything())
            .map(|c| {
                for i in &c.instances {
                    assert!(!i.host.is_empty(), "instance without a host: {}", i.tag());
                }
                summary(&c)
            })
            .map_err(|e| e.to_string())
    };
    assert_eq!(load(), load(), "two loads of one bundle differ");
    diag_fuzz::within_bound(start, "parsing meta.yaml and loading");
});
