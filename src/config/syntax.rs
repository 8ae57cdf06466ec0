//! INI text to sections of `key = value` pairs, with comments removed and quotes taken off.
//!
//! rust-ini (escapes and quotes off, so `%(asctime)s` and `C:\logs` pass through) builds the
//! sections. Each line is checked and normalised first, because rust-ini 0.21 silently mis-reads
//! several things an operator writes (each covered by a test below):
//! - inline comments stay in the value (`port = 8080 ; http` gives `8080 ; http`, the Python
//!   retracker's bug), and `[TRACKER] ; comment` is a parse error;
//! - an indented comment line, a line without `=`, or text after `[section]` is glued to the
//!   next line's key, which then silently goes missing;
//! - a `[section` without `]` swallows the lines up to the next `]`, and so does a `[section\]`,
//!   whose `\]` rust-ini reads as an escaped bracket;
//! - a value ending in `\` continues on the next line, even with escapes off;
//! - a UTF-8 byte order mark (Windows editors) hides the first section.
//!
//! Rules: a `;` or `#` preceded by white space starts a comment, as does a line starting with one
//! (after any indentation). A value that starts with `"` ends at the first `"` followed by the end
//! of the line or a comment; the quotes are removed and the text between is kept as is. Keys are
//! separated from values by the first `=` or `:`, as in Python's configparser.

use ini::{Ini, ParseOption};

/// A `[section]` (or the keys before any section, `None`) and its pairs in file order.
#[derive(Debug, PartialEq)]
pub(super) struct Block {
    /// Section name as written, without brackets; `None` before the first section.
    pub section: Option<String>,
    /// `(key, value)` as written, value without comment and quotes.
    pub entries: Vec<(String, String)>,
}

/// Text that is not INI, with the 1-based line it is on.
#[derive(Debug, PartialEq)]
pub(super) struct SyntaxError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, for an operator.
    pub message: String,
}

/// Parses INI text into blocks, in file order. A section written twice gives two blocks.
pub(super) fn parse(text: &str) -> Result<Vec<Block>, SyntaxError> {
    let normalised = normalise(text)?;
    let options = ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: false,
        enabled_preserve_key_leading_whitespace: false,
    };
    let ini = Ini::load_from_str_opt(&normalised, options).map_err(|e| SyntaxError {
        line: e.line,
        message: e.msg.into_owned(),
    })?;
    Ok(ini
        .iter()
        .filter(|(section, props)| section.is_some() || !props.is_empty())
        .map(|(section, props)| Block {
            section: section.map(str::to_owned),
            entries: props
                .iter()
                .map(|(k, v)| (k.to_owned(), unquote(v).to_owned()))
                .collect(),
        })
        .collect())
}

/// Rewrites every line into a form rust-ini reads as meant, keeping line numbers: comments
/// become empty lines, headers become `[name]`, pairs become `key = value`.
fn normalise(text: &str) -> Result<String, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // rust-ini also ends a line at a lone CR; so must the checks, or they would miss a line.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(text.len() + 16);
    for (index, line) in text.split('\n').enumerate() {
        let content = line.trim();
        let result = if content.is_empty() || content.starts_with([';', '#']) {
            Ok(String::new())
        } else if content.starts_with('[') {
            header(content)
        } else {
            pair(content, content.len() != line.trim_end().len())
        };
        let normalised = result.map_err(|message| SyntaxError {
            line: index + 1,
            message,
        })?;
        out.push_str(&normalised);
        out.push('\n');
    }
    Ok(out)
}

/// `[name]`, optionally followed by a comment.
fn header(content: &str) -> Result<String, String> {
    let Some(close) = content.find(']') else {
        return Err(format!("section header {content:?} has no closing ]"));
    };
    let name = content[1..close].trim();
    let rest = content[close + 1..].trim_start();
    if !rest.is_empty() && !rest.starts_with([';', '#']) {
        return Err(format!(
            "unexpected text {rest:?} after section header [{name}]; put keys on their own lines"
        ));
    }
    if name.is_empty() || name.contains('[') {
        return Err(format!("{content:?} is not a section name"));
    }
    // rust-ini reads `\]` as an escaped `]` even with escapes off, so `[a\]` would swallow the
    // lines up to the next `]` into its name; a space before the `]` is trimmed again.
    let guard = if name.ends_with('\\') { " " } else { "" };
    Ok(format!("[{name}{guard}]"))
}

