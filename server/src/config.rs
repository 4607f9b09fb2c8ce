//! Reading the hall configuration from a file. Parsing, validation and the
//! built-in hall are the engine's (`hall_engine::config`), re-exported here.

use hall_engine::catalog::Catalog;
pub use hall_engine::config::*;
use std::path::Path;

/// Reads, parses and validates a config file.
pub fn load(path: &Path) -> Result<Catalog, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file)
}
