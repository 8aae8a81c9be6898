//! `pull`, `push`, `login`, `logout` and the pull of `create`, as the CLI
//! does them: berth and the docker 28 CLI each talk to the same fake daemon
//! (a unix socket answering with docker's recorded streams), and must print
//! the same, exit the same, send the same requests (X-Registry-Auth byte for
//! byte) and leave the same config.json. No daemon, registry or root needed:
//! this pins the client side; the real pull is the daemon's tests' job.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use berth_tests::{bin_dir, text};

const PULL_STREAM: &str = r#"{"status":"Pulling from apitrace/built","id":"v1"}
{"status":"Pulling fs layer","progressDetail":{},"id":"8aa551f0b7ee"}
{"status":"Downloading","progressDetail":{"current":146,"total":146},"progress":"[==================================================\u003e]     146B/146B","id":"8aa551f0b7ee"}
{"status":"Pull complete","progressDetail":{},"id":"8aa551f0b7ee"}
{"status":"Digest: sha256:fabde904437c2a0edb1e48ebbd2cdda4e60a1301b521e9c0a4a03bed43130c3b"}
{"status":"Status: Downloaded newer image for 127.0.0.1:5000/apitrace/built:v1"}
"#;

const PUSH_STREAM: &str = r#"{"status":"The push refers to repository [127.0.0.1:5000/apitrace/built]"}
{"status":"Preparing","progressDetail":{},"id":"1f29edfa8e4e"}
{"status":"Pushing","progressDetail":{"current":512,"total":25},"progress":"[==================================================\u003e]     512B","id":"1f29edfa8e4e"}
{"status":"Pushed","progressDetail":{},"id":"1f29edfa8e4e"}
{"status":"v1: digest: sha256:fabde904437c2a0edb1e48ebbd2cdda4e60a1301b521e9c0a4a03bed43130c3b size: 942"}
{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:fabde904437c2a0edb1e48ebbd2cdda4e60a1301b521e9c0a4a03bed43130c3b","Size":942}}
"#;

/// How the fake daemon answers one endpoint: a body (200/201) or an error.
#[derive(Clone)]
enum Reply {
    Ok(&'static str),
    Err(u16, &'static str),
}

#[derive(Clone)]
struct Script {
    pull: Reply,
    push: Reply,
    auth: Reply,
    /// `containers/create` says `No such image` until a pull happened.
    image_missing: bool,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            pull: Reply::Ok(PULL_STREAM),
            push: Reply::Ok(PUSH_STREAM),
            auth: Reply::Ok("{\"IdentityToken\":\"\",\"Status\":\"Login Succeeded\"}\n"),
            image_missing: false,
        }
    }
}

/// One request as the fake daemon saw it, the API version taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    method: String,
    path: String,
    registry_auth: Option<String>,
    body: String,
}

/// A fake daemon on a unix socket in its own directory; the listener
/// thread ends with the test process.
struct Fake {
    dir: tempfile::TempDir,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    fn start(script: Script) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("d.sock")).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let pulled = Arc::new(Mutex::new(false));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (script, log, pulled) = (script.clone(), log.clone(), pulled.clone());
                std::thread::spawn(move || serve(conn, &script, &log, &pulled));
            }
        });
        Fake { dir, seen }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("d.sock").display())
    }

    /// What was sent, pings left out.
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
            .into_iter()
            .filter(|s| s.path != "/_ping")
            .collect()
    }
}

fn serve(conn: UnixStream, script: &Script, log: &Mutex<Vec<Seen>>, pulled: &Mutex<bool>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let (mut length, mut auth) = (0usize, None);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "x-registry-auth" => auth = Some(v.trim().to_string()),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        // `/v1.47/images/create?…` -> `/images/create?…`
        let path = match target.strip_prefix("/v") {
            Some(rest) => rest[rest.find('/').unwrap_or(0)..].to_string(),
            None => target.clone(),
        };
        let body = String::from_utf8_lossy(&body).into_owned();
        let bare = path.split('?').next().unwrap_or_default().to_string();
        let create_body = body.clone();
        log.lock().unwrap().push(Seen {
            method: method.clone(),
            path,
            registry_auth: auth,
            body: if bare.ends_with("/containers/create") {
                String::new()
            } else {
                body
            },
        });
        let (status, reply) = if bare == "/_ping" {
            (200, String::new())
        } else if bare.ends_with("/images/create") {
            *pulled.lock().unwrap() = true;
            answer(&script.pull)
        } else if bare.ends_with("/push") {
            answer(&script.push)
        } else if bare.ends_with("/auth") {
            answer(&script.auth)
        } else if bare.ends_with("/containers/create") {
            if script.image_missing && !*pulled.lock().unwrap() {
                let image = create_body
                    .split("\"Image\":\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .unwrap_or_default()
                    .to_string();
                (404, format!("{{\"message\":\"No such image: {image}\"}}\n"))
            } else {
                (
                    201,
                    format!("{{\"Id\":\"{}\",\"Warnings\":[]}}\n", "a".repeat(64)),
                )
            }
        } else {
            (404, "{\"message\":\"page not found\"}\n".to_string())
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\nApi-Version: 1.47\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        );
        let send = if method == "HEAD" {
            head
        } else {
            head + &reply
        };
        if out.write_all(send.as_bytes()).is_err() {
            return;
        }
    }
}

