//! TLS for registry connections, configured as dockerd does: the system's
//! roots plus `<certs_dir>/<host[:port]>/*.crt` for a secure registry, and
//! no verification at all for an insecure one (which is then tried over
//! https first and over plain http after).
//!
//! A `<name>.cert` with its `<name>.key` in the same directory is the
//! client certificate presented to that registry (the first pair by name;
//! a half pair is an error, as in dockerd).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};

/// Where Debian (and most distributions) keep the system's roots; the
/// `SSL_CERT_FILE` variable overrides it as for OpenSSL.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The client TLS configurations a `Client` needs, chosen by authority.
#[derive(Clone)]
pub(crate) struct Tls {
    default: Arc<ClientConfig>,
    by_host: HashMap<String, Arc<ClientConfig>>,
}

impl Tls {
    /// Configurations for `hosts` (host[:port], with whether each is
    /// insecure); any other host (a token server, blob storage a redirect
    /// points at) gets the system roots.
    pub(crate) fn new(certs_dir: Option<&Path>, hosts: &[(String, bool)]) -> Result<Tls> {
        let default = default_config()?;
        let mut by_host = HashMap::new();
        for (host, insecure) in hosts {
            if by_host.contains_key(host) {
                continue;
            }
            let config = if *insecure {
                unverified()?
            } else {
                match certs_dir.map(|d| d.join(host)) {
                    Some(dir) if dir.is_dir() => Arc::new(host_config(&dir, host)?),
                    _ => default.clone(),
                }
            };
            by_host.insert(host.clone(), config);
        }
        Ok(Tls { default, by_host })
    }

    pub(crate) fn config(&self, authority: &str) -> Arc<ClientConfig> {
        self.by_host.get(authority).unwrap_or(&self.default).clone()
    }
}

/// The system roots' configuration, built once per process.
fn default_config() -> Result<Arc<ClientConfig>> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(c) = DEFAULT.get() {
        return Ok(c.clone());
    }
    let config = Arc::new(verified(system_roots().clone())?);
    Ok(DEFAULT.get_or_init(|| config).clone())
}

/// ring, not aws-lc: no C toolchain in the build. Its lack of
/// post-quantum key exchange (the deprecation) is no loss for registry
/// traffic today.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls {
            host: String::new(),
            reason: e.to_string(),
        })
}

fn verified(roots: RootCertStore) -> Result<ClientConfig> {
    Ok(builder()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn unverified() -> Result<Arc<ClientConfig>> {
    let algorithms = provider().signature_verification_algorithms;
    let mut config = verified(RootCertStore::empty())?;
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(AcceptAny { algorithms }));
    Ok(Arc::new(config))
}

/// The system roots, read once; a missing or unreadable bundle leaves
/// only the per-registry certificates.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let path = std::env::var_os("SSL_CERT_FILE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| SYSTEM_BUNDLE.into());
        let mut roots = RootCertStore::empty();
        match CertificateDer::pem_file_iter(&path) {
            Ok(certs) => {
                let (added, skipped) = roots.add_parsable_certificates(certs.flatten());
                tracing::debug!(
                    "{added} system roots from {}, {skipped} skipped",
                    path.display()
                );
            }
            Err(e) => tracing::warn!("no system roots from {}: {e}", path.display()),
        }
        roots
    })
}

/// The system roots plus the directory's `*.crt`, and its client
/// certificate if it has one.
fn host_config(dir: &Path, host: &str) -> Result<ClientConfig> {
    let bad = |path: &Path, reason: &dyn std::fmt::Display| Error::Tls {
        host: host.to_string(),
        reason: format!("{}: {reason}", path.display()),
    };
    let mut roots = system_roots().clone();
    let entries = std::fs::read_dir(dir).map_err(|e| bad(dir, &e))?;
    let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    let mut client = None;
    for path in &names {
        let sibling = |ext: &str| path.with_extension(ext);
        match path.extension().and_then(|e| e.to_str()) {
            Some("crt") => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| bad(path, &e))?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad(path, &e))?;
                for cert in certs {
                    roots.add(cert).map_err(|e| bad(path, &e))?;
                }
            }
            Some("cert") => {
                let key = sibling("key");
                if !names.contains(&key) {
                    return Err(bad(path, &format!(
                        "missing key {} for the client certificate (CA certificates must use the extension .crt)",
                        key.display()
                    )));
                }
                if client.is_none() {
                    let chain = CertificateDer::pem_file_iter(path)
                        .map_err(|e| bad(path, &e))?
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| bad(path, &e))?;
                    let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| bad(&key, &e))?;
                    client = Some((chain, key));
                }
            }
            Some("key") if !names.contains(&sibling("cert")) => {
                return Err(bad(path, &"missing the client certificate for this key"));
            }
            _ => {}
        }
    }
    let builder = builder()?.with_root_certificates(roots);
    match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad(dir, &e)),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// An insecure registry's certificate is not checked (dockerd's
/// InsecureSkipVerify); the handshake's signatures still are, so the
/// connection is encrypted to whoever holds the key.
#[derive(Debug)]
struct AcceptAny {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
