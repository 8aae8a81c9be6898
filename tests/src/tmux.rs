//! A terminal a test can type into and read: one private tmux server per
//! session (its own socket), killed on drop, so tests never share a server
//! or leave one behind.

use std::process::Command;
use std::time::Duration;

use crate::eventually;

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (a shell line) in a detached window of `cols` x `rows`.
    pub fn start(command: &str, cols: u16, rows: u16) -> Tmux {
        let t = Tmux {
            socket: format!("berth-test-{:08x}", rand::random::<u32>()),
        };
        let status = t
            .cmd()
            .args(["new-session", "-d", "-s", "t", "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string())
            .arg(command)
            .status()
            .expect("tmux");
        assert!(status.success(), "tmux new-session failed");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    /// `tmux send-keys` arguments: literal text with `-l`, or key names.
    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Types a line and presses Enter.
    pub fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let status = self
            .cmd()
            .args(["resize-window", "-t", "t", "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string())
            .status()
            .expect("tmux resize-window");
        assert!(status.success());
    }

    /// What the window shows now.
    pub fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen contains `needle`; panics with the screen if not.
    pub fn wait_for(&self, needle: &str) -> String {
        let mut screen = String::new();
        let found = eventually(Duration::from_secs(15), || {
            screen = self.screen();
            screen.contains(needle)
        });
        assert!(found, "timed out waiting for {needle:?}; screen:\n{screen}");
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}
