//! docker's `config.json`: where it lives, one registry's entry read as
//! the docker CLI reads it, and `login`'s and `logout`'s changes written.
//!
//! The file holds secrets and other tools' settings. It is kept whole:
//! keys berth does not know survive a write. A write goes to a new file
//! (mode 0600) in the same directory, synced, then renamed over the old
//! one, so a reader never sees half a file and the secrets are never
//! readable by others, even for an instant. A file that is not JSON is
//! warned about and read as empty (as docker does) but never written over.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};

use super::helper::Helper;
use super::{convert_to_hostname, go_escape, AuthConfig};

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn path(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(dir) = env("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Path::new(&dir).join("config.json");
    }
    let home = env("HOME").filter(|h| !h.is_empty()).or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.dir.to_string_lossy().into_owned())
    });
    Path::new(&home.unwrap_or_default())
        .join(".docker")
        .join("config.json")
}

/// The loaded file.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    doc: Map<String, Value>,
    /// Why the credentials cannot be trusted (not JSON, or an entry that
    /// does not decode): docker then warns and reads no credentials at all.
    problem: Option<String>,
    /// The file exists but is not a JSON object: never written over.
    unreadable: bool,
}

impl ConfigFile {
    /// Reads the file; a missing file is an empty config.
    pub fn load(path: PathBuf) -> ConfigFile {
        let mut cfg = ConfigFile {
            path,
            doc: Map::new(),
            problem: None,
            unreadable: false,
        };
        let bytes = match fs::read(&cfg.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return cfg,
            Err(e) => {
                cfg.problem = Some(crate::commands::io_reason(&e));
                cfg.unreadable = true;
                return cfg;
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return cfg;
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(doc)) => {
                cfg.doc = doc;
                let problem = cfg.entries().find_map(|(_, e)| entry(e).err());
                cfg.problem = problem;
            }
            Ok(_) => {
                cfg.problem = Some("config file is not a JSON object".into());
                cfg.unreadable = true;
            }
            Err(e) => {
                cfg.problem = Some(e.to_string());
                cfg.unreadable = true;
            }
        }
        cfg
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// docker's warning for a file it could not use, if any.
    pub fn warning(&self) -> Option<String> {
        self.problem.as_ref().map(|p| {
            format!(
                "WARNING: Error parsing config file ({}): {p}",
                self.path.display()
            )
        })
    }

    fn entries(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.doc
            .get("auths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    }

    /// The credential helper that holds `key`'s secrets instead of this
    /// file (`credHelpers.<key>`, else `credsStore`), if any.
    pub fn helper(&self, key: &str) -> Option<Helper> {
        let named = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(Helper::named)
        };
        named(
            self.doc
                .get("credHelpers")
                .and_then(Value::as_object)
                .and_then(|h| h.get(key)),
        )
        .or_else(|| named(self.doc.get("credsStore")))
    }

    /// The credentials for `key`, from its helper if it has one, else
    /// from the file; empty when there are none.
    pub fn get(&self, key: &str) -> Result<AuthConfig, String> {
        match self.helper(key) {
            Some(h) => Ok(h.get(key)?.unwrap_or_default()),
            None => Ok(self.get_from_file(key)),
        }
    }

    /// Stores `login`'s credentials under `a.serveraddress`: in its helper
    /// (the file keeping an empty entry, as docker's does), else in the
    /// file.
    pub fn store(&mut self, a: &AuthConfig) -> Result<(), String> {
        match self.helper(&a.serveraddress) {
            Some(h) => {
                h.store(a)?;
                self.store_in_file(&AuthConfig {
                    serveraddress: a.serveraddress.clone(),
                    email: a.email.clone(),
                    ..Default::default()
                });
            }
            None => self.store_in_file(a),
        }
        Ok(())
    }

    /// Forgets `key` (in its helper too); whether the file changed.
    pub fn erase(&mut self, key: &str) -> Result<bool, String> {
        if let Some(h) = self.helper(key) {
            h.erase(key)?;
        }
        Ok(self.erase_from_file(key))
    }

    /// The entry for `key` (`https://index.docker.io/v1/`, `host:port`):
    /// the exact key, else a key written as a URL for the same host. Empty
    /// when there is none or the file could not be used.
    fn get_from_file(&self, key: &str) -> AuthConfig {
        if self.problem.is_some() {
            return AuthConfig::default();
        }
        let found = self
            .entries()
            .find(|(k, _)| k.as_str() == key)
            .or_else(|| self.entries().find(|(k, _)| convert_to_hostname(k) == key));
        match found {
            Some((k, e)) => {
                let mut a = entry(e).unwrap_or_default();
                a.serveraddress = k.clone();
                a
            }
            None => AuthConfig::default(),
        }
    }

    /// Replaces the entry for `a.serveraddress` as docker does: `auth` =
    /// base64(user:password), plus the identity token when the registry
    /// gave one instead of the password.
    fn store_in_file(&mut self, a: &AuthConfig) {
        #[derive(Serialize)]
        struct Stored<'a> {
            #[serde(skip_serializing_if = "String::is_empty")]
            auth: String,
            #[serde(skip_serializing_if = "str::is_empty")]
            email: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            identitytoken: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            registrytoken: &'a str,
        }
        let auth = if a.username.is_empty() && a.password.is_empty() {
            String::new()
        } else {
            STANDARD.encode(format!("{}:{}", a.username, a.password))
        };
        let stored = Stored {
            auth,
            email: &a.email,
            identitytoken: &a.identitytoken,
            registrytoken: &a.registrytoken,
        };
        let value = serde_json::to_value(stored).unwrap_or(Value::Object(Map::new()));
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(m) = auths {
            m.insert(a.serveraddress.clone(), value);
        }
    }

    /// Removes the entry stored under exactly `key`; whether there was one.
    fn erase_from_file(&mut self, key: &str) -> bool {
        self.doc
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .is_some_and(|m| m.remove(key).is_some())
    }

    /// Writes the file (see the module header); refuses to replace a file
    /// that could not be read, which would lose whatever it held.
    pub fn save(&self) -> Result<()> {
        if self.unreadable {
            return Err(anyhow!(
                "refusing to overwrite {}: {}",
                self.path.display(),
                self.problem.as_deref().unwrap_or("unreadable")
            ));
        }
        let target = resolve_symlink(&self.path);
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| {
                anyhow!(
                    "mkdir {}: {}",
                    dir.display(),
                    crate::commands::io_reason(&e)
                )
            })?;
        let body = self.encode();
        let name = target
            .file_name()
            .map_or("config.json".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(body.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &target)?;
            fs::File::open(&dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            anyhow!(
                "Error saving credentials: write {}: {}",
                target.display(),
                crate::commands::io_reason(&e)
            )
        })
    }

