//! Byte-exact device simulators on pseudo-terminals, for tests and the demo.
//! A driver opens the simulator's slave path with `serialport` exactly as it
//! would open `/dev/ttyUSB0`; the simulator answers on the master side.

pub mod printer;
pub mod reader;

pub use printer::{PrinterSim, PrinterSimConfig};
pub use reader::{parse_cards, sample_cards, ReaderSim, ReaderSimConfig};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A pseudo-terminal in raw mode. The simulator keeps the slave open too, so
/// the line stays up between clients.
pub struct Pty {
    master: File,
    _slave: OwnedFd,
    path: PathBuf,
}

impl Pty {
    pub fn open() -> io::Result<Pty> {
        let r = nix::pty::openpty(None, None).map_err(io::Error::from)?;
        let mut t = termios::tcgetattr(&r.slave).map_err(io::Error::from)?;
        // Raw: no echo, no CR/LF translation, no signals — bytes pass as they are.
        termios::cfmakeraw(&mut t);
        termios::tcsetattr(&r.slave, termios::SetArg::TCSANOW, &t).map_err(io::Error::from)?;
        let path = nix::unistd::ttyname(&r.slave).map_err(io::Error::from)?;
        Ok(Pty { master: File::from(r.master), _slave: r.slave, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits up to `ms` for input, then reads what is there (0 = nothing).
    fn read_timeout(&mut self, buf: &mut [u8], ms: u16) -> io::Result<usize> {
        let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut fds, PollTimeout::from(ms)).map_err(io::Error::from)?;
        if n == 0 {
            return Ok(0);
        }
        match self.master.read(buf) {
            Ok(n) => Ok(n),
            // EIO: no slave open right now; wait for the next client.
            Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => {
                std::thread::sleep(std::time::Duration::from_millis(ms.into()));
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        self.master.write_all(b)?;
        self.master.flush()
    }
}
