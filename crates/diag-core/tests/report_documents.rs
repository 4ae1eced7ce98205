//! Reports of real checks (the engine, not hand-built findings): error rows and loading warnings
//! in every document, the HTML report's links, expected values and views, and template errors.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::path::{Path, PathBuf};

use diag_core::Cluster;
use diag_core::engine::{CheckOptions, check};
use diag_core::pipeline::{CheckRequest, ReportTarget, check_and_write};
use diag_core::report::{Format, Renderer, ReportDocument, ReportError, TemplateName};
use diag_core::rules::RuleSet;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// A rule that cannot be evaluated on TiDB (`log.level` is text, read as an integer).
const ERRING_RULE: &str = "id: 9100
name: tidb-log-level-as-number
kind: config
component: TidbConfig
variation: TidbConfig.log.level
severity: warning
link: https://example.invalid/log-level
description: Reads `log.level` as a number, which it never is.
abnormal_when: {path: log.level, as: int, lt: 1}
";

/// The built-in rules plus [`ERRING_RULE`], on a bundle with one broken PD config.
fn troubled_doc() -> ReportDocument {
    let cluster = Cluster::open(&fixture("bad/config-truncated")).expect("loads with a warning");
    assert_eq!(cluster.warnings.len(), 1);
    let mut rules = RuleSet::builtin();
    rules.merge(
        RuleSet::from_files(vec![("erring.yaml".into(), ERRING_RULE.into())], "test")
            .expect("rule loads"),
    );
    let outcome = check(&cluster, &rules, &CheckOptions::default());
    ReportDocument::new(&cluster, &outcome)
}

fn render(doc: &ReportDocument, format: Format) -> String {
    Renderer::new().render(format, doc).expect("renders")
}

