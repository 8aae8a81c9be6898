//! Registries for the pull tests: berth's own server, Debian's
//! docker-registry (distribution 2.8) with no auth, basic auth or token
//! auth, a bare HTTP/1.1 server for hand-made registries and token
//! services, skopeo to seed them, and writers for images made to order
//! (tar layers, OCI layouts). Every server listens on 127.0.0.1 only and
//! is stopped on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{bin_dir, busybox_tar, eventually};

/// berth-registry on a free loopback port; killed on drop.
pub struct BerthRegistry {
    child: Child,
    pub addr: String,
    _root: tempfile::TempDir,
}

impl BerthRegistry {
    pub fn start() -> BerthRegistry {
        let root = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(bin_dir().join("berth-registry"))
            .args(["--addr", "127.0.0.1:0", "--root"])
            .arg(root.path())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start berth-registry (cargo build --workspace --bins first)");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        // The port is only known once the server has bound it, and it says so.
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("berth-registry exited before listening");
            };
            if let Some((_, addr)) = line.split_once("listening on ") {
                let addr = addr.trim();
                let addr = addr.strip_prefix("http://").unwrap_or(addr);
                break addr.to_string();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        BerthRegistry {
            child,
            addr,
            _root: root,
        }
    }
}

impl Drop for BerthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a docker-registry checks its clients.
pub enum RegistryAuth {
    None,
    /// One user in an htpasswd file.
    Htpasswd {
        user: String,
        password: String,
    },
    /// Bearer tokens from `realm`, signed by the key of `root_cert_pem`.
    Token {
        realm: String,
        service: String,
        issuer: String,
        root_cert_pem: String,
    },
}

/// Debian's docker-registry (distribution 2.8) on a free loopback port,
/// its storage and config in a temp dir; killed on drop.
pub struct DockerRegistry {
    child: Child,
    pub addr: String,
    dir: tempfile::TempDir,
}

impl DockerRegistry {
    pub fn start(auth: RegistryAuth) -> DockerRegistry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let auth_yaml = match &auth {
            RegistryAuth::None => String::new(),
            RegistryAuth::Htpasswd { user, password } => {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{user}:{hash}\n")).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                    file.display()
                )
            }
            RegistryAuth::Token {
                realm,
                service,
                issuer,
                root_cert_pem,
            } => {
                let file = dir.path().join("root.pem");
                std::fs::write(&file, root_cert_pem).expect("write root cert");
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                    file.display()
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: berth-test-secret\n{auth_yaml}",
            dir.path().join("data").display()
        );
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).expect("write registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry (is it installed?)");
        let mut reg = DockerRegistry { child, addr, dir };
        let ready = eventually(Duration::from_secs(20), || {
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("docker-registry exited ({status}):\n{}", reg.log());
            }
            http_get(&reg.addr, "/v2/", &[]).is_some()
        });
        assert!(ready, "docker-registry did not answer:\n{}", reg.log());
        reg
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- docker-registry log ----\n{}", self.log());
        }
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// One plain GET: the status, or `None` when nothing answers.
pub fn http_get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The docker CLI against `d` with its config (credentials) in
/// `config_dir`, `stdin` written to it.
pub fn docker_with_config(
    d: &crate::Daemon,
    config_dir: &std::path::Path,
    args: &[&str],
    stdin: &[u8],
) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("/usr/local/bin/docker")
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", config_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run docker");
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("docker output")
}

/// Runs skopeo; its stdout, after asserting that it succeeded.
pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run skopeo (is it installed?)");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Copies `src` (any skopeo transport) to `docker://<dest>` over plain
/// http, with `user:password` when given; `extra` goes before the names.
pub fn skopeo_push(src: &str, dest: &str, creds: Option<&str>, extra: &[&str]) {
    let dest = format!("docker://{dest}");
    let mut args = vec!["copy", "--quiet", "--dest-tls-verify=false"];
    if let Some(c) = creds {
        args.extend(["--dest-creds", c]);
    }
    args.extend(extra);
    args.extend([src, dest.as_str()]);
    skopeo(&args);
}

/// The busybox test image, pushed to `dest` (`host:port/repo:tag`).
pub fn seed_busybox(dest: &str, creds: Option<&str>) {
    let src = format!("docker-archive:{}", busybox_tar().display());
    skopeo_push(&src, dest, creds, &[]);
}

/// What `skopeo inspect` says of `image` (`host:port/repo:tag`).
pub fn registry_inspect(image: &str, creds: Option<&str>) -> Value {
    let image = format!("docker://{image}");
    let mut args = vec!["inspect", "--tls-verify=false"];
    if let Some(c) = creds {
        args.extend(["--creds", c]);
    }
    args.push(&image);
    serde_json::from_str(&skopeo(&args)).expect("inspect JSON")
}

/// The manifest digest a registry gives for `image` (`host:port/repo:tag`).
pub fn registry_digest(image: &str, creds: Option<&str>) -> String {
    let info = registry_inspect(image, creds);
    info["Digest"].as_str().expect("Digest").to_string()
}

