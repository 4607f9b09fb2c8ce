//! The kiosk's configuration (TOML). Every field has a default, so an empty
//! file (or none) gives a kiosk that talks to a local server and runs the
//! printer and ID-card reader simulators in process.
//!
//! ```toml
//! server = "http://127.0.0.1:50051"
//! device_token = ""          # sent as `x-device-token` on every call
//! kiosk_id = "kiosk-1"
//! lang = "zh"                # "zh" or "en" at start (the visitor can switch)
//! green_channel_age = 70     # offer the elderly green channel from this age
//! idle_timeout_s = 60        # back to the home screen after no touch
//! done_timeout_s = 20        # how long the ticket screen stays
//! status_url = "https://hall.example.gov.cn/t"   # QR when the server names no page: {status_url}/{date}/{number}?s={secret}
//! elder_categories = ["A", "B"]   # 适老化 mode offers these (default: the busiest six)
//!
//! [printer]
//! port = "/dev/ttyUSB0"      # empty: the simulated printer
//! width = 80                 # 58 or 80 (mm)
//! baud = 9600
//! flow = "none"              # "none", "hardware" (RTS/CTS) or "software"
//!
//! [reader]
//! port = "/dev/ttyUSB1"      # empty: the simulated reader
//! baud = 115200
//! ```

use hall_hardware::serial::{Flow, LineSettings};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    pub server: String,
    pub device_token: String,
    pub kiosk_id: String,
    pub lang: String,
    pub green_channel_age: u32,
    pub idle_timeout_s: u64,
    pub done_timeout_s: u64,
    pub status_url: String,
    pub elder_categories: Vec<String>,
    pub printer: PrinterConfig,
    pub reader: ReaderConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrinterConfig {
    pub port: String,
    pub width: u32,
    pub baud: u32,
    pub flow: Flow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReaderConfig {
    pub port: String,
    pub baud: u32,
}

impl Default for KioskConfig {
    fn default() -> Self {
        KioskConfig {
            server: "http://127.0.0.1:50051".into(),
            device_token: String::new(),
            kiosk_id: "kiosk-1".into(),
            lang: "zh".into(),
            green_channel_age: 70,
            idle_timeout_s: 60,
            done_timeout_s: 20,
            status_url: "https://hall.example.gov.cn/t".into(),
            elder_categories: Vec::new(),
            printer: PrinterConfig::default(),
            reader: ReaderConfig::default(),
        }
    }
}

impl Default for PrinterConfig {
    fn default() -> Self {
        PrinterConfig { port: String::new(), width: 80, baud: LineSettings::PRINTER.baud, flow: Flow::None }
    }
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig { port: String::new(), baud: LineSettings::ID_READER.baud }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: String, source: Box<toml::de::Error> },
    #[error("{path}: {key}: {message}")]
    Invalid { path: String, key: &'static str, message: String },
}

impl KioskConfig {
    pub fn load(path: &Path) -> Result<KioskConfig, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: p.clone(), source })?;
        Self::parse(&text, &p)
    }

    /// Parses and checks a configuration; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<KioskConfig, ConfigError> {
        let c: KioskConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: origin.into(), source: Box::new(e) })?;
        c.check(origin)?;
        Ok(c)
    }

    /// The checks a file gets, for a configuration changed afterwards (flags).
    pub fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key, message: String| Err(ConfigError::Invalid { path: origin.into(), key, message });
        if self.printer.width != 58 && self.printer.width != 80 {
            return bad("printer.width", format!("{} mm is not a supported paper width (58 or 80)", self.printer.width));
        }
        if self.lang != "zh" && self.lang != "en" {
            return bad("lang", format!("'{}' is not a language of the kiosk (zh or en)", self.lang));
        }
        if self.kiosk_id.trim().is_empty() {
            return bad("kiosk_id", "must not be empty: the server names the kiosk's printer by it".into());
        }
        if !(self.server.starts_with("http://") || self.server.starts_with("https://")) {
            return bad("server", format!("'{}' is not a URL (http://host:port)", self.server));
        }
        if self.idle_timeout_s < 10 {
            return bad("idle_timeout_s", "below 10 seconds a visitor cannot read the guidance".into());
        }
        Ok(())
    }

    pub fn printer_line(&self) -> LineSettings {
        LineSettings { baud: self.printer.baud, flow: self.printer.flow }
    }

    pub fn reader_line(&self) -> LineSettings {
        LineSettings { baud: self.reader.baud, flow: Flow::None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = KioskConfig::parse("", "k.toml").unwrap();
        assert_eq!(c.printer.width, 80);
        assert_eq!(c.green_channel_age, 70);
        assert!(c.printer.port.is_empty());
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e = KioskConfig::parse("[printer]\nwidth = 76\n", "k.toml").unwrap_err().to_string();
        assert_eq!(e, "k.toml: printer.width: 76 mm is not a supported paper width (58 or 80)");
        let e = KioskConfig::parse("[printer]\nwidht = 58\n", "k.toml").unwrap_err().to_string();
        assert!(e.starts_with("k.toml: ") && e.contains("widht"), "{e}");
        let e = KioskConfig::parse("server = \"localhost:50051\"\n", "k.toml").unwrap_err().to_string();
        assert!(e.contains("server: 'localhost:50051' is not a URL"), "{e}");
        let e = KioskConfig::parse("[printer]\nflow = \"rts\"\n", "k.toml").unwrap_err().to_string();
        assert!(e.contains("flow"), "{e}");
    }
}
