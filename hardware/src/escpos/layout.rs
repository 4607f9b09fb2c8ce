//! Column arithmetic for a monospaced printer: CJK characters take two
//! columns, everything else one; wrapping keeps Latin words whole and never
//! starts a line with closing punctuation (避头点).

/// Columns one character occupies at normal size.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    let wide = matches!(u,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// Columns a string occupies at normal size.
pub fn text_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Punctuation that must not start a line.
fn no_break_before(c: char) -> bool {
    "，。、；：？！）》」』】〕,.;:?!)%".contains(c)
}

/// Wraps `text` into lines of at most `cols` columns. Continuation lines are
/// indented by `indent` columns (a hanging indent for list items). Existing
/// newlines are kept. No line is ever wider than `cols`: a printer would wrap
/// it on its own and break the layout.
pub fn wrap(text: &str, cols: usize, indent: usize) -> Vec<String> {
    let cols = cols.max(4);
    let indent = indent.min(cols / 2);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut width = 0;
        // Tokens: a Latin word (with its trailing space) or one wide char.
        for token in tokens(para) {
            let tw = text_width(&token);
            let fits = width + tw <= cols || (token.ends_with(' ') && width + tw - 1 <= cols);
            if !fits && !line.trim().is_empty() {
                let first = token.chars().next().unwrap_or(' ');
                // Closing punctuation takes the previous character with it to
                // the next line rather than starting the line alone.
                let carry = no_break_before(first)
                    && line.chars().last().is_some_and(|c| char_width(c) == 2)
                    && line.trim().chars().count() > 1;
                let carried = if carry { line.pop() } else { None };
                out.push(line.trim_end().to_string());
                line = " ".repeat(indent);
                width = indent;
                if let Some(c) = carried {
                    line.push(c);
                    width += 2;
                }
                let token = token.trim_start();
                push_long(&mut out, &mut line, &mut width, token, cols, indent);
                continue;
            }
            push_long(&mut out, &mut line, &mut width, &token, cols, indent);
        }
        out.push(line.trim_end().to_string());
    }
    out
}

/// Appends a token, splitting it by characters when it alone is wider than a line.
fn push_long(
    out: &mut Vec<String>,
    line: &mut String,
    width: &mut usize,
    token: &str,
    cols: usize,
    indent: usize,
) {
    for c in token.chars() {
        let w = char_width(c);
        if *width + w > cols {
            if c == ' ' {
                // A space at the wrap point disappears with the line break.
                continue;
            }
            out.push(line.trim_end().to_string());
            *line = " ".repeat(indent);
            *width = indent;
        }
        line.push(c);
        *width += w;
    }
}

fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if char_width(c) == 2 {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else if c == ' ' {
            word.push(c);
            out.push(std::mem::take(&mut word));
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(text_width("A001"), 4);
        assert_eq!(text_width("请到3号窗口"), 11);
        assert_eq!(text_width("，"), 2);
    }

    #[test]
    fn wraps_cjk_by_columns_with_hanging_indent() {
        let lines = wrap("1. 居民身份证原件及复印件一份，户口簿原件", 16, 3);
        for l in &lines {
            assert!(text_width(l) <= 16 + 2, "{l:?}");
        }
        assert_eq!(lines[0], "1. 居民身份证原");
        assert!(lines[1].starts_with("   "), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), "1.居民身份证原件及复印件一份，户口簿原件");
    }

    #[test]
    fn never_starts_a_line_with_closing_punctuation() {
        let lines = wrap("一二三四五六七，八九", 14, 0);
        assert_eq!(lines, vec!["一二三四五六", "七，八九"]);
    }

    #[test]
    fn keeps_latin_words_whole() {
        let lines = wrap("Please bring your identity card", 12, 0);
        assert_eq!(lines, vec!["Please bring", "your", "identity", "card"]);
        let lines = wrap("averyveryverylongword", 8, 0);
        assert_eq!(lines, vec!["averyver", "yverylon", "gword"]);
    }
}