/// `key = value` or `key: value`, optionally followed by a comment.
fn pair(content: &str, indented: bool) -> Result<String, String> {
    let Some(delimiter) = content.find(['=', ':']) else {
        return Err(if indented {
            format!(
                "expected key = value, found {content:?}; a value cannot continue on an indented \
                 line, put it on one line"
            )
        } else {
            format!("expected key = value, [section] or a ; comment, found {content:?}")
        });
    };
    let key = content[..delimiter].trim();
    if key.is_empty() {
        return Err(format!(
            "missing key before {:?}",
            &content[delimiter..=delimiter]
        ));
    }
    let value = strip_comment(&content[delimiter + 1..])?;
    // A trailing `\` would join the next line in rust-ini; a space after it is trimmed again.
    let guard = if value.ends_with('\\') { " " } else { "" };
    Ok(format!("{key} = {value}{guard}"))
}

/// The value without its comment, trimmed, quotes still on. `raw` starts right after the `=`.
fn strip_comment(raw: &str) -> Result<&str, String> {
    let value = raw.trim_start();
    if let Some(quoted) = value.strip_prefix('"') {
        for (i, _) in quoted.match_indices('"') {
            let after = &quoted[i + 1..];
            let rest = after.trim_start();
            if rest.is_empty() || (rest.len() < after.len() && rest.starts_with([';', '#'])) {
                return Ok(&value[..i + 2]);
            }
        }
        return Err(format!(
            "value {value:?} starts with a double quote but does not end with one"
        ));
    }
    let cut = raw
        .char_indices()
        .find(|&(i, c)| matches!(c, ';' | '#') && raw[..i].ends_with(|p: char| p.is_whitespace()))
        .map_or(raw.len(), |(i, _)| i);
    Ok(raw[..cut].trim())
}