fn answer(r: &Reply) -> (u16, String) {
    match r {
        Reply::Ok(body) => (200, body.to_string()),
        Reply::Err(code, msg) => (*code, format!("{{\"message\":\"{msg}\"}}\n")),
    }
}

/// What one CLI did: its output, and the config dir it left.
struct Run {
    out: Output,
    /// stderr with the config dir written as `$DOCKER_CONFIG`.
    stderr: String,
    seen: Vec<Seen>,
    config: Option<String>,
    /// What the credential helper holds afterwards, one `file=body` each.
    helper_store: Vec<String>,
}

/// A credential helper `docker-credential-fake` keeping one file per
/// server in its directory, which starts with an entry for 127.0.0.1:5000.
const FAKE_HELPER: &str = r#"#!/bin/sh
store=$(dirname "$0")/store
mkdir -p "$store"
input=$(cat)
case "$1" in
get)
  f="$store/$(printf %s "$input" | tr -c 'a-zA-Z0-9.' '_')"
  if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
  url=$(printf %s "$input" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
  printf %s "$input" > "$store/$(printf %s "$url" | tr -c 'a-zA-Z0-9.' '_')" ;;
erase)
  rm -f "$store/$(printf %s "$input" | tr -c 'a-zA-Z0-9.' '_')" ;;
esac
"#;

fn install_helper(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("docker-credential-fake");
    std::fs::write(&path, FAKE_HELPER).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(dir.join("store")).unwrap();
    std::fs::write(
        dir.join("store").join("127.0.0.1_5000"),
        r#"{"ServerURL":"127.0.0.1:5000","Username":"hu","Secret":"hp"}"#,
    )
    .unwrap();
}

