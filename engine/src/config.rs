//! Parsing and validating the hall configuration (TOML text; reading the
//! file is the caller's: `hall_server::config::load`).
//!
//! Errors name the file, the key and the problem, so a hall administrator can
//! fix a broken file without reading code. The built-in hall
//! (`config/default-hall.toml`) is compiled in and used when no file is given.

use crate::catalog::{Catalog, CatalogProblem};

/// The built-in hall's TOML text.
pub const BUILTIN_HALL: &str = include_str!("../config/default-hall.toml");
/// The built-in street service centre (三级协同), under the district hall.
pub const BUILTIN_STREET: &str = include_str!("../config/street-centre.toml");
/// The built-in community station, under the street centre.
pub const BUILTIN_COMMUNITY: &str = include_str!("../config/community-station.toml");

/// The built-in profiles by name: `district` (the hall), `street`,
/// `community`.
pub const PROFILES: [(&str, &str); 3] = [
    ("district", BUILTIN_HALL),
    ("street", BUILTIN_STREET),
    ("community", BUILTIN_COMMUNITY),
];

/// A built-in profile's TOML text.
pub fn profile_text(name: &str) -> Option<&'static str> {
    PROFILES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A built-in profile, parsed.
pub fn profile(name: &str) -> Option<Catalog> {
    let text = profile_text(name)?;
    Some(
        parse(text, &format!("built-in {name} profile"))
            .expect("the built-in profiles are valid (tested)"),
    )
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    /// Not valid TOML, or a key has the wrong type or is unknown.
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    /// Well-formed, but the content is inconsistent.
    #[error("{file}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        file: String,
        problems: Vec<CatalogProblem>,
    },
}

/// Parses and validates config text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Catalog, ConfigError> {
    let catalog: Catalog = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        file: file.to_string(),
        // toml's message carries the line, column and key path.
        message: e.to_string().trim_end().to_string(),
    })?;
    catalog
        .validate()
        .map_err(|problems| ConfigError::Invalid {
            file: file.to_string(),
            problems,
        })?;
    Ok(catalog)
}

/// The built-in hall.
pub fn builtin() -> Catalog {
    parse(BUILTIN_HALL, "built-in hall").expect("the built-in hall is valid (tested)")
}

/// The same hall, open every day around the clock with no issuing cutoff and
/// no ID-card requirement: for tests, benchmarks and demos that must work
/// whenever they run (a real hall uses its real calendar).
pub fn around_the_clock(mut c: Catalog) -> Catalog {
    c.calendar.weekday_open = "00:00".into();
    c.calendar.weekday_close = "24:00".into();
    c.calendar.weekend_open = Some("00:00".into());
    c.calendar.weekend_close = Some("24:00".into());
    c.calendar.holidays.clear();
    c.calendar.makeup_workdays.clear();
    for cat in &mut c.categories {
        cat.issue_from = None;
        cat.issue_until = None;
        cat.weekend_service = true;
        cat.id_card_required = false;
    }
    for b in &mut c.bundles {
        b.id_card_required = false;
    }
    c
}

/// The catalogue as TOML text (for AdminService.GetConfig).
pub fn to_toml(catalog: &Catalog) -> String {
    toml::to_string_pretty(catalog).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_hall_is_valid_and_as_planned() {
        let c = builtin();
        assert_eq!(c.departments.len(), 9);
        assert!(c.categories.len() >= 20, "{}", c.categories.len());
        assert_eq!(c.windows.len(), 30);
        assert_eq!(c.zones.len(), 4);
        let bundles: Vec<&str> = c.bundles.iter().map(|b| b.name_zh.as_str()).collect();
        assert_eq!(
            bundles,
            ["出版物一件事", "开办小作坊店一件事", "开办电影院一件事"]
        );
        assert!(c.calendar.weekend_open.is_some(), "weekend opening");
        // Round trip through TOML (AdminService.GetConfig -> UpdateConfig).
        assert_eq!(parse(&to_toml(&c), "round trip").unwrap(), c);
    }

    #[test]
    fn the_three_levels_form_one_network() {
        use crate::site::SiteLevel;
        let d = profile("district").unwrap();
        let s = profile("street").unwrap();
        let c = profile("community").unwrap();
        assert_eq!(d, builtin());
        assert_eq!(
            [d.site.level, s.site.level, c.site.level],
            [SiteLevel::District, SiteLevel::Street, SiteLevel::Community]
        );
        assert_eq!(s.site.parent, d.site.id);
        assert_eq!(c.site.parent, s.site.id);
        assert!(s.windows.len() < d.windows.len() && c.windows.len() < s.windows.len());
        assert!(profile("province").is_none());
        // The station's window 2 is a remote window staffed from the district.
        let remote = c.window(2).and_then(|w| w.remote.as_ref()).unwrap();
        assert_eq!(remote.staffed_from, d.site.id);
        assert!(
            c.clerks
                .iter()
                .any(|k| k.home_site == d.site.id && !k.desk.is_empty())
        );
        for p in [&s, &c] {
            assert_eq!(parse(&to_toml(p), "round trip").unwrap(), *p);
        }
    }

    #[test]
    fn site_and_ship_problems_are_named_at_their_key() {
        let base = BUILTIN_STREET.replace("id = \"610102-street-1\"", "id = \"Street 1\"");
        let err = parse(&base, "s.toml").unwrap_err().to_string();
        assert!(err.contains("site.id"), "{err}");
        let ship =
            format!("{BUILTIN_COMMUNITY}\n[ship]\nurl = \"mysql://x\"\naggregate_every_s = 0\n");
        let err = parse(&ship, "c.toml").unwrap_err().to_string();
        assert!(
            err.contains("ship.url") && err.contains("ship.aggregate_every_s"),
            "{err}"
        );
        let ok =
            format!("{BUILTIN_COMMUNITY}\n[ship]\nurl = \"postgres://hall@127.0.0.1:5432/city\"\n");
        let c = parse(&ok, "c.toml").unwrap();
        assert_eq!(c.ship.unwrap().aggregate_every_s, 30);
        let orphan = BUILTIN_STREET.replace("parent = \"610102-district\"", "parent = \"\"");
        let err = parse(&orphan, "s.toml").unwrap_err().to_string();
        assert!(err.contains("site.parent"), "{err}");
    }

    #[test]
    fn syntax_error_names_file_line_and_key() {
        let err = parse("[hall]\nname_zh = 3\n", "hall.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("hall.toml: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("name_zh"), "{err}");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let text = BUILTIN_HALL.replace("[policy]\n", "[policy]\npriority_ration = 4\n");
        let err = parse(&text, "x.toml").unwrap_err().to_string();
        assert!(err.contains("priority_ration"), "{err}");
    }

    #[test]
    fn validation_names_every_bad_key() {
        let text = BUILTIN_HALL
            .replacen("prefix = \"B\"", "prefix = \"A\"", 1)
            .replacen("department = \"tax\"", "department = \"taxes\"", 1)
            .replacen("weekday_close = \"17:00\"", "weekday_close = \"5pm\"", 1);
        let err = parse(&text, "hall.toml").unwrap_err().to_string();
        assert!(
            err.contains("categories[1].prefix: 'A' is used by another category or bundle"),
            "{err}"
        );
        assert!(
            err.contains("categories[5].department: no department 'taxes'"),
            "{err}"
        );
        assert!(
            err.contains("calendar.weekday_close: '5pm' is not HH:MM"),
            "{err}"
        );
        assert!(err.starts_with("hall.toml: 3 problem(s)"), "{err}");
    }
}
