//! Selection, parallel evaluation and findings.

pub mod finding;

pub use finding::{
    CheckOutcome, Evidence, Finding, InstanceRef, Row, RowState, RuleStatus, ValueRead,
};
