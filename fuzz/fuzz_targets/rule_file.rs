//! Rule files: load (YAML schema), compile (conditions, regexes, Rhai, metric and log specs,
//! `default_config` tables) and lint (every problem reported at once), then run what loaded.
//!
//! Beyond "no panic" it checks:
//! - every error names the fuzzed file and a line within it (or 0 for the whole file);
//! - loading is deterministic: the same text gives the same errors and rules twice;
//! - a rule that loads re-loads from its own definition (`Rule::definition`, what
//!   `rules show` prints) to a rule of the same name;
//! - the rules that load run over the seed bundle (every kind) and give the same rows on one
//!   thread as on three;
//! - under the time bound.
#![no_main]

use std::time::Instant;

use diag_core::rules::RuleSet;
use diag_fuzz::{all_kinds, check_on, seed_cluster};
use libfuzzer_sys::fuzz_target;

const FILE: &str = "fuzz/rule.yaml";

fn load(text: &str) -> Result<RuleSet, Vec<String>> {
    RuleSet::from_files(vec![(FILE.to_string(), text.to_string())], "fuzz").map_err(|errors| {
        let lines = text.lines().count().max(1) + 1;
        for e in &errors.errors {
            assert_eq!(e.file, FILE, "error names another file: {e}");
            assert!(
                e.line <= lines,
                "error line {} past the end ({lines}): {e}",
                e.line
            );
            assert!(!e.message.is_empty(), "empty error message");
        }
        errors.errors.iter().map(|e| e.to_string()).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cluster = seed_cluster();
    let start = Instant::now();
    let first = load(text);
    let second = load(text);
    let names = |r: &Result<RuleSet, Vec<String>>| match r {
        Ok(set) => Ok(set
            .rules()
            .iter()
            .map(|r| r.meta.name.clone())
            .collect::<Vec<_>>()),
        Err(e) => Err(e.clone()),
    };
    assert_eq!(names(&first), names(&second), "loading twice differs");
    if let Ok(set) = &first {
        for rule in set.rules() {
            let again = RuleSet::from_files(
                vec![("fuzz/shown.yaml".to_string(), rule.definition().to_string())],
                "fuzz",
            );
            match again {
                Ok(again) => assert!(
                    again.rules().iter().any(|r| r.meta.name == rule.meta.name),
                    "{}: its definition loads another rule",
                    rule.meta.name
                ),
                Err(e) => panic!("{}: its definition does not load: {e}", rule.meta.name),
            }
        }
        let one = check_on(1, cluster, set, &all_kinds());
        let three = check_on(3, cluster, set, &all_kinds());
        assert_eq!(
            format!("{:?}", one.findings),
            format!("{:?}", three.findings),
            "thread count changes rows"
        );
    }
    diag_fuzz::within_bound(start, "loading and running a rule file");
});
