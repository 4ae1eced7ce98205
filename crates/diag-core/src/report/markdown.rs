//! The inline Markdown rule authors write in descriptions and suggestions, as HTML: `code`,
//! `[text](url)`, `**strong**`, `*emphasis*` / `_emphasis_`. Everything else is escaped, so a
//! rule file can never inject markup into a report.

use minijinja::value::Value;

/// The `markdown` template filter: inline Markdown to HTML, marked safe for auto-escaping.
pub(super) fn inline_html(text: String) -> Value {
    Value::from_safe_string(render(&text, true))
}

/// Renders inline Markdown; `links` is false inside a link's text (no nested links).
fn render(text: &str, links: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some((html, used)) = markup(rest, c, links, out.chars().last()) {
            out.push_str(&html);
            rest = &rest[used..];
        } else {
            escape_into(&mut out, c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The markup starting at `rest` (whose first char is `c`): its HTML and the bytes it used.
fn markup(rest: &str, c: char, links: bool, before: Option<char>) -> Option<(String, usize)> {
    match c {
        '`' => {
            let end = rest[1..].find('`')? + 1;
            let mut html = String::from("<code>");
            rest[1..end].chars().for_each(|c| escape_into(&mut html, c));
            html.push_str("</code>");
            Some((html, end + 1))
        }
        '[' if links => {
            let close = rest.find("](")?;
            let url_end = close + 2 + rest[close + 2..].find(')')?;
            let (label, url) = (&rest[1..close], &rest[close + 2..url_end]);
            if label.is_empty() || !safe_url(url) {
                return None;
            }
            let mut html = String::from("<a href=\"");
            url.chars().for_each(|c| escape_into(&mut html, c));
            html.push_str("\">");
            html.push_str(&render(label, false));
            html.push_str("</a>");
            Some((html, url_end + 1))
        }
        '*' if rest.starts_with("**") => {
            let end = rest[2..].find("**")? + 2;
            let inner = &rest[2..end];
            if inner.is_empty() || inner.starts_with(' ') || inner.ends_with(' ') {
                return None;
            }
            Some((
                format!("<strong>{}</strong>", render(inner, links)),
                end + 2,
            ))
        }
        '*' | '_' => {
            // `_` inside a word (snake_case, file_name) is not emphasis.
            if c == '_' && before.is_some_and(char::is_alphanumeric) {
                return None;
            }
            let end = rest[1..].find(c)? + 1;
            let inner = &rest[1..end];
            let after = rest[end + 1..].chars().next();
            if inner.is_empty()
                || inner.starts_with(' ')
                || inner.ends_with(' ')
                || (c == '_' && after.is_some_and(char::is_alphanumeric))
            {
                return None;
            }
            Some((format!("<em>{}</em>", render(inner, links)), end + 1))
        }
        _ => None,
    }
}

/// Web links and relative ones; never `javascript:` or other schemes.
fn safe_url(url: &str) -> bool {
    let url = url.trim();
    if url.is_empty() || url.contains(char::is_whitespace) {
        return false;
    }
    let lower = url.to_ascii_lowercase();
    match lower.find(':') {
        Some(colon) => {
            let scheme = &lower[..colon];
            // A colon after a `/`, `?` or `#` is not a scheme (`docs/a:b`).
            lower[..colon].contains(['/', '?', '#'])
                || scheme == "http"
                || scheme == "https"
                || scheme == "mailto"
        }
        None => true,
    }
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#x27;"),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn backticks_links_and_emphasis_render() {
        assert_eq!(
            render(
                "Set `log.file.max-days` > 0, see [the docs](https://s.tidb.io/x).",
                true
            ),
            "Set <code>log.file.max-days</code> &gt; 0, see <a href=\"https://s.tidb.io/x\">the docs</a>."
        );
        assert_eq!(
            render("**never** *less* than _1 GiB_", true),
            "<strong>never</strong> <em>less</em> than <em>1 GiB</em>"
        );
    }

    #[test]
    fn everything_else_is_escaped() {
        assert_eq!(
            render("<script>alert('x')</script> & `<b>`", true),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; <code>&lt;b&gt;</code>"
        );
        assert_eq!(
            render("[click](javascript:alert(1))", true),
            "[click](javascript:alert(1))"
        );
        assert_eq!(
            render("[x](https://a.b/\"onmouseover=x)", true),
            "<a href=\"https://a.b/&quot;onmouseover=x\">x</a>"
        );
    }

    #[test]
    fn snake_case_and_lone_markers_stay_text() {
        assert_eq!(
            render("new_collations_enabled_on_first_bootstrap", true),
            "new_collations_enabled_on_first_bootstrap"
        );
        assert_eq!(render("2 * 3 * 4, a `b", true), "2 * 3 * 4, a `b");
    }
}
