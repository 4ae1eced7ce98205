//! A guard in front of `serde_yaml`. Its scanner keeps one possible simple key per open flow
//! collection and revisits all of them for every token, so `[[[[…` takes time quadratic in the
//! depth (50,000 levels: about a minute), while anything nested deeper than its recursion limit
//! (128) fails to parse anyway. Every YAML text a bundle, a rule author or a user supplies
//! (`meta.yaml`, rule files, waiver files, rule cases) passes [`too_deep`] first.

/// How deep flow collections (`[…]`, `{…}`) may nest: `serde_yaml`'s own recursion limit.
pub const MAX_DEPTH: usize = 128;

/// Where `text` opens a flow collection nested deeper than [`MAX_DEPTH`]: 1-based
/// `(line, column)`. One pass, constant memory. Brackets in quoted scalars and comments do not
/// count.
///
/// ```
/// use diag_core::model::yaml::too_deep;
/// assert_eq!(too_deep("a: [1, {b: [2]}]\nc: '[[[['\n"), None);
/// assert_eq!(too_deep(&format!("a: {}", "[".repeat(200))), Some((1, 132)));
/// ```
pub fn too_deep(text: &str) -> Option<(usize, usize)> {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Double,
        Single,
        Comment,
    }
    let mut state = State::Plain;
    let (mut line, mut column) = (1usize, 0usize);
    let mut depth = 0usize;
    // The character before, and whether a scalar may start here (a quote opens one only there).
    let mut prev = '\n';
    let mut token_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        column += 1;
        match state {
            State::Plain => match c {
                '#' if prev.is_whitespace() => state = State::Comment,
                '"' if token_start => state = State::Double,
                '\'' if token_start => state = State::Single,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some((line, column));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
            State::Double => match c {
                '\\' if chars.next_if(|n| *n != '\n').is_some() => column += 1,
                '"' => state = State::Plain,
                _ => {}
            },
            State::Single => {
                if c == '\'' {
                    // `''` is a quote inside the scalar.
                    if chars.next_if_eq(&'\'').is_some() {
                        column += 1;
                    } else {
                        state = State::Plain;
                    }
                }
            }
            State::Comment => {
                if c == '\n' {
                    state = State::Plain;
                }
            }
        }
        if c == '\n' {
            line += 1;
            column = 0;
        }
        if state == State::Plain || c == '\n' {
            token_start = match c {
                '[' | '{' | ',' | ':' | '-' | '?' | '\n' => true,
                c if c.is_whitespace() => token_start,
                _ => false,
            };
        }
        prev = c;
    }
    None
}

/// The message of a text [`too_deep`] refused, for the caller's error.
pub fn too_deep_message() -> String {
    format!("nested deeper than {MAX_DEPTH} levels of `[`/`{{`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_flow_nesting_is_quadratic_in_serde_yaml_so_deep_texts_are_refused_first() {
        // 50,000 levels took serde_yaml about a minute to refuse; the guard stops at 129.
        let deep = format!("- rule: {}\n", "[".repeat(50_000));
        assert_eq!(too_deep(&deep), Some((1, 9 + MAX_DEPTH)));
        let braces = format!("a:\n  b: {}", "{x: ".repeat(MAX_DEPTH + 1));
        assert_eq!(too_deep(&braces).map(|p| p.0), Some(2));
    }

    #[test]
    fn quoted_brackets_comments_and_balanced_flows_pass() {
        let deep = "[".repeat(300);
        for text in [
            format!("a: \"{deep}\"\n"),
            format!("a: '{deep}'\n"),
            format!("a: 'it''s {deep}'\n"),
            format!("a: 1 # {deep}\n"),
            format!("a: \"\\\"{deep}\"\n"),
            "a: [[1], [2], {b: [3]}]\n".repeat(500),
        ] {
            assert_eq!(too_deep(&text), None, "{text}");
        }
        // A quote inside a plain scalar does not hide what follows.
        let hidden = format!("a: it's\nb: {deep}\n");
        assert_eq!(too_deep(&hidden), Some((2, 3 + MAX_DEPTH + 1)));
    }
}
