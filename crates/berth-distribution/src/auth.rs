//! Registry authentication: the `WWW-Authenticate` challenge of a 401, the
//! token request it asks for, and the token response. Credentials come
//! from the API (`X-Registry-Auth`, `POST /auth`): like dockerd, the daemon
//! never reads a `config.json`; the CLI does (`crates/berth/src/auth`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Tokens shorter-lived than this are taken to live this long (as
/// distribution's client does, so a token is not fetched per request).
pub const MIN_TOKEN_LIFETIME_SECS: u64 = 60;

/// What dockerd names itself as in OAuth token requests.
const CLIENT_ID: &str = "docker";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Basic {
        realm: Option<String>,
    },
}

impl Challenge {
    /// Parses one `WWW-Authenticate` value: a scheme, then `key=value`
    /// pairs separated by commas, values plain tokens or quoted strings
    /// (which may hold commas and backslash escapes).
    pub fn parse(header: &str) -> Result<Challenge> {
        let bad = |reason: &str| Error::InvalidChallenge {
            header: header.to_string(),
            reason: reason.to_string(),
        };
        let s = header.trim();
        let (scheme, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        let params = parse_params(rest).map_err(|r| bad(&r))?;
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => Ok(Challenge::Bearer {
                realm: params
                    .get("realm")
                    .filter(|r| !r.is_empty())
                    .cloned()
                    .ok_or_else(|| bad("no realm"))?,
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            }),
            "basic" => Ok(Challenge::Basic {
                realm: params.get("realm").cloned(),
            }),
            "" => Err(bad("no scheme")),
            other => Err(bad(&format!("unsupported scheme {other:?}"))),
        }
    }
}

fn parse_params(s: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("parameter {key:?} has no value"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or("unterminated escape")?),
                    Some(c) => value.push(c),
                    None => return Err("unterminated quoted value".into()),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',' && !c.is_whitespace()) {
                value.push(c);
            }
        }
        params.insert(key.to_ascii_lowercase(), value);
    }
}

/// `repository:<name>:pull` or `repository:<name>:pull,push`.
pub fn repository_scope(repository: &str, push: bool) -> String {
    let actions = if push { "pull,push" } else { "pull" };
    format!("repository:{repository}:{actions}")
}

/// The GET a client sends to a Bearer realm (with Basic auth of the user's
/// password when it has one; `account` names that user).
pub fn token_url(
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    account: Option<&str>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = service.filter(|s| !s.is_empty()) {
        q.append_pair("service", s);
    }
    for scope in scopes {
        q.append_pair("scope", scope);
    }
    if let Some(a) = account.filter(|a| !a.is_empty()) {
        q.append_pair("account", a);
    }
    let q = q.finish();
    if q.is_empty() {
        realm.to_string()
    } else if realm.contains('?') {
        format!("{realm}&{q}")
    } else {
        format!("{realm}?{q}")
    }
}

