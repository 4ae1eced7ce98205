//! Rendering findings: the minijinja environment, built-in templates and output formats.
