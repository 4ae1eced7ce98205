//! `host_formula:` rules: a setting whose default is a formula of the instance's host (its
//! CPUs and memory from `insight.json`), so no single value can be compared with it.
//!
//! ```yaml
//! variation: TikvConfig.storage.block-cache.capacity
//! host_formula:
//!   formula: 45% of the memory       # as reports print it
//!   as: size                         # `size` (within 1 %) or a number (exact); `float` when absent
//!   expr: 'memory * 45 / 100'        # Rhai over `cpus`, `memory` (bytes), `cfg`: a number or an array
//! ```
//!
//! Each instance of the rule's one component gets a row on its one variation value: `ok` when
//! the value is (one of) what `expr` gives on its host, `abnormal` naming what the formula gives,
//! `nodata` when the value is missing or null, the host's CPUs or memory are unknown, or the
//! entry has no `expr` (the formula is then only named, never compared: no false "differs").
//! The loop over the instances is the engine's; only `expr` runs in Rhai, once per instance
//! whose host is known.

use std::sync::Arc;

use serde::Deserialize;

use super::script;

/// How far a size may be from the formula's value and still be the default: the runtime JSON
/// prints sizes to 3 or 4 digits (`"1.719TiB"`) and `insight.json` counts whole MiB.
pub(crate) const SIZE_TOLERANCE: f64 = 0.01;

/// A compiled `host_formula:` block.
#[derive(Debug, Clone)]
pub(crate) struct HostFormula {
    /// The formula in words, as messages print it.
    pub(crate) formula: String,
    /// The value is a size (bytes, compared within [`SIZE_TOLERANCE`]); else a number.
    pub(crate) size: bool,
    /// The formula as a Rhai expression; `None` when it is only named.
    pub(crate) expr: Option<Arc<rhai::AST>>,
}

/// `host_formula:` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostFormulaSpec {
    formula: String,
    #[serde(default, rename = "as")]
    as_type: Option<String>,
    #[serde(default)]
    expr: Option<String>,
}

impl HostFormulaSpec {
    /// Checks and compiles the block; the error says what is wrong, in words.
    pub(crate) fn compile(&self) -> Result<HostFormula, String> {
        let formula = self.formula.trim();
        if formula.is_empty() {
            return Err("`formula` is empty: say how the default follows from the host".into());
        }
        let size = match self.as_type.as_deref().map(str::trim) {
            None | Some("float" | "int") => false,
            Some("size") => true,
            Some(other) => {
                return Err(format!(
                    "`as: {other}`: a formula gives a number (`as: int`, `float`) or a size (`as: size`)"
                ));
            }
        };
        let expr = match self.expr.as_deref().map(str::trim) {
            None => None,
            Some("") => return Err("`expr` is empty".into()),
            Some(source) => Some(script::compile_formula(source)?),
        };
        Ok(HostFormula {
            formula: formula.to_string(),
            size,
            expr,
        })
    }
}