/// The form POSTed to a Bearer realm when the user holds an identity
/// token (an OAuth refresh token) instead of a password.
pub fn refresh_token_form(service: Option<&str>, scopes: &[String], refresh_token: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("scope", &scopes.join(" "))
        .append_pair("service", service.unwrap_or(""))
        .append_pair("client_id", CLIENT_ID)
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", refresh_token)
        .finish()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// Seconds from `issued_at` (or from receipt), at least
    /// [`MIN_TOKEN_LIFETIME_SECS`].
    pub expires_in: u64,
    pub issued_at: Option<String>,
    pub refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct RawToken {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: i64,
    issued_at: Option<String>,
    refresh_token: Option<String>,
}

impl Token {
    /// A token server's answer: `token` or `access_token` (the latter wins
    /// when both are there, as in distribution's client).
    pub fn parse(body: &[u8]) -> Result<Token> {
        let raw: RawToken =
            serde_json::from_slice(body).map_err(|e| Error::InvalidToken(e.to_string()))?;
        let token = if raw.access_token.is_empty() {
            raw.token
        } else {
            raw.access_token
        };
        if token.is_empty() {
            return Err(Error::InvalidToken(
                "authorization server did not include a token in the response".into(),
            ));
        }
        Ok(Token {
            token,
            expires_in: u64::try_from(raw.expires_in)
                .unwrap_or(0)
                .max(MIN_TOKEN_LIFETIME_SECS),
            issued_at: raw.issued_at.filter(|s| !s.is_empty()),
            refresh_token: raw.refresh_token.filter(|s| !s.is_empty()),
        })
    }
}

/// What `login` stored for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// An OAuth refresh token; used instead of the password when set.
    pub identity_token: Option<String>,
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn bearer_challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }
        );
        // Commas inside quotes, spaces around separators, escapes, case.
        let c = Challenge::parse(
            r#"bearer Realm = "http://127.0.0.1:5001/auth?a=1" , scope="repository:a/b:pull,push", service=reg\ x"#,
        );
        assert!(c.is_err(), "a stray word after a value is refused: {c:?}");
        let c = Challenge::parse(
            r#"bearer Realm = "http://127.0.0.1:5001/auth?a=1" , scope="repository:a/b:pull,push", service="a\"b""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:5001/auth?a=1".into(),
                service: Some("a\"b".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        let c = Challenge::parse("Bearer realm=https://auth.example/token").unwrap();
        assert!(
            matches!(c, Challenge::Bearer { ref realm, service: None, .. } if realm == "https://auth.example/token")
        );
    }

    #[test]
    fn basic_and_bad_challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap(),
            Challenge::Basic {
                realm: Some("Registry Realm".into())
            }
        );
        assert_eq!(
            Challenge::parse("Basic").unwrap(),
            Challenge::Basic { realm: None }
        );
        for bad in [
            "",
            "Bearer",
            r#"Bearer service="x""#,
            r#"Bearer realm="unterminated"#,
            "Bearer realm",
            r#"Negotiate realm="x""#,
        ] {
            assert!(
                matches!(Challenge::parse(bad), Err(Error::InvalidChallenge { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn token_requests() {
        let scopes = vec![repository_scope("library/busybox", false)];
        assert_eq!(scopes[0], "repository:library/busybox:pull");
        assert_eq!(repository_scope("a/b", true), "repository:a/b:pull,push");
        assert_eq!(
            token_url("https://auth.docker.io/token", Some("registry.docker.io"), &scopes, None),
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fbusybox%3Apull"
        );
        assert_eq!(
            token_url(
                "http://h/auth?x=1",
                None,
                &["a b".into(), "c".into()],
                Some("me")
            ),
            "http://h/auth?x=1&scope=a+b&scope=c&account=me"
        );
        assert_eq!(
            token_url("http://h/auth", Some(""), &[], None),
            "http://h/auth"
        );
        assert_eq!(
            refresh_token_form(Some("reg"), &["s1".into(), "s2".into()], "rt"),
            "scope=s1+s2&service=reg&client_id=docker&grant_type=refresh_token&refresh_token=rt"
        );
    }

    #[test]
    fn token_responses() {
        let t =
            Token::parse(br#"{"token":"abc","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}"#)
                .unwrap();
        assert_eq!(t.token, "abc");
        assert_eq!(t.expires_in, 300);
        assert_eq!(t.issued_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        let t =
            Token::parse(br#"{"access_token":"xyz","token":"old","refresh_token":"r"}"#).unwrap();
        assert_eq!(t.token, "xyz");
        assert_eq!(t.expires_in, MIN_TOKEN_LIFETIME_SECS);
        assert_eq!(t.refresh_token.as_deref(), Some("r"));
        assert_eq!(
            Token::parse(br#"{"token":"a","expires_in":-5}"#)
                .unwrap()
                .expires_in,
            60
        );
        assert!(matches!(
            Token::parse(br#"{"expires_in":300}"#),
            Err(Error::InvalidToken(_))
        ));
        assert!(matches!(
            Token::parse(b"<html>"),
            Err(Error::InvalidToken(_))
        ));
    }
}
