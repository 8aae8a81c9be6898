//! The local terminal: TTY checks, window size and raw mode.

use std::io::IsTerminal;
use std::os::fd::AsRawFd;

use nix::sys::termios::{self, SetArg, Termios};

/// Is stdin a terminal?
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Is stdout a terminal?
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Is stderr a terminal?
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// The window size of the terminal on stdout as (rows, columns), if any.
pub fn tty_size() -> Option<(u16, u16)> {
    if !stdout_is_tty() {
        return None;
    }
    winsize(std::io::stdout().as_raw_fd())
}

/// A terminal output is shown on (progress bars are drawn as wide as it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Stdout,
    Stderr,
}

impl Term {
    /// Its width now, if it is a terminal.
    pub fn columns(self) -> Option<u16> {
        let fd = match self {
            Term::Stdout => std::io::stdout().as_raw_fd(),
            Term::Stderr => std::io::stderr().as_raw_fd(),
        };
        winsize(fd).map(|(_, cols)| cols)
    }
}

fn winsize(fd: std::os::fd::RawFd) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a `winsize` into the valid pointer we pass.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0).then_some((ws.ws_row, ws.ws_col))
}

/// Puts the terminal on stdin into raw mode; the previous mode comes back when
/// this guard is dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Switches stdin to raw mode (no echo, no line editing, no signals).
    pub fn enable() -> nix::Result<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(&stdin)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}

/// Turns off echo on the terminal on stdin (a password prompt); echo comes
/// back when this guard is dropped.
pub struct NoEcho {
    saved: Termios,
}

impl NoEcho {
    pub fn enable() -> nix::Result<NoEcho> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(&stdin)?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(termios::LocalFlags::ECHO);
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet)?;
        Ok(NoEcho { saved })
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}
