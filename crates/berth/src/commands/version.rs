//! `version`: the client's own details and the daemon's `GET /version`,
//! laid out like docker's.

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::Value;

use super::{print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{Query, MAX_API_VERSION};
use crate::error::{self, StatusError};
use crate::format::json_value::Json;
use crate::format::tabwriter::TabWriter;
use crate::format::template::Template;

/// `version` flags.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", default_value = "")]
    pub format: String,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// This client's version.
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `berth -v`.
pub fn short_version() -> String {
    format!(
        "berth version {CLIENT_VERSION}, build {}",
        env!("BERTH_GIT_COMMIT")
    )
}

fn client_info(api_version: &str) -> Value {
    serde_json::json!({
        "Platform": {"Name": ""},
        "Version": CLIENT_VERSION,
        "ApiVersion": api_version,
        "DefaultAPIVersion": MAX_API_VERSION,
        "RustVersion": env!("BERTH_RUSTC_VERSION"),
        "GitCommit": env!("BERTH_GIT_COMMIT"),
        "Os": std::env::consts::OS,
        "Arch": berth_reference::host_arch(),
        "Context": "default",
    })
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

pub fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The text of `berth version` (server part only when `server` is given).
pub fn render_version(client: &Value, server: Option<&Value>) -> String {
    let mut t = String::new();
    t.push_str("Client:\n");
    t.push_str(&format!(" Version:\t{}\n", s(client, "Version")));
    let api = s(client, "ApiVersion");
    let default = s(client, "DefaultAPIVersion");
    if api != default && !api.is_empty() {
        t.push_str(&format!(
            " API version:\t{api} (downgraded from {default})\n"
        ));
    } else {
        t.push_str(&format!(" API version:\t{default}\n"));
    }
    t.push_str(&format!(" Rust version:\t{}\n", s(client, "RustVersion")));
    t.push_str(&format!(" Git commit:\t{}\n", s(client, "GitCommit")));
    t.push_str(&format!(
        " OS/Arch:\t{}/{}\n",
        s(client, "Os"),
        s(client, "Arch")
    ));
    t.push_str(&format!(" Context:\t{}\n", s(client, "Context")));
    if let Some(server) = server {
        let platform = server.get("Platform").map(|p| s(p, "Name")).unwrap_or("");
        t.push('\n');
        if platform.is_empty() {
            t.push_str("Server:\n");
        } else {
            t.push_str(&format!("Server: {platform}\n"));
        }
        for c in server_components(server) {
            let name = s(&c, "Name");
            t.push_str(&format!(" {name}:\n"));
            let details = c.get("Details").cloned().unwrap_or(Value::Null);
            let d = |k: &str| scalar(details.get(k));
            if name == "Engine" {
                t.push_str(&format!("  Version:\t{}\n", s(&c, "Version")));
                t.push_str(&format!(
                    "  API version:\t{} (minimum version {})\n",
                    d("ApiVersion"),
                    d("MinAPIVersion")
                ));
                t.push_str(&format!("  Go version:\t{}\n", d("GoVersion")));
                t.push_str(&format!("  Git commit:\t{}\n", d("GitCommit")));
                t.push_str(&format!("  Built:\t{}\n", reformat_date(&d("BuildTime"))));
                t.push_str(&format!("  OS/Arch:\t{}/{}\n", d("Os"), d("Arch")));
                t.push_str(&format!("  Experimental:\t{}\n", d("Experimental")));
            } else {
                t.push_str(&format!("  Version:\t{}\n", s(&c, "Version")));
                if let Some(obj) = details.as_object() {
                    let mut keys: Vec<&String> = obj.keys().collect();
                    keys.sort();
                    for k in keys {
                        t.push_str(&format!("  {k}:\t{}\n", scalar(obj.get(k))));
                    }
                }
            }
        }
    }
    TabWriter {
        minwidth: 20,
        padding: 1,
    }
    .format(&t)
}

/// docker's `reformatDate`: an RFC 3339 build time shown as ANSI C time in
/// the local zone; anything else unchanged.
pub fn reformat_date(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t
            .with_timezone(&chrono::Local)
            .format("%a %b %e %H:%M:%S %Y")
            .to_string(),
        Err(_) => s.to_string(),
    }
}

/// The server's components, or an Engine built from the top-level fields
/// for daemons that send none.
fn server_components(server: &Value) -> Vec<Value> {
    if let Some(list) = server.get("Components").and_then(Value::as_array) {
        if !list.is_empty() {
            return list.clone();
        }
    }
    vec![serde_json::json!({
        "Name": "Engine",
        "Version": s(server, "Version"),
        "Details": {
            "ApiVersion": s(server, "ApiVersion"),
            "MinAPIVersion": s(server, "MinAPIVersion"),
            "GoVersion": s(server, "GoVersion"),
            "GitCommit": s(server, "GitCommit"),
            "BuildTime": s(server, "BuildTime"),
            "Os": s(server, "Os"),
            "Arch": s(server, "Arch"),
            "Experimental": scalar(server.get("Experimental")),
        }
    })]
}

/// `version`.
pub async fn version(ctx: &Ctx, args: VersionArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    let api = ctx.client.api_version().await.map(str::to_string);
    let server = match &api {
        Ok(_) => {
            ctx.client
                .get_json::<Value>("/version", &Query::new())
                .await
        }
        Err(e) => Err(anyhow!(error::message(e))),
    };
    let client = client_info(api.as_deref().unwrap_or(MAX_API_VERSION));
    if !args.format.is_empty() {
        let data = serde_json::json!({
            "Client": client,
            "Server": server.as_ref().ok(),
        });
        let tmpl = Template::parse(&args.format)
            .map_err(|e| StatusError::exit(64, format!("template parsing error: {e}")))?;
        let json = Json::parse(&data.to_string()).map_err(|e| anyhow!(e))?;
        let out = tmpl
            .execute(&args.format, &json)
            .map_err(|e| anyhow!("template parsing error: {e}"))?;
        print_out(&format!("{out}\n"));
        return server.map(|_| ());
    }
    match server {
        Ok(v) => {
            print_out(&render_version(&client, Some(&v)));
            Ok(())
        }
        Err(e) => {
            print_out(&render_version(&client, None));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_layout() {
        let client = client_info("1.41");
        let server: Value = serde_json::from_str(
            r#"{"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"Thu May  7 21:09:36 2026","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.1","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"runc","Version":"1.1.5+ds1","Details":{"GitCommit":"1.1.5+ds1-1+deb12u1"}}],"Version":"20.10.24+dfsg1"}"#,
        )
        .unwrap();
        let out = render_version(&client, Some(&server));
        assert!(out.starts_with("Client:\n Version:           "));
        assert!(out.contains(" API version:       1.41 (downgraded from 1.47)\n"));
        assert!(out.contains("\nServer:\n Engine:\n  Version:          20.10.24+dfsg1\n"));
        assert!(out.contains("  API version:      1.41 (minimum version 1.12)\n"));
        assert!(out.contains("  Experimental:     false\n runc:\n  Version:          1.1.5+ds1\n  GitCommit:        1.1.5+ds1-1+deb12u1\n"));
    }

    #[test]
    fn build_dates() {
        let out = reformat_date("2026-05-07T21:09:36.000000000+00:00");
        assert_eq!(out.len(), "Thu May  7 21:09:36 2026".len());
        assert_eq!(reformat_date("not a date"), "not a date");
    }
}
