//! Personal data helpers used by every component: masked names (张*三), masked
//! ID numbers (610102********1234), keyed hashes of ID numbers and ages.
//!
//! An [`IdNumber`] never shows its plain digits: `Debug` and `Display` print
//! the masked form, and the only ways out are [`IdNumber::masked`] and
//! [`IdNumber::keyed_hash`]. That is how "the plain number never leaves the
//! driver" is kept by construction rather than by review.

use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// Why a string is not an ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("ID number must have 18 characters (17 digits and a check character), got {0}")]
    Length(usize),
    #[error("ID number may only contain digits and a final X")]
    Characters,
    #[error("ID number check digit is wrong (GB 11643): expected {expected}, found {found}")]
    CheckDigit { expected: char, found: char },
    #[error("ID number carries an impossible birth date")]
    BirthDate,
    #[error("foreign permanent resident number (2017) must be 3 letters and 12 digits")]
    Foreign2017,
}

/// The GB 11643 (ISO 7064 MOD 11-2) check character for 17 digits.
pub fn check_char(first17: &[u8]) -> Option<char> {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17.iter().zip(W).map(|(d, w)| u32::from(d - b'0') * w).sum();
    Some(C[(sum % 11) as usize] as char)
}

/// A validated identity document number. Holds the plain value privately.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// An 18-character number: resident cards, Hong Kong/Macau/Taiwan
    /// residence permits and the 2023 foreign permanent resident card. The
    /// check digit and the embedded birth date must be right.
    pub fn parse(s: &str) -> Result<Self, IdNumberError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18 {
            return Err(IdNumberError::Length(s.chars().count()));
        }
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(IdNumberError::Characters);
        }
        let expected = check_char(&b[..17]).ok_or(IdNumberError::Characters)?;
        if expected != b[17] as char {
            return Err(IdNumberError::CheckDigit { expected, found: b[17] as char });
        }
        let id = IdNumber(s);
        id.birth_date().ok_or(IdNumberError::BirthDate)?;
        Ok(id)
    }

    /// The 15-character number of the 2017 foreign permanent resident card
    /// (3 letters for the nationality, 12 digits).
    pub fn parse_foreign_2017(s: &str) -> Result<Self, IdNumberError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 15
            || !b[..3].iter().all(u8::is_ascii_uppercase)
            || !b[3..].iter().all(u8::is_ascii_digit)
        {
            return Err(IdNumberError::Foreign2017);
        }
        Ok(IdNumber(s))
    }

    /// 610102********1234 (18 characters) or ABC********1234 (15).
    pub fn masked(&self) -> String {
        mask_id_number(&self.0)
    }

    /// HMAC-SHA256 of the number with the site secret, lower-case hex. Stable
    /// per site (so "one ticket per person" works), useless without the secret.
    pub fn keyed_hash(&self, secret: &[u8]) -> String {
        keyed_hash(secret, &self.0)
    }

    /// The birth date embedded in an 18-character number (digits 7–14).
    pub fn birth_date(&self) -> Option<NaiveDate> {
        if self.0.len() != 18 {
            return None;
        }
        let d = &self.0[6..14];
        NaiveDate::parse_from_str(d, "%Y%m%d").ok()
    }

    /// The plain number, for the one place it may go: the hall server's API,
    /// which keys it with the site secret at its edge and forgets it. Never
    /// log it, show it or print it (use [`IdNumber::masked`]).
    pub fn expose_to_server(&self) -> &str {
        &self.0
    }

    /// The first six digits: the administrative area of registration.
    pub fn region(&self) -> &str {
        &self.0[..self.0.len().min(6)]
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// HMAC-SHA256 of a normalised (trimmed, upper-case) ID number, hex.
pub fn keyed_hash(secret: &[u8], id_number: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(id_number.trim().to_ascii_uppercase().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Masks an ID number for screens and slips: keeps the region (6) and the last
/// 4 characters of an 18-character number, the first 3 and last 4 otherwise.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        18.. => (6, 4),
        8..=17 => (3, 4),
        _ => (0, n.min(1)),
    };
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

/// Masks a name: 张三 → 张*, 张小三 → 张*三, 欧阳娜娜 → 欧**娜; Latin names keep
/// the first letter of each word (JOHN SMITH → J*** S****).
pub fn mask_name(name: &str) -> String {
    let name = name.trim();
    let chars: Vec<char> = name.chars().collect();
    if chars.iter().any(|c| c.is_ascii_alphabetic()) {
        return name
            .split_whitespace()
            .map(|w| {
                let mut cs = w.chars();
                cs.next()
                    .map_or(String::new(), |f| format!("{f}{}", "*".repeat(cs.count())))
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// Full years of age on `on` for someone born on `birth`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_from_the_protocol_notes() {
        assert_eq!(check_char(b"11010519491231002"), Some('X'));
        assert_eq!(check_char(b"44030019900101001"), Some('6'));
        assert_eq!(check_char(b"91013219900101123"), Some('0'));
        assert!(IdNumber::parse("11010519491231002x").is_ok());
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::CheckDigit { expected: 'X', found: '1' })
        );
        assert_eq!(IdNumber::parse("1101051949123100"), Err(IdNumberError::Length(16)));
        assert_eq!(IdNumber::parse("11010519491231A02X"), Err(IdNumberError::Characters));
        // Right check digit, impossible date (month 13).
        let mut s = b"11010519491331002".to_vec();
        s.push(check_char(&s).unwrap() as u8);
        assert_eq!(
            IdNumber::parse(std::str::from_utf8(&s).unwrap()),
            Err(IdNumberError::BirthDate)
        );
    }

    #[test]
    fn never_shows_plain_digits() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id}"), "110105********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(110105********002X)");
        assert_eq!(mask_id_number("ABC123456789012"), "ABC********9012");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31));
    }

    #[test]
    fn masks_names() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("张小三"), "张*三");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("JOHN SMITH"), "J*** S****");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn keyed_hash_is_keyed_and_normalised() {
        let a = keyed_hash(b"s1", "11010519491231002x");
        assert_eq!(a, keyed_hash(b"s1", "11010519491231002X"));
        assert_ne!(a, keyed_hash(b"s2", "11010519491231002X"));
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.keyed_hash(b"s1"), a);
    }

    #[test]
    fn ages() {
        let b = NaiveDate::from_ymd_opt(1956, 3, 1).unwrap();
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()), 69);
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()), 70);
    }
}