    /// Go's `json.MarshalIndent(cfg, "", "\t")`.
    fn encode(&self) -> String {
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        if self.doc.serialize(&mut ser).is_err() {
            return "{}".to_string();
        }
        go_escape(&String::from_utf8_lossy(&out))
    }
}

/// A config.json that is a symlink (dotfile managers) is written through:
/// the link stays and its target gets the new contents.
fn resolve_symlink(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    match fs::read_link(path) {
        Ok(target) => path.parent().unwrap_or(Path::new("/")).join(target),
        Err(_) => path.to_path_buf(),
    }
}

/// One `auths` entry as an AuthConfig (`auth` decoded into the user name
/// and password), or docker's reason for refusing the file.
fn entry(v: &Value) -> std::result::Result<AuthConfig, String> {
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut a = AuthConfig {
        username: field("username"),
        password: field("password"),
        email: field("email"),
        identitytoken: field("identitytoken"),
        registrytoken: field("registrytoken"),
        ..Default::default()
    };
    let auth = field("auth");
    if !auth.is_empty() {
        (a.username, a.password) = decode_auth(&auth)?;
    }
    Ok(a)
}

/// docker's `decodeAuth`: base64 of `user:password`, the user not empty.
fn decode_auth(auth: &str) -> std::result::Result<(String, String), String> {
    let bytes = STANDARD.decode(auth).map_err(|e| match e {
        base64::DecodeError::InvalidByte(at, _) => {
            format!("illegal base64 data at input byte {at}")
        }
        base64::DecodeError::InvalidLength(at) | base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("illegal base64 data at input byte {at}")
        }
        base64::DecodeError::InvalidPadding => {
            format!("illegal base64 data at input byte {}", auth.len())
        }
    })?;
    let text = String::from_utf8_lossy(&bytes);
    match text.split_once(':') {
        Some((user, pass)) if !user.is_empty() => {
            Ok((user.to_string(), pass.trim_matches('\0').to_string()))
        }
        _ => Err("Invalid auth configuration file".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::auth::INDEX_SERVER;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("config.json");
        fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn where_the_file_is() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            path(env(&[("DOCKER_CONFIG", "/cfg"), ("HOME", "/h")])),
            PathBuf::from("/cfg/config.json")
        );
        assert_eq!(
            path(env(&[("DOCKER_CONFIG", ""), ("HOME", "/h")])),
            PathBuf::from("/h/.docker/config.json")
        );
    }

    #[test]
    fn reads_entries_as_docker_does() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            r#"{"auths": {
                "https://index.docker.io/v1/": {"auth": "aHViOnM=", "identitytoken": "tok"},
                "127.0.0.1:5000": {"auth": "dTpwOnc="},
                "http://oldreg:5001/v1/": {"username": "o", "password": "p"},
                "empty.example": {}
              },
              "credHelpers": {"ecr.example": "ecr-login"},
              "psFormat": "table {{.ID}}"}"#,
        );
        let cfg = ConfigFile::load(p);
        assert_eq!(cfg.warning(), None);
        let hub = cfg.get(INDEX_SERVER).unwrap();
        assert_eq!(
            (
                hub.username.as_str(),
                hub.password.as_str(),
                hub.identitytoken.as_str()
            ),
            ("hub", "s", "tok")
        );
        assert_eq!(hub.serveraddress, INDEX_SERVER);
        let local = cfg.get("127.0.0.1:5000").unwrap();
        assert_eq!(
            (local.username.as_str(), local.password.as_str()),
            ("u", "p:w")
        );
        // A key written as a URL answers for its host, under its own name.
        let old = cfg.get("oldreg:5001").unwrap();
        assert_eq!(old.username, "o");
        assert_eq!(old.serveraddress, "http://oldreg:5001/v1/");
        assert_eq!(
            cfg.get("empty.example").unwrap().serveraddress,
            "empty.example"
        );
        assert_eq!(cfg.get("127.0.0.1:5001").unwrap(), AuthConfig::default());
        assert_eq!(cfg.helper("ecr.example"), Some(Helper::named("ecr-login")));
        assert_eq!(cfg.helper("127.0.0.1:5000"), None);
    }

    #[test]
    fn a_broken_file_is_warned_about_and_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "xx{");
        let cfg = ConfigFile::load(p.clone());
        let w = cfg.warning().unwrap();
        assert!(
            w.starts_with(&format!(
                "WARNING: Error parsing config file ({}): ",
                p.display()
            )),
            "{w}"
        );
        assert_eq!(cfg.get(INDEX_SERVER).unwrap(), AuthConfig::default());
        assert!(cfg.save().is_err());
        assert_eq!(fs::read_to_string(&p).unwrap(), "xx{");

        // One entry that does not decode: docker's words, no credentials.
        let p = write(
            dir.path(),
            r#"{"auths": {"a:1": {"auth": "!!"}, "b:1": {"auth": "dTpw"}}}"#,
        );
        let cfg = ConfigFile::load(p.clone());
        assert_eq!(
            cfg.warning().unwrap(),
            format!(
                "WARNING: Error parsing config file ({}): illegal base64 data at input byte 0",
                p.display()
            )
        );
        assert_eq!(cfg.get("b:1").unwrap(), AuthConfig::default());
        let p = write(dir.path(), r#"{"auths": {"a:1": {"auth": "YWI="}}}"#);
        assert!(ConfigFile::load(p)
            .warning()
            .unwrap()
            .ends_with("): Invalid auth configuration file"));
    }

    #[test]
    fn login_and_logout_keep_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            r#"{"psFormat": "x <&>", "auths": {"other:1": {"auth": "YTpi"}}}"#,
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let mut cfg = ConfigFile::load(p.clone());
        cfg.store(&AuthConfig {
            username: "me".into(),
            password: "pw".into(),
            serveraddress: INDEX_SERVER.into(),
            ..Default::default()
        })
        .unwrap();
        cfg.store(&AuthConfig {
            username: "a".into(),
            serveraddress: "tok:1".into(),
            identitytoken: "idtok".into(),
            ..Default::default()
        })
        .unwrap();
        cfg.save().unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Go's indented JSON: tabs, `<>&` escaped, no final newline.
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "{\n\t\"auths\": {\n\t\t\"https://index.docker.io/v1/\": {\n\t\t\t\"auth\": \"bWU6cHc=\"\n\t\t},\n\t\t\"other:1\": {\n\t\t\t\"auth\": \"YTpi\"\n\t\t},\n\t\t\"tok:1\": {\n\t\t\t\"auth\": \"YTo=\",\n\t\t\t\"identitytoken\": \"idtok\"\n\t\t}\n\t},\n\t\"psFormat\": \"x \\u003c\\u0026\\u003e\"\n}"
        );
        let mut cfg = ConfigFile::load(p.clone());
        assert_eq!(cfg.get(INDEX_SERVER).unwrap().password, "pw");
        assert_eq!(cfg.get("tok:1").unwrap().identitytoken, "idtok");
        assert!(cfg.erase(INDEX_SERVER).unwrap());
        assert!(!cfg.erase(INDEX_SERVER).unwrap());
        cfg.save().unwrap();
        let cfg = ConfigFile::load(p.clone());
        assert_eq!(cfg.get(INDEX_SERVER).unwrap(), AuthConfig::default());
        assert_eq!(cfg.get("other:1").unwrap().username, "a");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.json")]);
    }

    #[test]
    fn a_new_file_gets_a_private_directory_and_a_symlink_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new").join("config.json");
        let mut cfg = ConfigFile::load(p.clone());
        cfg.store(&AuthConfig {
            username: "u".into(),
            password: "p".into(),
            serveraddress: "r:1".into(),
            ..Default::default()
        })
        .unwrap();
        cfg.save().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("new")), 0o700);
        assert_eq!(mode(&p), 0o600);

        let real = dir.path().join("real.json");
        fs::write(&real, "{}").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut cfg = ConfigFile::load(link.clone());
        cfg.store(&AuthConfig {
            username: "u".into(),
            password: "p".into(),
            serveraddress: "r:1".into(),
            ..Default::default()
        })
        .unwrap();
        cfg.save().unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(ConfigFile::load(real).get("r:1").unwrap().username, "u");
    }
}
