//! What a normal value looks like, in words, for a declarative condition: the negation of
//! "abnormal when", so a report can print it beside the value read (`0` expected `>= 1`).

use crate::model::value::{ConfigNode, Lookup};
use crate::rules::condition::{CmpOp, Condition, Literal, Operand};

/// Whether the text depends on the row (a comparison with another path of the instance), so it
/// must be computed per row rather than once per rule.
pub(super) fn per_row(condition: &Condition) -> bool {
    match condition {
        Condition::Compare { rhs, .. } => matches!(rhs, Operand::Path(_)),
        Condition::AllOf(cs) | Condition::AnyOf(cs) => cs.iter().any(per_row),
        Condition::Not(c) => per_row(c),
        // `each` paths are relative to items; their values are not shown.
        _ => false,
    }
}

/// The expected value or range, e.g. `>= 1`, `in [1, 8]`, `<= schedule.region-schedule-limit (5)`;
/// `None` for a Rhai expression. The top-level path is the rule's variation and is left out;
/// nested conditions name their paths. `root` is the instance config, for path operands.
pub(super) fn expected(condition: &Condition, root: Option<&ConfigNode>) -> Option<String> {
    describe(condition, true, false, root)
}

/// `normal`: describe what makes the condition false (true: what a normal value is).
fn describe(c: &Condition, normal: bool, named: bool, root: Option<&ConfigNode>) -> Option<String> {
    let prefix = |path: &str| {
        if named {
            format!("{path} ")
        } else {
            String::new()
        }
    };
    Some(match c {
        Condition::Compare { path, op, rhs, .. } => {
            let op = if normal { negate(*op) } else { *op };
            let rhs = match rhs {
                Operand::Literal(l) => literal(l),
                Operand::Path(p) => match root.map(|r| r.lookup(p)) {
                    Some(Lookup::Present(n)) => format!("{p} ({})", n.to_text()),
                    _ => p.clone(),
                },
            };
            match (op, rhs.as_str()) {
                // `eq: true` reads better as its opposite value.
                (CmpOp::Ne, "true") => format!("{}= false", prefix(path)),
                (CmpOp::Ne, "false") => format!("{}= true", prefix(path)),
                _ => format!("{}{} {rhs}", prefix(path), symbol(op)),
            }
        }
        Condition::OneOf {
            path,
            values,
            negate,
            ..
        } => {
            let list = values.iter().map(literal).collect::<Vec<_>>().join(", ");
            let word = if normal != *negate { "not in" } else { "in" };
            format!("{}{word} [{list}]", prefix(path))
        }
        Condition::Range {
            path,
            lo,
            hi,
            negate,
            ..
        } => {
            let word = if normal != *negate { "outside" } else { "in" };
            format!("{}{word} [{}, {}]", prefix(path), literal(lo), literal(hi))
        }
        Condition::Matches { path, regex } => {
            let word = if normal { "not matching" } else { "matching" };
            format!("{}{word} /{}/", prefix(path), regex.as_str())
        }
        Condition::AllOf(cs) | Condition::AnyOf(cs) => {
            let all = matches!(c, Condition::AllOf(_));
            // not (a and b) = not a or not b
            let joiner = if all == normal { " or " } else { " and " };
            let parts: Option<Vec<String>> =
                cs.iter().map(|c| describe(c, normal, true, root)).collect();
            let parts = parts?;
            if parts.len() == 1 {
                parts.into_iter().next()?
            } else if named {
                format!("({})", parts.join(joiner))
            } else {
                parts.join(joiner)
            }
        }
        Condition::Not(inner) => describe(inner, !normal, named, root)?,
        Condition::Each {
            path,
            all,
            condition,
            ..
        } => {
            // normal for `any` = every item normal; for `all` = some item normal.
            let quantifier = if *all == normal { "some" } else { "every" };
            let inner = describe(condition, normal, true, None)?;
            if path.is_empty() {
                format!("{quantifier} entry: {inner}")
            } else {
                format!("{quantifier} {path}.*: {inner}")
            }
        }
        Condition::Differ { path, .. } => {
            let word = if normal {
                "the same in every member"
            } else {
                "differs between members"
            };
            format!("{}{word}", prefix(path))
        }
        Condition::Rhai(_) => return None,
    })
}

fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
    }
}

fn symbol(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

fn literal(lit: &Literal) -> String {
    match lit {
        Literal::Bool(b) => b.to_string(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Text(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleBody;
    use crate::rules::RuleSet;

    fn expected_of(name: &str) -> Option<String> {
        let rules = RuleSet::builtin();
        let rule = rules
            .rules()
            .iter()
            .find(|r| r.meta.name == name)
            .unwrap_or_else(|| panic!("no rule {name}"));
        match &rule.body {
            RuleBody::Condition(c) => expected(c, None),
            _ => None,
        }
    }

    /// Issue 8: rows showed the value read but not what it should have been.
    #[test]
    fn shipped_conditions_say_what_a_normal_value_is() {
        for (rule, text) in [
            ("tidb-max-days", ">= 1"),
            ("pdconfig-max-days", "> 0"),
            ("tidb-log-level", "!= debug"),
            ("tidb-enable-streaming", "= false"),
            ("trace-region-flow", "= true"),
            ("tikv-log-level", "not in [debug, trace]"),
            // Written as diag writes it (`<= 0 or > 8`): 0.5 is normal, unlike `outside [1, 8]`.
            (
                "pdconfig-hot-region-schedule-limit",
                "schedule.hot-region-schedule-limit > 0 and schedule.hot-region-schedule-limit <= 8",
            ),
            (
                "pdconfig-replica-schedule-limit-b",
                "<= schedule.region-schedule-limit",
            ),
            (
                "pdconfig-store limit-n-add-peer",
                "every schedule.store-limit.*: add-peer in [0, 100]",
            ),
            ("gc.enable-compaction-filter", ""),
        ] {
            assert_eq!(expected_of(rule).unwrap_or_default(), text, "{rule}");
        }
    }
}
