//! Credential helpers (`docker-credential-<name>`, named by `credsStore`
//! or `credHelpers` in config.json): the secrets live in the helper's store
//! and the file keeps only an empty entry. The protocol is docker's: the
//! action is the argument (`get`, `store`, `erase`); the server address
//! (or, for `store`, a JSON object) goes to stdin; `get` answers JSON.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::AuthConfig;

/// The user name a helper stores an identity token under.
const TOKEN_USERNAME: &str = "<token>";

/// What a helper says when it has nothing for a server.
const NOT_FOUND: &str = "credentials not found in native keychain";

#[derive(Debug, Serialize, Deserialize)]
struct Credentials {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// One helper program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helper {
    program: String,
}

impl Helper {
    /// The helper `name` (`pass`, `ecr-login`) as config.json names it.
    pub fn named(name: &str) -> Helper {
        Helper {
            program: format!("docker-credential-{name}"),
        }
    }

    /// The credentials for `server`; `None` when the helper has none.
    pub fn get(&self, server: &str) -> Result<Option<AuthConfig>, String> {
        let out = self.call("get", server.as_bytes()).map_err(|(err, out)| {
            if out == NOT_FOUND {
                String::new()
            } else {
                format!("error getting credentials - err: {err}, out: `{out}`")
            }
        });
        let out = match out {
            Ok(o) => o,
            Err(e) if e.is_empty() => return Ok(None),
            Err(e) => return Err(e),
        };
        let creds: Credentials = serde_json::from_str(&out)
            .map_err(|e| format!("error getting credentials - err: {e}, out: `{out}`"))?;
        let mut a = AuthConfig {
            serveraddress: server.to_string(),
            ..Default::default()
        };
        if creds.username == TOKEN_USERNAME {
            a.identitytoken = creds.secret;
        } else {
            a.username = creds.username;
            a.password = creds.secret;
        }
        Ok(Some(a))
    }

    /// Stores `a` under `a.serveraddress` (an identity token, when there
    /// is one, in place of the password).
    pub fn store(&self, a: &AuthConfig) -> Result<(), String> {
        let creds = if a.identitytoken.is_empty() {
            Credentials {
                server_url: a.serveraddress.clone(),
                username: a.username.clone(),
                secret: a.password.clone(),
            }
        } else {
            Credentials {
                server_url: a.serveraddress.clone(),
                username: TOKEN_USERNAME.to_string(),
                secret: a.identitytoken.clone(),
            }
        };
        let input = serde_json::to_vec(&creds).unwrap_or_default();
        self.call("store", &input)
            .map(drop)
            .map_err(|(err, out)| format!("error storing credentials - err: {err}, out: `{out}`"))
    }

    /// Forgets `server`'s credentials.
    pub fn erase(&self, server: &str) -> Result<(), String> {
        self.call("erase", server.as_bytes())
            .map(drop)
            .map_err(|(err, out)| format!("error erasing credentials - err: {err}, out: `{out}`"))
    }

    /// Runs the helper; its trimmed stdout, or (why it failed, its output).
    fn call(&self, action: &str, input: &[u8]) -> Result<String, (String, String)> {
        let mut child = Command::new(&self.program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                let reason = if e.kind() == std::io::ErrorKind::NotFound {
                    "executable file not found in $PATH".to_string()
                } else {
                    crate::commands::io_reason(&e)
                };
                (
                    format!("exec: \"{}\": {reason}", self.program),
                    String::new(),
                )
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| (crate::commands::io_reason(&e), String::new()))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() {
            return Ok(text);
        }
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "signal: killed".to_string(),
        };
        Err((status, text))
    }
}

#[cfg(test)]
pub mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;

    /// A helper that keeps one entry per server as a file in `dir`, written
    /// as a shell script named `docker-credential-<name>` in `dir`; its
    /// path is returned for `Helper { program }`.
    pub fn fake_helper(dir: &Path) -> Helper {
        let script = format!(
            r#"#!/bin/sh
store={store}
read -r input || true
key=$(printf %s "$input" | tr -c 'a-zA-Z0-9.' '_')
case "$1" in
get)
  if [ "$input" = broken ]; then echo "the store is locked"; exit 3; fi
  if [ -f "$store/$key" ]; then cat "$store/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
  url=$(printf %s "$input" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/' | tr -c 'a-zA-Z0-9.' '_')
  printf %s "$input" > "$store/$url" ;;
erase)
  rm -f "$store/$key" ;;
esac
"#,
            store = dir.display()
        );
        let path = dir.join("docker-credential-fake");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Helper {
            program: path.display().to_string(),
        }
    }

    #[test]
    fn store_get_erase_through_a_helper() {
        let dir = tempfile::tempdir().unwrap();
        let h = fake_helper(dir.path());
        assert_eq!(h.get("r:1"), Ok(None));
        let a = AuthConfig {
            username: "u".into(),
            password: "p".into(),
            serveraddress: "r:1".into(),
            ..Default::default()
        };
        h.store(&a).unwrap();
        assert_eq!(h.get("r:1"), Ok(Some(a)));
        let t = AuthConfig {
            username: "u".into(),
            identitytoken: "tok".into(),
            serveraddress: "t:1".into(),
            ..Default::default()
        };
        h.store(&t).unwrap();
        let back = h.get("t:1").unwrap().unwrap();
        assert_eq!(
            (back.username.as_str(), back.identitytoken.as_str()),
            ("", "tok")
        );
        h.erase("r:1").unwrap();
        assert_eq!(h.get("r:1"), Ok(None));
        assert_eq!(
            h.get("broken").unwrap_err(),
            "error getting credentials - err: exit status 3, out: `the store is locked`"
        );
    }

    #[test]
    fn a_missing_helper_is_docker_s_error() {
        let h = Helper::named("berth-test-nonesuch");
        assert_eq!(
            h.get("r:1").unwrap_err(),
            "error getting credentials - err: exec: \"docker-credential-berth-test-nonesuch\": executable file not found in $PATH, out: ``"
        );
        assert!(h
            .store(&AuthConfig::default())
            .unwrap_err()
            .starts_with("error storing credentials - err: exec: "));
    }
}