/// Issue 8: a rule ending in `error` and a file that could not be loaded were invisible in every
/// report; the text report said 0 abnormal and nothing else.
#[test]
fn error_rows_and_load_warnings_reach_every_report_document() {
    let doc = troubled_doc();
    assert_eq!(doc.errors.len(), 1, "{:#?}", doc.errors);
    assert_eq!(doc.warnings.len(), 1);

    let json: Value = serde_json::from_str(&render(&doc, Format::Json)).expect("json");
    assert_eq!(json["errors"][0]["rule_name"], "tidb-log-level-as-number");
    assert_eq!(json["errors"][0]["tag"], "TidbConfig_10.0.0.3:4000");
    assert_eq!(json["warnings"][0]["kind"], "syntax");
    assert_eq!(json["warnings"][0]["file"], "bad-pd-1/conf/config.json");
    assert_eq!(json["warnings"][0]["line"], 4);

    let text = render(&doc, Format::Text);
    let problems = &text[text.find("## 4. Problems").expect("a problems section")..];
    insta::assert_snapshot!("troubled-text-problems", problems);

    let md = render(&doc, Format::Markdown);
    assert!(md.contains("## Rules that could not be evaluated"), "{md}");
    assert!(md.contains("## Loading warnings"), "{md}");
    assert!(md.contains("bad-pd-1/conf/config.json:4:7"), "{md}");

    let sarif: Value = serde_json::from_str(&render(&doc, Format::Sarif)).expect("sarif");
    let run = &sarif["runs"][0];
    let note = &run["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(note["level"], "warning");
    assert_eq!(
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "bad-pd-1/conf/config.json"
    );
    let results = run["results"].as_array().expect("results");
    assert!(
        results
            .iter()
            .any(|r| r["level"] == "error" && r["ruleId"] == "tidb-log-level-as-number")
    );

    let junit = render(&doc, Format::Junit);
    assert!(junit.contains("<system-err>"), "{junit}");
    assert!(junit.contains("<error type=\"error\""), "{junit}");

    let html = render(&doc, Format::Html).replace("&#x2f;", "/");
    let problems = html.find("id=\"problems\"").expect("problems panel");
    assert!(
        problems < html.find("<h2>Findings").expect("findings"),
        "shown first"
    );
    assert!(
        html.contains("tidb-log-level-as-number</b> on"),
        "error row listed"
    );
    assert!(
        html.contains("bad-pd-1/conf/config.json:4:7"),
        "warning listed"
    );
}

#[test]
fn a_clean_check_has_no_problems_section() {
    let cluster = Cluster::open(&fixture("diag-fPrz0RnDxRn")).expect("seed loads");
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    let doc = ReportDocument::new(&cluster, &outcome);
    assert!(doc.errors.is_empty() && doc.warnings.is_empty());
    assert!(!render(&doc, Format::Text).contains("## 4."));
    assert!(!render(&doc, Format::Html).contains("id=\"problems\""));
}

/// Every built-in template renders under strict undefined, on clean, troubled and empty
/// documents of both layouts.
#[test]
fn builtin_templates_render_with_strict_undefined() {
    let mut docs = vec![troubled_doc()];
    for name in ["diag-fPrz0RnDxRn", "diag-lili-fNTnz5MGhr6", "minimal"] {
        let cluster = Cluster::open(&fixture(name)).expect("loads");
        let all = CheckOptions {
            kinds: diag_core::rules::CheckKind::ALL.to_vec(),
            ..CheckOptions::default()
        };
        let none = CheckOptions {
            only: vec!["no-such-rule".into()],
            ..CheckOptions::default()
        };
        for options in [all, none] {
            docs.push(ReportDocument::new(
                &cluster,
                &check(&cluster, &RuleSet::builtin(), &options),
            ));
        }
    }
    let renderer = Renderer::new();
    for doc in &docs {
        for name in TemplateName::ALL {
            renderer
                .render_template(name, doc)
                .unwrap_or_else(|e| panic!("{}: {e:#}", name.as_str()));
        }
    }
}

fn write_template(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write template");
    path
}

/// Issue 8: `--template nosuch=FILE` said "No such file or directory".
#[test]
fn template_with_an_unknown_name_says_so_and_lists_the_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_template(dir.path(), "t.j2", "{{ cluster.name }}\n");
    let spec = format!("nosuch={}", file.display());
    let err = Renderer::new()
        .set_template_spec(&spec, &[Format::Text])
        .expect_err("unknown name");
    assert!(matches!(err, ReportError::UnknownTemplate(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "unknown template `nosuch` (known: text, record, markdown, html, junit)"
    );
    // A known name, and a bare file for the single templated format, both work.
    let mut renderer = Renderer::new();
    renderer
        .set_template_spec(&format!("html={}", file.display()), &[Format::Text])
        .expect("html=FILE");
    renderer
        .set_template_spec(&file.display().to_string(), &[Format::Markdown])
        .expect("FILE");
}

/// Issue 8: a syntax error in the user's template named `check-report.txt:1`.
#[test]
fn template_syntax_error_names_the_users_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_template(dir.path(), "mine.txt.j2", "line one\n{% for %}\n");
    let err = Renderer::new()
        .set_template_file(TemplateName::Text, &file)
        .expect_err("does not compile");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:2: syntax error", file.display())),
        "{text}"
    );
    assert!(!text.contains("check-report.txt"), "{text}");
}

/// Issue 8: an undefined variable rendered as nothing.
#[test]
fn template_undefined_variable_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_template(
        dir.path(),
        "mine.txt.j2",
        "{{ cluster.name }}\n{{ cluster.nmae }}\n",
    );
    let mut renderer = Renderer::new();
    renderer
        .set_template_file(TemplateName::Text, &file)
        .expect("compiles");
    let cluster = Cluster::open(&fixture("minimal")).expect("loads");
    let doc = ReportDocument::new(
        &cluster,
        &check(&cluster, &RuleSet::builtin(), &CheckOptions::default()),
    );
    let err = renderer
        .render(Format::Text, &doc)
        .expect_err("undefined is an error");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:2: undefined value", file.display())),
        "{text}"
    );
    assert!(text.contains("cluster.nmae"), "names the variable: {text}");
}

