//! `hall-server passwd`: writes a clerk's PIN, or a supervisor's or admin's
//! password, into a configuration file as an Argon2id hash, in place:
//! comments, order and layout are kept, and the old `pin_sha256` (refused
//! since) is removed. A staff account that does not exist yet is added.

use hall_engine::catalog::hash_pin;

#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    #[error("the configuration is not valid TOML: {0}")]
    Toml(#[from] toml_edit::TomlError),
    #[error("no [[clerks]] entry with id = \"{0}\"")]
    UnknownClerk(String),
    #[error("a PIN must have 4 to 64 characters (got {0})")]
    BadPin(usize),
    #[error("a password must have {min} to 128 characters (got {0})", min = hall_engine::catalog::MIN_PASSWORD_CHARS)]
    BadPassword(usize),
    #[error(
        "no [[staff]] entry with id = \"{0}\": give --role supervisor|admin (and --name) to add one"
    )]
    UnknownStaff(String),
}

/// Checks a new staff password's length (a password, unlike a PIN, is
/// typed on a full keyboard: long enough to resist offline guessing of a
/// stolen configuration file).
pub fn check_password(password: &str) -> Result<(), PasswdError> {
    let n = password.chars().count();
    if (hall_engine::catalog::MIN_PASSWORD_CHARS..=128).contains(&n) {
        Ok(())
    } else {
        Err(PasswdError::BadPassword(n))
    }
}

/// The configuration `text` with staff account `id`'s password set; the
/// account is added with `new` (role, name) when it does not exist.
pub fn set_staff_password(
    text: &str,
    id: &str,
    new: Option<(hall_engine::catalog::StaffRole, &str)>,
    password: &str,
) -> Result<String, PasswdError> {
    check_password(password)?;
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let hash = hash_pin(id, password, rand::random());
    if doc.get("staff").is_none() {
        doc["staff"] = toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new());
    }
    let staff = doc["staff"]
        .as_array_of_tables_mut()
        .ok_or_else(|| PasswdError::UnknownStaff(id.to_string()))?;
    let found = staff
        .iter_mut()
        .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id));
    match found {
        Some(entry) => {
            if let Some((role, _)) = new {
                entry["role"] = toml_edit::value(role.as_str());
            }
            entry["password_argon2"] = toml_edit::value(hash);
        }
        None => {
            let (role, name) = new.ok_or_else(|| PasswdError::UnknownStaff(id.to_string()))?;
            let mut t = toml_edit::Table::new();
            t["id"] = toml_edit::value(id);
            t["name"] = toml_edit::value(if name.is_empty() { id } else { name });
            t["role"] = toml_edit::value(role.as_str());
            t["password_argon2"] = toml_edit::value(hash);
            staff.push(t);
        }
    }
    Ok(doc.to_string())
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
            home_site: String::new(),
            desk: String::new(),
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

    #[test]
    fn adds_a_staff_account_or_sets_its_password_and_the_result_validates() {
        use hall_engine::catalog::{StaffRole, verify_password};
        let base = crate::config::to_toml(&crate::config::builtin());
        assert!(matches!(
            set_staff_password(&base, "zz", None, "long enough pw"),
            Err(PasswdError::UnknownStaff(_))
        ));
        assert!(matches!(
            set_staff_password(&base, "zz", Some((StaffRole::Admin, "")), "short"),
            Err(PasswdError::BadPassword(5))
        ));
        let added = set_staff_password(
            &base,
            "zz",
            Some((StaffRole::Admin, "周管理")),
            "correct horse battery",
        )
        .unwrap();
        let cat = crate::config::parse(&added, "test").unwrap();
        let zz = cat.staff_account("zz").unwrap();
        assert_eq!((zz.name.as_str(), zz.role), ("周管理", StaffRole::Admin));
        assert!(verify_password(zz, "correct horse battery"));
        let changed = set_staff_password(&added, "zz", None, "another long one").unwrap();
        let cat = crate::config::parse(&changed, "test").unwrap();
        let zz = cat.staff_account("zz").unwrap();
        assert!(verify_password(zz, "another long one"));
        assert!(!verify_password(zz, "correct horse battery"));
        assert_eq!(zz.role, StaffRole::Admin);
    }
}
