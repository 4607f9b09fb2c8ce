//! The phrase planner, pure: a call becomes a list of clip ids.
//!
//! Mandarin: "请 A 零 零 一 号 到 三 号窗口 办理" — the ticket read character
//! by character (letters by name, digits one by one), the window read as a
//! number (十二, 二十, 一百零五). English: "ticket A zero zero one, please go
//! to window twelve".

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("ticket number {0:?} has a character that cannot be spoken (letters and digits only)")]
    Ticket(String),
    #[error("window number {0} cannot be spoken (1-999)")]
    Window(u32),
}

/// Clip id of a digit in a language.
fn digit(lang: Lang, d: u32) -> String {
    match lang {
        Lang::Zh => format!("zh_{d}"),
        Lang::En => format!("en_{d}"),
    }
}

/// Mandarin reading of 1..=999 as clip ids: 十二, 二十一, 一百零五, 一百一十五
/// (below 100 a leading 一 is dropped: 十二, not 一十二).
pub fn number_zh(n: u32) -> Vec<String> {
    let d = |x: u32| digit(Lang::Zh, x);
    let (h, t, o) = (n / 100, n / 10 % 10, n % 10);
    let mut out = Vec::new();
    if h > 0 {
        out.push(d(h));
        out.push("zh_100".into());
    }
    match t {
        0 if h > 0 && o > 0 => out.push(d(0)),
        0 => {}
        1 if h == 0 => out.push("zh_10".into()),
        t => {
            out.push(d(t));
            out.push("zh_10".into());
        }
    }
    if o > 0 || n == 0 {
        out.push(d(o));
    }
    out
}

/// English reading of 1..=999 as clip ids (en_1 … en_19, en_20 … en_90, en_hundred).
pub fn number_en(n: u32) -> Vec<String> {
    let mut out = Vec::new();
    let (h, rest) = (n / 100, n % 100);
    if h > 0 {
        out.push(format!("en_{h}"));
        out.push("en_hundred".into());
    }
    match rest {
        0 => {}
        1..=19 => out.push(format!("en_{rest}")),
        _ => {
            out.push(format!("en_{}", rest / 10 * 10));
            if rest % 10 > 0 {
                out.push(format!("en_{}", rest % 10));
            }
        }
    }
    out
}

fn ticket_clips(lang: Lang, ticket: &str) -> Result<Vec<String>, PlanError> {
    ticket
        .chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                Ok(format!("letter_{}", c.to_ascii_lowercase()))
            } else if let Some(d) = c.to_digit(10) {
                Ok(digit(lang, d))
            } else {
                Err(PlanError::Ticket(ticket.to_string()))
            }
        })
        .collect()
}

/// The clips of one announcement (without chime and repeats).
pub fn plan(ticket: &str, window: u32, lang: Lang) -> Result<Vec<String>, PlanError> {
    if ticket.is_empty() {
        return Err(PlanError::Ticket(String::new()));
    }
    if !(1..=999).contains(&window) {
        return Err(PlanError::Window(window));
    }
    let t = ticket_clips(lang, ticket)?;
    Ok(match lang {
        Lang::Zh => {
            let mut v = vec!["zh_qing".to_string()];
            v.extend(t);
            v.push("zh_hao".into());
            v.push("zh_dao".into());
            v.extend(number_zh(window));
            v.push("zh_hao_chuangkou".into());
            v.push("zh_banli".into());
            v
        }
        Lang::En => {
            let mut v = vec!["en_ticket".to_string()];
            v.extend(t);
            v.push("en_please_go_to_window".into());
            v.extend(number_en(window));
            v
        }
    })
}

/// Every clip id the planner can produce, so a voice pack can be checked
/// completely when it is loaded.
pub fn all_clip_ids() -> Vec<String> {
    let mut v: Vec<String> = ["zh_qing", "zh_hao", "zh_dao", "zh_hao_chuangkou", "zh_banli", "zh_10", "zh_100"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend((0..=9).map(|d| format!("zh_{d}")));
    v.extend((b'a'..=b'z').map(|c| format!("letter_{}", c as char)));
    v.extend(["en_ticket", "en_please_go_to_window", "en_hundred"].iter().map(|s| s.to_string()));
    v.extend((0..=19).map(|d| format!("en_{d}")));
    v.extend((2..=9).map(|t| format!("en_{}", t * 10)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zh(n: u32) -> String {
        // Render clip ids back to characters for readable expectations.
        number_zh(n)
            .iter()
            .map(|c| match c.as_str() {
                "zh_10" => "十".to_string(),
                "zh_100" => "百".to_string(),
                other => {
                    let d: usize = other[3..].parse().unwrap();
                    "零一二三四五六七八九".chars().nth(d).unwrap().to_string()
                }
            })
            .collect()
    }

    #[test]
    fn windows_read_as_numbers_in_mandarin() {
        let cases = [
            (1, "一"),
            (3, "三"),
            (10, "十"),
            (12, "十二"),
            (20, "二十"),
            (21, "二十一"),
            (30, "三十"),
            (99, "九十九"),
            (100, "一百"),
            (105, "一百零五"),
            (110, "一百一十"),
            (115, "一百一十五"),
            (999, "九百九十九"),
        ];
        for (n, want) in cases {
            assert_eq!(zh(n), want, "{n}");
        }
    }

    #[test]
    fn the_example_phrase() {
        let p = plan("A001", 3, Lang::Zh).unwrap();
        assert_eq!(
            p,
            ["zh_qing", "letter_a", "zh_0", "zh_0", "zh_1", "zh_hao", "zh_dao", "zh_3", "zh_hao_chuangkou", "zh_banli"]
        );
        let p = plan("YA012", 12, Lang::Zh).unwrap();
        assert_eq!(&p[1..6], ["letter_y", "letter_a", "zh_0", "zh_1", "zh_2"]);
        assert_eq!(&p[7..9], ["zh_dao", "zh_10"]);
        assert_eq!(p[9], "zh_2");
    }

    #[test]
    fn english_phrasing() {
        let p = plan("B120", 21, Lang::En).unwrap();
        assert_eq!(
            p,
            ["en_ticket", "letter_b", "en_1", "en_2", "en_0", "en_please_go_to_window", "en_20", "en_1"]
        );
        assert_eq!(number_en(13), ["en_13"]);
        assert_eq!(number_en(100), ["en_1", "en_hundred"]);
        assert_eq!(number_en(305), ["en_3", "en_hundred", "en_5"]);
    }

    #[test]
    fn every_planned_clip_is_in_the_catalogue_of_clips() {
        let all = all_clip_ids();
        for w in 1..=999 {
            for t in ["A001", "YC099", "Z900"] {
                for lang in [Lang::Zh, Lang::En] {
                    for c in plan(t, w, lang).unwrap() {
                        assert!(all.contains(&c), "{c} from {t} {w} {lang:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn unspeakable_input_is_an_error() {
        assert_eq!(plan("A-01", 3, Lang::Zh), Err(PlanError::Ticket("A-01".into())));
        assert_eq!(plan("A001", 0, Lang::Zh), Err(PlanError::Window(0)));
        assert_eq!(plan("A001", 1000, Lang::En), Err(PlanError::Window(1000)));
        assert!(plan("", 1, Lang::Zh).is_err());
    }
}