/// Takes the quotes off a value that [`strip_comment`] accepted as quoted.
fn unquote(value: &str) -> &str {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner,
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `(section, key, value)` of `text`, which must parse.
    fn pairs(text: &str) -> Vec<(Option<String>, String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .flat_map(|b| {
                let s = b.section;
                b.entries.into_iter().map(move |(k, v)| (s.clone(), k, v))
            })
            .collect()
    }

    /// The value of the single pair in `text`.
    fn one(text: &str) -> String {
        let p = pairs(text);
        assert_eq!(p.len(), 1, "{p:?}");
        p[0].2.clone()
    }

    /// The line of the syntax error in `text`.
    fn error_line(text: &str) -> usize {
        parse(text).unwrap_err().line
    }

    #[test]
    fn inline_comments_are_not_part_of_values() {
        assert_eq!(one("[T]\nport = 8080 ; http\n"), "8080");
        assert_eq!(one("[T]\nport = 8080\t# http\n"), "8080");
        assert_eq!(one("[T]\nport = 8080 ;\n"), "8080");
        assert_eq!(one("[T]\nk = ; only a comment\n"), "");
    }

    #[test]
    fn comment_characters_not_after_white_space_stay() {
        assert_eq!(one("[T]\nk = a;b#c\n"), "a;b#c");
        assert_eq!(one("[T]\nk =;x\n"), ";x");
        assert_eq!(one("[T]\nurl = http://h/#frag\n"), "http://h/#frag");
    }

    #[test]
    fn quotes_keep_comment_characters_and_spaces() {
        assert_eq!(one("[T]\nk = \"abc #1\"\n"), "abc #1");
        assert_eq!(one("[T]\nk = \"abc ; x\" ; comment \"q\"\n"), "abc ; x");
        assert_eq!(one("[T]\nk = \"  padded  \"\n"), "  padded  ");
        assert_eq!(one("[T]\nk = \"\"\n"), "");
        assert_eq!(one("[T]\nk = \"a\"b\"\n"), "a\"b");
        // Only a leading quote quotes; quotes inside a value are text.
        assert_eq!(one("[T]\nk = say \"hi\"\n"), "say \"hi\"");
    }

    #[test]
    fn unterminated_quote_is_an_error_on_its_line() {
        let err = parse("[T]\na = 1\nk = \"abc ; x\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("double quote"), "{}", err.message);
        assert_eq!(error_line("[T]\nk = \"abc\"x\n"), 2);
    }

    #[test]
    fn python_format_strings_and_backslashes_pass_through() {
        let fmt = "%(asctime)s - %(name)s - %(levelname)s - %(message)s";
        assert_eq!(one(&format!("[L]\nformat = {fmt}\n")), fmt);
        assert_eq!(
            one("[L]\nf = C:\\logs\\new\\x.log\n"),
            "C:\\logs\\new\\x.log"
        );
    }

    #[test]
    fn trailing_backslash_does_not_join_the_next_line() {
        let p = pairs("[T]\npath = C:\\data\\\nport = 1\n");
        assert_eq!(p[0].2, "C:\\data\\");
        assert_eq!((p[1].1.as_str(), p[1].2.as_str()), ("port", "1"));
    }

    #[test]
    fn indented_comment_does_not_swallow_the_next_key() {
        let p = pairs("[T]\n  ; indented comment\n\t# another\nport = 1\n");
        assert_eq!(p, vec![(Some("T".into()), "port".into(), "1".into())]);
    }

    #[test]
    fn section_header_comments_and_errors() {
        assert_eq!(pairs("[T] ; comment\nk = 1\n")[0].0.as_deref(), Some("T"));
        assert_eq!(pairs("[ T ]#c\nk = 1\n")[0].0.as_deref(), Some("T"));
        assert_eq!(error_line("[T] port = 1\n"), 1);
        assert_eq!(error_line("k = 1\n[T\nport = 1\n[D]\n"), 2);
        assert_eq!(error_line("[]\n"), 1);
    }

    #[test]
    fn backslash_before_the_closing_bracket_does_not_swallow_lines() {
        // Found by fuzz/ (target ini, input "[\\]"): rust-ini failed with "expecting
        // \"[Some(']')]\" but found EOF." on line 2 of 1, and `[a\]` took the next lines as
        // part of its name, losing their keys.
        assert!(parse("[\\]").is_ok());
        assert_eq!(
            pairs("[\\]\nk = 1\n"),
            [(Some("\\".into()), "k".into(), "1".into())]
        );
        assert_eq!(
            pairs("[a\\]\nk = 1\n[b\\\\]\nj = 2\n"),
            [
                (Some("a\\".into()), "k".into(), "1".into()),
                (Some("b\\\\".into()), "j".into(), "2".into()),
            ]
        );
    }

    #[test]
    fn lines_without_delimiter_are_errors() {
        let err = parse("[T]\nfoo\nport = 1\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("\"foo\""), "{}", err.message);
        let err = parse("[T]\nhost = 1.2.3.4,\n    5.6.7.8\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("one line"), "{}", err.message);
        assert_eq!(error_line("[T]\n= 1\n"), 2);
    }

    #[test]
    fn colon_delimiter_and_first_delimiter_wins() {
        assert_eq!(pairs("[T]\nhost: ::1\n")[0].2, "::1");
        assert_eq!(pairs("[T]\nk = a=b:c\n")[0].2, "a=b:c");
    }

    #[test]
    fn bom_line_ends_empty_values_and_keys_outside_sections() {
        let p = pairs("\u{feff}top = 1\r\n[T]\r\nk =\r\nj = 2\r\n");
        assert_eq!(
            pairs("[T]\rk = 1\r  ; c\rj = 2"),
            pairs("[T]\nk = 1\nj = 2")
        );
        assert_eq!(error_line("[T]\rk = 1\rbad\r"), 3);
        assert_eq!(
            p,
            vec![
                (None, "top".into(), "1".into()),
                (Some("T".into()), "k".into(), "".into()),
                (Some("T".into()), "j".into(), "2".into()),
            ]
        );
    }

    #[test]
    fn repeated_sections_and_keys_are_kept_in_order() {
        let blocks = parse("[T]\nport = 1\nport = 2\n[t]\nport = 3\n[T]\n").unwrap();
        let sections: Vec<_> = blocks.iter().map(|b| b.section.as_deref()).collect();
        assert_eq!(sections, vec![Some("T"), Some("t"), Some("T")]);
        assert_eq!(blocks[0].entries.len(), 2);
        assert!(blocks[2].entries.is_empty());
    }
}
