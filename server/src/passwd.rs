//! `hall-server passwd`: writes a clerk's PIN into a configuration file as
//! an Argon2id hash, in place: comments, order and layout are kept, and the
//! old `pin_sha256` (refused since) is removed.

use hall_engine::catalog::hash_pin;

#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    #[error("the configuration is not valid TOML: {0}")]
    Toml(#[from] toml_edit::TomlError),
    #[error("no [[clerks]] entry with id = \"{0}\"")]
    UnknownClerk(String),
    #[error("a PIN must have 4 to 64 characters (got {0})")]
    BadPin(usize),
}

/// Checks a new PIN's shape (its strength is the lockout's job).
pub fn check_pin(pin: &str) -> Result<(), PasswdError> {
    let n = pin.chars().count();
    if (4..=64).contains(&n) {
        Ok(())
    } else {
        Err(PasswdError::BadPin(n))
    }
}

/// The configuration `text` with clerk `clerk`'s PIN set to `pin`.
pub fn set_pin(text: &str, clerk: &str, pin: &str) -> Result<String, PasswdError> {
    check_pin(pin)?;
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let entry = doc
        .get_mut("clerks")
        .and_then(|c| c.as_array_of_tables_mut())
        .and_then(|a| {
            a.iter_mut()
                .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(clerk))
        })
        .ok_or_else(|| PasswdError::UnknownClerk(clerk.to_string()))?;
    entry.remove("pin_sha256");
    entry["pin_argon2"] = toml_edit::value(hash_pin(clerk, pin, rand::random()));
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_the_hash_in_place_keeping_comments_and_the_rest() {
        let text = "# the hall\n[[clerks]]\nid = \"c01\"\nname = \"王晓明\"\npin_sha256 = \"ab\"\n\n[[clerks]]\nid = \"c02\"\nname = \"李丽华\"\n";
        let out = set_pin(text, "c02", "2468").unwrap();
        assert!(out.starts_with("# the hall\n"), "{out}");
        assert!(out.contains("pin_sha256 = \"ab\""), "c01 untouched: {out}");
        let doc: toml::Value = toml::from_str(&out).unwrap();
        let c02 = &doc["clerks"][1];
        let clerk = hall_engine::catalog::Clerk {
            id: "c02".into(),
            name: String::new(),
            pin_argon2: c02["pin_argon2"].as_str().unwrap().into(),
            pin_sha256: None,
        };
        assert!(hall_engine::catalog::verify_pin(&clerk, "2468"));
        assert!(!hall_engine::catalog::verify_pin(&clerk, "2469"));
        assert!(matches!(
            set_pin(text, "c09", "2468"),
            Err(PasswdError::UnknownClerk(_))
        ));
        assert!(matches!(
            set_pin(text, "c01", "12"),
            Err(PasswdError::BadPin(2))
        ));
    }
}