/// Runs `program args` against a fresh fake daemon, with `DOCKER_CONFIG`
/// a copy of `config` (if any) and the fake credential helper on `PATH`.
fn run(program: &Path, args: &[&str], script: &Script, config: Option<&str>, stdin: &[u8]) -> Run {
    let fake = Fake::start(script.clone());
    let cfg = tempfile::tempdir().unwrap();
    let cfg_dir = cfg.path().join("cfg");
    let helper_dir = cfg.path().join("helper");
    std::fs::create_dir(&helper_dir).unwrap();
    install_helper(&helper_dir);
    let path = format!(
        "{}:{}",
        helper_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    if let Some(c) = config {
        std::fs::create_dir(&cfg_dir).unwrap();
        std::fs::write(cfg_dir.join("config.json"), c).unwrap();
    }
    let mut child = Command::new(program)
        .env("DOCKER_HOST", fake.host())
        .env_remove("BERTH_HOST")
        .env("DOCKER_CONFIG", &cfg_dir)
        .env("PATH", path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr).replace(&cfg_dir.display().to_string(), "$DOCKER_CONFIG");
    let mut store: Vec<String> = std::fs::read_dir(helper_dir.join("store"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let body = std::fs::read_to_string(e.path()).unwrap();
            format!("{}={body}", e.file_name().to_string_lossy())
        })
        .collect();
    store.sort();
    Run {
        out,
        stderr,
        seen: fake.take(),
        config: std::fs::read_to_string(cfg_dir.join("config.json")).ok(),
        helper_store: store,
    }
}

fn berth() -> PathBuf {
    bin_dir().join("berth")
}

fn docker() -> PathBuf {
    PathBuf::from("/usr/local/bin/docker")
}

/// berth's stderr in docker's words: the program's name swapped.
fn docker_words(stderr: &str) -> String {
    stderr.replace("berth", "docker")
}

fn assert_same(args: &[&str], script: &Script, config: Option<&str>, stdin: &[u8]) -> Run {
    let b = run(&berth(), args, script, config, stdin);
    let k = run(&docker(), args, script, config, stdin);
    assert_eq!(
        b.out.status.code(),
        k.out.status.code(),
        "{args:?}: exit code\nberth: {}",
        text(&b.out.stderr)
    );
    assert_eq!(text(&b.out.stdout), text(&k.out.stdout), "{args:?}: stdout");
    assert_eq!(docker_words(&b.stderr), k.stderr, "{args:?}: stderr");
    assert_eq!(b.seen, k.seen, "{args:?}: requests");
    assert_eq!(b.config, k.config, "{args:?}: config.json");
    assert_eq!(b.helper_store, k.helper_store, "{args:?}: helper's store");
    b
}

const LOGGED_IN: &str = r#"{"auths":{"127.0.0.1:5000":{"auth":"dTpwOnc="},"https://index.docker.io/v1/":{"auth":"aHViOnM=","identitytoken":"tok"},"http://oldreg:5001/v1/":{"auth":"bzpw"},"odd:1":{"auth":"dTo/Pz4+"}},"psFormat":"x"}"#;

#[test]
fn pull_matches_docker() {
    let s = Script::default();
    for args in [
        &["pull", "busybox"][..],
        &["pull", "-q", "127.0.0.1:5000/apitrace/built:v1"],
        &["image", "pull", "oldreg:5001/x"],
        &["pull", "odd:1/x"],
        &["pull", "-a", "127.0.0.1:5000/x"],
        &["pull", "--platform", "Linux/AMD64", "busybox"],
        &["pull", "--disable-content-trust", "busybox"],
        &["push", "--disable-content-trust=true", "127.0.0.1:5000/x:1"],
        &["pull", &format!("busybox@sha256:{}", "a".repeat(64))],
        // refused before any request
        &["pull", "-a", "busybox:1"],
        &["pull", "Bad"],
        &["pull"],
        &["pull", "a", "b"],
        &["pull", "--bogus", "x"],
    ] {
        assert_same(args, &s, Some(LOGGED_IN), b"");
    }
    // No config at all: the anonymous header, `e30=`.
    let r = assert_same(&["pull", "busybox"], &s, None, b"");
    assert_eq!(r.seen[0].registry_auth.as_deref(), Some("e30="));
}

#[test]
fn pull_errors_match_docker() {
    let s = Script {
        pull: Reply::Err(
            404,
            "manifest for busybox:nope not found: manifest unknown: manifest unknown",
        ),
        ..Script::default()
    };
    let r = assert_same(&["pull", "busybox:nope"], &s, None, b"");
    assert_eq!(r.out.status.code(), Some(1));
    let s = Script {
        pull: Reply::Ok("{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\n{\"errorDetail\":{\"code\":3,\"message\":\"boom\"},\"error\":\"boom\"}\n"),
        ..Script::default()
    };
    let r = assert_same(&["pull", "busybox"], &s, None, b"");
    assert_eq!(text(&r.out.stderr), "boom\n");
}

#[test]
fn push_matches_docker() {
    let s = Script::default();
    for args in [
        &["push", "127.0.0.1:5000/apitrace/built:v1"][..],
        &["push", "-q", "127.0.0.1:5000/apitrace/built"],
        &["image", "push", "busybox"],
        &["push", "-a", "127.0.0.1:5000/x"],
        &["push", "-a", "127.0.0.1:5000/x:1"],
        &["push", &format!("busybox@sha256:{}", "a".repeat(64))],
        &["push"],
    ] {
        assert_same(args, &s, Some(LOGGED_IN), b"");
    }
    let s = Script {
        push: Reply::Ok("{\"errorDetail\":{\"message\":\"An image does not exist locally with the tag: busybox\"},\"error\":\"An image does not exist locally with the tag: busybox\"}\n"),
        ..Script::default()
    };
    assert_same(&["push", "busybox"], &s, None, b"");
}

#[test]
fn content_trust_is_refused_when_asked_for() {
    for args in [
        &["pull", "--disable-content-trust=false", "busybox"][..],
        &["push", "--disable-content-trust=false", "busybox"],
        &["create", "--disable-content-trust=false", "busybox"],
    ] {
        let r = run(&berth(), args, &Script::default(), None, b"");
        assert_ne!(r.out.status.code(), Some(0), "{args:?}");
        assert!(
            r.stderr.contains("content trust is not supported"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.seen.is_empty(), "{args:?}: {:?}", r.seen);
    }
}

#[test]
fn push_platform_is_refused() {
    let r = run(
        &berth(),
        &["push", "--platform", "linux/amd64", "busybox"],
        &Script::default(),
        None,
        b"",
    );
    assert_eq!(r.out.status.code(), Some(1));
    assert!(
        text(&r.out.stderr).contains("--platform is not supported"),
        "{}",
        text(&r.out.stderr)
    );
    assert!(r.seen.is_empty());
}

#[test]
fn login_and_logout_match_docker() {
    let s = Script::default();
    for (args, config) in [
        (&["login", "-u", "a", "-p", "b", "127.0.0.1:5055"][..], None),
        (
            &["login", "-u", "a", "-p", "b", "http://127.0.0.1:5055/v2/"],
            Some(LOGGED_IN),
        ),
        (&["login", "-u", "a", "-p", "b"], Some(LOGGED_IN)),
        (&["login", "-u", "a", "-p", "b", "docker.io"], None),
        (&["login", "-u", "a", "-p", "b", "index.docker.io"], None),
        // stored credentials are tried first
        (&["login", "127.0.0.1:5000"], Some(LOGGED_IN)),
        // refusals on a pipe
        (&["login", "-u", "a", "127.0.0.1:5055"], None),
        (&["login"], None),
        (&["login", "--password-stdin", "127.0.0.1:5055"], None),
        (
            &["login", "-p", "x", "--password-stdin", "-u", "a", "r:1"],
            None,
        ),
        (&["login", "a", "b"], None),
        (&["login", "--bogus"], None),
        (&["logout"], Some(LOGGED_IN)),
        (&["logout", "oldreg:5001"], Some(LOGGED_IN)),
        (&["logout", "127.0.0.1:5055"], None),
        (&["logout", "a", "b"], None),
    ] {
        assert_same(args, &s, config, b"");
    }
    let r = assert_same(
        &["login", "-u", "a", "--password-stdin", "r:1"],
        &s,
        None,
        b"pw\n",
    );
    assert!(r
        .config
        .unwrap()
        .contains("\"r:1\": {\n\t\t\t\"auth\": \"YTpwdw==\""));
    let token = Script {
        auth: Reply::Ok("{\"IdentityToken\":\"idtok\",\"Status\":\"Login Succeeded\"}\n"),
        ..Script::default()
    };
    let r = assert_same(&["login", "-u", "a", "-p", "b", "r:1"], &token, None, b"");
    assert!(r.config.unwrap().contains("\"identitytoken\": \"idtok\""));
    let refused = Script {
        auth: Reply::Err(
            500,
            "login attempt to http://127.0.0.1:5055/v2/ failed with status: 401 Unauthorized",
        ),
        ..Script::default()
    };
    assert_same(
        &["login", "-u", "a", "-p", "b", "127.0.0.1:5055"],
        &refused,
        None,
        b"",
    );
    assert_same(&["login", "127.0.0.1:5000"], &refused, Some(LOGGED_IN), b"");
}

#[test]
fn create_pulls_a_missing_image_like_docker() {
    let s = Script {
        image_missing: true,
        ..Script::default()
    };
    for args in [
        &["create", "127.0.0.1:5000/x"][..],
        &["create", "-q", "busybox"],
        &["create", "--pull", "never", "busybox"],
        &["run", "--pull", "never", "busybox"],
        &["create", "--pull", "bogus", "busybox"],
    ] {
        let b = run(&berth(), args, &s, Some(LOGGED_IN), b"");
        let k = run(&docker(), args, &s, Some(LOGGED_IN), b"");
        assert_eq!(b.out.status.code(), k.out.status.code(), "{args:?}");
        assert_eq!(text(&b.out.stdout), text(&k.out.stdout), "{args:?}");
        assert_eq!(docker_words(&b.stderr), k.stderr, "{args:?}");
        // The create bodies differ in fields berth leaves out; the calls,
        // their order and the pull's credentials must not.
        assert_eq!(b.seen, k.seen, "{args:?}");
    }
    let s = Script {
        image_missing: false,
        ..Script::default()
    };
    let r = run(
        &berth(),
        &["create", "--pull", "always", "busybox"],
        &s,
        None,
        b"",
    );
    assert_eq!(r.out.status.code(), Some(0), "{}", text(&r.out.stderr));
    assert_eq!(
        r.seen[0].path,
        "/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest"
    );
    assert_eq!(r.seen[1].path, "/containers/create");
}

#[test]
fn credential_helpers_are_used_like_docker() {
    let s = Script::default();
    let store = r#"{"credsStore":"fake","auths":{"127.0.0.1:5000":{}}}"#;
    let per_host = r#"{"credHelpers":{"127.0.0.1:5000":"fake"}}"#;
    for (args, config) in [
        (&["pull", "127.0.0.1:5000/x"][..], store),
        (&["pull", "127.0.0.1:5001/x"], store),
        (&["push", "127.0.0.1:5000/x"], per_host),
        (&["pull", "busybox"], per_host),
        (&["login", "-u", "a", "-p", "b", "r:1"], store),
        (&["login", "127.0.0.1:5000"], store),
        (&["logout", "127.0.0.1:5000"], store),
        (&["logout", "r:1"], store),
        (
            &["login", "-u", "a", "-p", "b", "r:1"],
            r#"{"credsStore":"nonesuch"}"#,
        ),
    ] {
        assert_same(args, &s, Some(config), b"");
    }
    // docker pulls anonymously when the helper cannot be run; berth says
    // so and stops instead of sending the request without the login.
    let missing = r#"{"credsStore":"nonesuch"}"#;
    let r = run(
        &berth(),
        &["pull", "127.0.0.1:5000/x"],
        &s,
        Some(missing),
        b"",
    );
    assert_eq!(r.out.status.code(), Some(1));
    assert_eq!(
        r.stderr,
        "error getting credentials - err: exec: \"docker-credential-nonesuch\": executable file not found in $PATH, out: ``\n"
    );
    assert!(r.seen.is_empty());
    let r = assert_same(&["pull", "127.0.0.1:5000/x"], &s, Some(store), b"");
    assert_eq!(
        r.seen[0].registry_auth.as_deref(),
        Some("eyJ1c2VybmFtZSI6Imh1IiwicGFzc3dvcmQiOiJocCIsInNlcnZlcmFkZHJlc3MiOiIxMjcuMC4wLjE6NTAwMCJ9")
    );
}

#[test]
fn a_refused_pull_asks_for_a_login_on_a_terminal_only() {
    let s = Script {
        pull: Reply::Err(401, "unauthorized: authentication required"),
        ..Script::default()
    };
    // No terminal: the 401 is the answer (docker would wait for a user
    // name on the pipe).
    let r = run(&berth(), &["pull", "127.0.0.1:5000/x"], &s, None, b"");
    assert_eq!(r.out.status.code(), Some(1));
    assert_eq!(
        r.stderr,
        "Error response from daemon: unauthorized: authentication required\n"
    );
    assert_eq!(r.seen.len(), 1);

    // A terminal: a login for this one request, the request again with it,
    // and nothing stored.
    let fake = Fake::start(s);
    let cfg = tempfile::tempdir().unwrap();
    let t = berth_tests::tmux::Tmux::start(
        &format!(
            "DOCKER_CONFIG={} {} -H {} pull 127.0.0.1:5000/x; echo EXIT=$?; sleep 600",
            cfg.path().display(),
            berth().display(),
            fake.host()
        ),
        120,
        30,
    );
    t.wait_for("Username:");
    t.line("me");
    t.wait_for("Password:");
    t.line("secret");
    let screen = t.wait_for("EXIT=");
    assert!(
        screen.contains("\nLogin prior to pull:\nUsername: me\nPassword:\n"),
        "{screen}"
    );
    assert!(
        !screen.contains("secret"),
        "the password was echoed:\n{screen}"
    );
    assert!(screen.contains("EXIT=1"), "{screen}");
    let seen = fake.take();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].registry_auth.as_deref(), Some("e30="));
    // {"username":"me","password":"secret","serveraddress":"127.0.0.1:5000"}
    assert_eq!(
        seen[1].registry_auth.as_deref(),
        Some("eyJ1c2VybmFtZSI6Im1lIiwicGFzc3dvcmQiOiJzZWNyZXQiLCJzZXJ2ZXJhZGRyZXNzIjoiMTI3LjAuMC4xOjUwMDAifQ==")
    );
    assert!(!cfg.path().join("config.json").exists());
}
