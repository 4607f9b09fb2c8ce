//! Opening real serial ports with explicit line settings (§0): both devices
//! are opened 8N1 with the flow control and baud rate the configuration says,
//! and a short read timeout, so drivers can apply their own per-request
//! deadlines instead of blocking.

use serde::{Deserialize, Serialize};
use std::io::{self, Read};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    #[default]
    None,
    /// RTS/CTS
    Hardware,
    /// XON/XOFF
    Software,
}

/// Line settings for one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LineSettings {
    pub baud: u32,
    pub flow: Flow,
}

impl LineSettings {
    /// The SAM module's default: 115200 8N1.
    pub const ID_READER: LineSettings = LineSettings { baud: 115_200, flow: Flow::None };
    /// python-escpos' default for serial printers: 9600 8N1.
    pub const PRINTER: LineSettings = LineSettings { baud: 9_600, flow: Flow::None };
}

impl Default for LineSettings {
    fn default() -> Self {
        LineSettings::PRINTER
    }
}

/// Opens `path` 8N1 with `settings`; reads time out after 20 ms so callers
/// can poll towards their own deadlines.
pub fn open(path: &str, settings: LineSettings) -> Result<Box<dyn serialport::SerialPort>, serialport::Error> {
    serialport::new(path, settings.baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(match settings.flow {
            Flow::None => serialport::FlowControl::None,
            Flow::Hardware => serialport::FlowControl::Hardware,
            Flow::Software => serialport::FlowControl::Software,
        })
        .timeout(Duration::from_millis(20))
        .open()
}

/// Reads whatever arrives before `deadline` into `buf`, returning how many
/// bytes came (0 = nothing before the deadline). Works for serial ports
/// (which time out), pseudo-terminals and in-memory buffers (which hit EOF).
pub fn read_some(port: &mut impl Read, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        match port.read(buf) {
            Ok(0) => {
                if Instant::now() >= deadline {
                    return Ok(0);
                }
                // EOF on a buffer or a hung-up line: do not spin.
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(n) => return Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                if Instant::now() >= deadline {
                    return Ok(0);
                }
            }
            Err(e) => return Err(e),
        }
    }
}
