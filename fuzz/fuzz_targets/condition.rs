//! The condition language (`abnormal_when:`), compiled and evaluated over every instance of
//! the seed bundle.
//!
//! The input is the YAML of one condition. It is loaded as the condition of a rule, and again
//! wrapped in `{not: …}`. Beyond "no panic" it checks:
//! - negation: where the condition decides a row `abnormal` its negation decides `OK`, and the
//!   reverse; `nodata` and `error` rows stay what they are (a missing value is not "false");
//! - both rules have the same rows (same instances, same order);
//! - evaluation is deterministic (one thread vs three);
//! - under the time bound.
#![no_main]

use std::time::Instant;

use diag_core::engine::{CheckOptions, RowState};
use diag_core::rules::RuleSet;
use diag_fuzz::{check_on, seed_cluster};
use libfuzzer_sys::fuzz_target;

const COMPONENTS: [&str; 4] = [
    "TikvConfig",
    "PdConfig",
    "TidbConfig",
    "[TidbConfig, TikvConfig]",
];

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

fn rule(component: &str, condition: &str) -> Option<RuleSet> {
    let text = format!(
        "id: 1\nname: fuzz-condition\nkind: config\ncomponent: {component}\nseverity: warning\nabnormal_when:\n{condition}"
    );
    RuleSet::from_files(vec![("fuzz/condition.yaml".into(), text)], "fuzz").ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let component = COMPONENTS[pick as usize % COMPONENTS.len()];
    let cluster = seed_cluster();
    let start = Instant::now();
    let Some(plain) = rule(component, &indent(text, 2)) else {
        return;
    };
    // Re-indenting can change what some YAML means (explicit block-scalar indents): skip those.
    let Some(negated) = rule(component, &format!("  not:\n{}", indent(text, 4))) else {
        return;
    };
    let options = CheckOptions::default();
    let a = check_on(1, cluster, &plain, &options);
    let b = check_on(1, cluster, &negated, &options);
    let a3 = check_on(3, cluster, &plain, &options);
    assert_eq!(
        format!("{:?}", a.findings),
        format!("{:?}", a3.findings),
        "thread count changes rows"
    );
    assert_eq!(a.findings.len(), b.findings.len());
    for (fa, fb) in a.findings.iter().zip(&b.findings) {
        assert_eq!(
            fa.rows.len(),
            fb.rows.len(),
            "negation changes the row count"
        );
        for (ra, rb) in fa.rows.iter().zip(&fb.rows) {
            assert_eq!(ra.tag, rb.tag, "negation changes the rows");
            let abnormal = |s: RowState| matches!(s, RowState::Abnormal(_));
            match (ra.state, rb.state) {
                (x, y) if abnormal(x) => {
                    assert_eq!(y, RowState::Ok, "{}: not(abnormal) is {y:?}", ra.tag)
                }
                (RowState::Ok, y) => assert!(abnormal(y), "{}: not(OK) is {y:?}", ra.tag),
                (x, y) => assert_eq!(x, y, "{}: not({x:?}) is {y:?}", ra.tag),
            }
        }
    }
    diag_fuzz::within_bound(start, "compiling and evaluating a condition");
});