/// The seed check written as its report directory, with the HTML.
fn seed_report_html() -> (tempfile::TempDir, PathBuf, String) {
    let work = tempfile::tempdir().expect("tempdir");
    let bundle = work.path().join("diag-fPrz0RnDxRn");
    copy_dir(&fixture("diag-fPrz0RnDxRn"), &bundle);
    let rules = RuleSet::builtin();
    let renderer = Renderer::new();
    let out = bundle.join("report-test");
    let mut request = CheckRequest::new(&rules, &renderer);
    request.formats = vec![Format::Html];
    let written =
        check_and_write(&bundle, &request, &ReportTarget::Exactly(out.clone())).expect("checks");
    let html = written
        .checked
        .file(Format::Html.file_name())
        .expect("html")
        .replace("&#x2f;", "/");
    (work, out, html)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            // A report a previous run left in the fixture is not part of it.
            if !entry.file_name().to_string_lossy().starts_with("report-") {
                copy_dir(&path, &target);
            }
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// Issue 8: evidence was plain text; it now opens the cited file from the report directory.
#[test]
fn html_evidence_links_open_the_cited_file() {
    let (_work, out, html) = seed_report_html();
    let href = "../basic-tidb-0/conf/config.json#L32";
    assert!(
        html.contains(&format!("<a href=\"{href}\">")),
        "link: {html}"
    );
    let target = out.join(href.split('#').next().expect("path"));
    assert!(target.is_file(), "{} resolves", target.display());
}

/// Issue 8: the HTML report lacked expected values, rendered Markdown, an instance view and a
/// component header.
#[test]
fn html_shows_expected_values_markdown_instances_and_components() {
    let (_work, _out, html) = seed_report_html();
    // tidb-max-days: abnormal when < 1.
    assert!(
        html.contains("<td class=\"mono expected\">&gt;= 1</td>"),
        "expected"
    );
    // Descriptions' backticks are code.
    assert!(html.contains("<code>"), "markdown");
    assert!(
        html.contains("<option value=\"pd/172.20.22.100:2379\">172.20.22.100:2379</option>"),
        "instance view"
    );
    assert!(html.contains("data-instances=\" pd/172.20.22.100:2379 host/172.20.22.100 \""));
    assert!(
        html.contains("<option value=\"host/172.20.22.100\">172.20.22.100</option>"),
        "host view"
    );
    assert!(
        html.contains("<span class=\"n\">3</span><b>TiKV</b> <span class=\"muted\">v5.4.0</span>"),
        "component header"
    );
    assert!(
        html.contains("history.replaceState"),
        "filters go into the hash"
    );
}

#[test]
fn archives_are_not_linked_into() {
    let cluster = Cluster::open(&fixture("bad/zip-nested-root.zip")).expect("loads");
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    let mut doc = ReportDocument::new(&cluster, &outcome);
    doc.link_bundle(&cluster, &fixture("bad/zip-nested-root-report"));
    assert_eq!(doc.bundle.href, None);
    assert!(
        doc.findings
            .iter()
            .flat_map(|f| f.rows.iter())
            .flat_map(|r| &r.values)
            .filter_map(|v| v.evidence.as_ref())
            .all(|e| e.href.is_none())
    );
}

/// Links never describe the disk beyond the bundle's own name: a report beside the bundle links
/// `../<bundle>/…`, one elsewhere is not linked.
#[test]
fn links_reveal_no_path_beyond_the_bundle_name() {
    let work = tempfile::tempdir().expect("tempdir");
    let bundle = work.path().join("data/diag-fPrz0RnDxRn");
    copy_dir(&fixture("diag-fPrz0RnDxRn"), &bundle);
    let cluster = Cluster::open(&bundle).expect("loads");
    let outcome = check(&cluster, &RuleSet::builtin(), &CheckOptions::default());
    let href = |report_dir: &Path| {
        let mut doc = ReportDocument::new(&cluster, &outcome);
        doc.link_bundle(&cluster, report_dir);
        doc.bundle.href
    };
    assert_eq!(href(&bundle.join("report-1")).as_deref(), Some("../"));
    assert_eq!(
        href(&work.path().join("data/diag-report-1")).as_deref(),
        Some("../diag-fPrz0RnDxRn/")
    );
    std::fs::create_dir_all(work.path().join("state")).expect("mkdir");
    assert_eq!(href(&work.path().join("state/report-1")), None);
}
