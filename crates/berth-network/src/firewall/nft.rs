//! Running the `nft` binary. The nftables crate's own runner lets nft's
//! stderr go to ours, and that text is the only explanation nft gives for
//! a refusal, so it is captured here and carried in the error.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nftables::schema::Nftables;

use crate::{Error, Result};

/// Where nft lives when the daemon's PATH (systemd's, a container's) has
/// no sbin in it.
const FALLBACKS: [&str; 2] = ["/usr/sbin/nft", "/sbin/nft"];

pub(super) struct Nft {
    program: PathBuf,
}

impl Nft {
    /// The nft of this machine: the first in PATH, else a usual place.
    pub(super) fn system() -> Nft {
        let in_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| dir.join("nft"));
        let found = in_path
            .chain(FALLBACKS.iter().map(PathBuf::from))
            .find(|p| p.is_file());
        Nft {
            program: found.unwrap_or_else(|| PathBuf::from("nft")),
        }
    }

    #[cfg(test)]
    pub(super) fn at(program: &Path) -> Nft {
        Nft {
            program: program.to_path_buf(),
        }
    }

    /// Sends one JSON document (one kernel transaction) to nft.
    pub(super) fn apply(&self, doc: &Nftables) -> Result<()> {
        let json = serde_json::to_string(doc)
            .map_err(|e| Error::Firewall(format!("cannot encode the ruleset: {e}")))?;
        self.run(&["-j", "-f", "-"], Some(&json)).map(|_| ())
    }

    pub(super) fn list_table(&self, table: &str) -> Result<String> {
        match self.run(&["list", "table", "inet", table], None) {
            Ok(text) => Ok(text),
            // nft's only word for a missing table is an errno text, so the
            // absence is confirmed from the table list before it counts.
            Err(e) if !self.table_exists(table)? => {
                tracing::debug!(table, error = %e, "nft table absent");
                Ok(String::new())
            }
            Err(e) => Err(e),
        }
    }

    fn table_exists(&self, table: &str) -> Result<bool> {
        let out = self.run(&["-j", "list", "tables", "inet"], None)?;
        let doc: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| Error::Firewall(format!("nft -j list tables: {e}")))?;
        let objects = doc["nftables"].as_array().cloned().unwrap_or_default();
        Ok(objects
            .iter()
            .any(|o| o["table"]["family"] == "inet" && o["table"]["name"] == table))
    }

    /// Runs nft and asks the kernel for something harmless, so both a
    /// missing binary and a kernel without nf_tables show up here.
    pub(super) fn check(&self) -> Result<String> {
        let version = self.run(&["--version"], None)?;
        self.run(&["list", "tables"], None)?;
        Ok(version.trim().to_string())
    }

    fn run(&self, args: &[&str], input: Option<&str>) -> Result<String> {
        let shown = || format!("{} {}", self.program.display(), args.join(" "));
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error(&self.program, e))?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            // nft stops reading when it gives up early; its stderr below
            // says why, which matters more than the broken pipe.
            if let Err(e) = stdin.write_all(text.as_bytes()) {
                if e.kind() != ErrorKind::BrokenPipe {
                    return Err(Error::Firewall(format!("{}: writing input: {e}", shown())));
                }
            }
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::Firewall(format!("{}: {e}", shown())))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Firewall(format!(
                "{} failed ({}): {}",
                shown(),
                out.status,
                stderr.trim()
            )));
        }
        String::from_utf8(out.stdout)
            .map_err(|e| Error::Firewall(format!("{}: output is not UTF-8: {e}", shown())))
    }
}

fn spawn_error(program: &Path, e: std::io::Error) -> Error {
    if e.kind() == ErrorKind::NotFound {
        Error::Firewall(format!(
            "cannot run {}: not found (looked in PATH, {}); install nftables",
            program.display(),
            FALLBACKS.join(", ")
        ))
    } else {
        Error::Firewall(format!("cannot run {}: {e}", program.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_nft_says_so() {
        let nft = Nft::at(Path::new("/nonexistent/nft"));
        let err = nft.check().unwrap_err();
        assert!(matches!(err, Error::Firewall(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with("nftables: cannot run /nonexistent/nft: not found"),
            "{err}"
        );
    }

    #[test]
    fn a_refusal_carries_nft_stderr() {
        let err = Nft::system()
            .run(
                &["-j", "-f", "-"],
                Some(r#"{"nftables": [{"add": {"bogus": {}}}]}"#),
            )
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("-j -f - failed (exit status: 1): "), "{text}");
        assert!(
            text.contains("Error:"),
            "nft's own words are missing: {text}"
        );
    }

    #[test]
    fn check_reports_the_version() {
        let version = Nft::system().check().unwrap();
        assert!(version.starts_with("nftables v"), "{version}");
    }
}