pub fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sha256:<hex>` of `data`.
pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(data))
}

/// One member of a layer tar. Names are written as given, so a test can
/// make entries no honest tool would (`../x`, absolute links).
pub enum TarEntry<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
}

/// An uncompressed ustar archive of `entries`.
pub fn layer_tar(entries: &[TarEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (name, kind, mode, link, data): (&str, u8, u32, &str, &[u8]) = match e {
            TarEntry::Dir(n) => (n, b'5', 0o755, "", b""),
            TarEntry::File(n, d) => (n, b'0', 0o644, "", d),
            TarEntry::Symlink(n, t) => (n, b'2', 0o777, t, b""),
        };
        out.extend_from_slice(&tar_header(name, kind, mode, link, data.len()));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn tar_header(name: &str, kind: u8, mode: u32, link: &str, size: usize) -> [u8; 512] {
    assert!(name.len() <= 100 && link.len() <= 100, "tar name too long");
    let mut h = [0u8; 512];
    let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
        let s = format!("{v:0w$o}", w = len - 1);
        h[at..at + len - 1].copy_from_slice(s.as_bytes());
    };
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h, 100, 8, u64::from(mode));
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, size as u64);
    octal(&mut h, 136, 12, 1_700_000_000);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // The checksum is taken with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

/// The busybox test image's parts: its rootfs layer tar and its config.
pub struct BusyboxParts {
    pub layer: Vec<u8>,
    pub config: Value,
}

pub fn busybox_parts() -> BusyboxParts {
    let from_archive = |member: &str| -> Vec<u8> {
        let out = Command::new("tar")
            .arg("xOf")
            .arg(busybox_tar())
            .arg("--wildcards")
            .arg(member)
            .output()
            .expect("run tar");
        assert!(out.status.success(), "no {member} in the busybox archive");
        out.stdout
    };
    let manifest: Value =
        serde_json::from_slice(&from_archive("manifest.json")).expect("manifest.json");
    let config_name = manifest[0]["Config"].as_str().expect("Config").to_string();
    let layer_name = manifest[0]["Layers"][0]
        .as_str()
        .expect("Layers")
        .to_string();
    BusyboxParts {
        layer: from_archive(&layer_name),
        config: serde_json::from_slice(&from_archive(&config_name)).expect("config"),
    }
}

pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An OCI image layout being written: blobs first, `index.json` last.
pub struct OciLayout {
    pub dir: PathBuf,
}

impl OciLayout {
    pub fn new(dir: &Path) -> OciLayout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir layout");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        OciLayout {
            dir: dir.to_path_buf(),
        }
    }

    /// Stores `data`; its descriptor.
    pub fn blob(&self, media_type: &str, data: &[u8]) -> Value {
        let hex = sha256_hex(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), data).expect("write blob");
        json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": data.len()})
    }

    /// An image of `config` (its diff_ids filled in) over `layers`
    /// (uncompressed tars); the manifest's descriptor.
    pub fn image(&self, mut config: Value, layers: &[Vec<u8>]) -> Value {
        config["rootfs"] = json!({
            "type": "layers",
            "diff_ids": layers.iter().map(|l| digest_of(l)).collect::<Vec<_>>(),
        });
        let layer_descs: Vec<Value> = layers.iter().map(|l| self.blob(OCI_LAYER, l)).collect();
        let config_desc = self.blob(OCI_CONFIG, &serde_json::to_vec(&config).expect("config"));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc,
            "layers": layer_descs,
        });
        self.blob(
            OCI_MANIFEST,
            &serde_json::to_vec(&manifest).expect("manifest"),
        )
    }

    /// An index of `manifests` (descriptors with their `platform`).
    pub fn index(&self, manifests: Vec<Value>) -> Value {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        self.blob(OCI_INDEX, &serde_json::to_vec(&index).expect("index"))
    }

    /// Writes `index.json` naming `desc` as `tag`; `oci:<dir>:<tag>` then
    /// names it for skopeo.
    pub fn finish(&self, desc: &Value, tag: &str) {
        let mut desc = desc.clone();
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let index = json!({"schemaVersion": 2, "manifests": [desc]});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).expect("index.json"),
        )
        .expect("write index.json");
    }

    pub fn source(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }
}

/// A request as [`HttpServer`] hands it over (the body is read and dropped).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The (decoded) value of query parameter `name`, every time it occurs.
    pub fn query(&self, name: &str) -> Vec<String> {
        let q = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a handler of [`HttpServer`] is: it writes the whole answer itself
/// (or a broken one), and the connection is closed after it.
pub type Handler = dyn Fn(&HttpRequest, &mut TcpStream) + Send + Sync;

/// A bare HTTP/1.1 server on 127.0.0.1, one thread per connection, one
/// request per connection; stopped on drop.
pub struct HttpServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    pub fn start(handler: Arc<Handler>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let handler = handler.clone();
                std::thread::spawn(move || serve_one(conn, &*handler));
            }
        });
        HttpServer { addr, stop }
    }

    /// `host:port`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_one(mut conn: TcpStream, handler: &Handler) {
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let Ok(clone) = conn.try_clone() else { return };
    let mut reader = BufReader::new(clone);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let req = HttpRequest {
        method,
        target,
        headers,
    };
    let length: u64 = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink());
    handler(&req, &mut conn);
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

/// Writes a complete answer (no body for HEAD).
pub fn respond(
    conn: &mut TcpStream,
    req: &HttpRequest,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    if req.method != "HEAD" {
        let _ = conn.write_all(body);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    }
}

/// A registry's error body (`{"errors":[{code, message}]}`).
pub fn registry_error(code: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"errors": [{"code": code, "message": message, "detail": null}]}))
        .expect("error JSON")
}
