//! Personal data at the API edge: the ID number becomes a keyed hash (never
//! stored, never logged), the name becomes its masked form (张*三).
//!
//! Only the gRPC layer calls these; the engine sees `Person` alone.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of the normalised ID number with the site secret, hex.
/// Stable per site, so "one active ticket per person" works across restarts,
/// but useless to anyone without the secret.
pub fn person_key(secret: &[u8], id_number: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(id_number.trim().to_ascii_uppercase().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Masks a name: 张三 → 张*, 张小三 → 张*三, 欧阳娜娜 → 欧**娜; Latin names keep
/// the first letter of each word.
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

/// Checks the shape of an 18-character ID number (digits, last may be X) and
/// its GB 11643 check digit.
pub fn valid_id_number(id: &str) -> bool {
    let b = id.trim().to_ascii_uppercase();
    let b = b.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    C[(sum % 11) as usize] == b[17]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_names() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("张小三"), "张*三");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("John Smith"), "J*** S****");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn check_digit() {
        assert!(valid_id_number("11010519491231002X"));
        assert!(!valid_id_number("110105194912310021"));
        assert!(!valid_id_number("11010519491231002"));
    }

    #[test]
    fn person_key_is_keyed_and_normalised() {
        let a = person_key(b"s1", "11010519491231002x");
        assert_eq!(a, person_key(b"s1", "11010519491231002X"));
        assert_ne!(a, person_key(b"s2", "11010519491231002X"));
        assert!(!a.contains("110105"));
    }
}
