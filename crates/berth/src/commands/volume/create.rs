//! `volume create`: prints the volume's name.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use berth_api::models::Volume;
use clap::Args;
use serde_json::json;

use crate::cli::usage::{check_args, Arity};
use crate::client::{read_body, Query};
use crate::commands::{print_out, Ctx};

/// `volume create` flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long = "driver", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", hide = true, default_value = "")]
    pub name: String,
    #[arg(value_name = "VOLUME")]
    pub args: Vec<String>,
}

/// `key=value` words as a map (a bare key has an empty value, as docker's
/// label parsing gives it).
fn to_map(words: &[String]) -> BTreeMap<String, String> {
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (w.clone(), String::new()),
        })
        .collect()
}

/// The request body, as docker's CLI sends it.
pub fn body(args: &CreateArgs) -> Result<serde_json::Value> {
    let positional = args.args.first().cloned().unwrap_or_default();
    if !args.name.is_empty() && !positional.is_empty() && args.name != positional {
        return Err(anyhow!(
            "conflicting options: either specify --name or provide positional arg, not both"
        ));
    }
    for o in &args.opt {
        if !o.contains('=') {
            return Err(anyhow!(
                "invalid argument \"{o}\" for \"-o, --opt\" flag: bad format for driver-opt: {o}"
            ));
        }
    }
    let name = if positional.is_empty() {
        args.name.clone()
    } else {
        positional
    };
    Ok(json!({
        "Driver": args.driver,
        "DriverOpts": to_map(&args.opt),
        "Labels": to_map(&args.label),
        "Name": name,
    }))
}

/// `volume create`.
pub async fn create(ctx: &Ctx, args: CreateArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Max(1), args.args.len())?;
    let resp = ctx
        .client
        .post_json("/volumes/create", &Query::new(), &body(&args)?)
        .await?;
    let v: Volume = serde_json::from_slice(&read_body(resp).await?)?;
    print_out(&format!("{}\n", v.name));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str, pos: &[&str], opt: &[&str], label: &[&str]) -> CreateArgs {
        CreateArgs {
            driver: "local".into(),
            label: label.iter().map(|s| s.to_string()).collect(),
            opt: opt.iter().map(|s| s.to_string()).collect(),
            name: name.into(),
            args: pos.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn bodies() {
        let b = body(&args(
            "",
            &["v1"],
            &["type=tmpfs", "device=tmpfs"],
            &["a=1", "b"],
        ))
        .unwrap();
        assert_eq!(
            b,
            json!({"Driver": "local", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"},
                   "Labels": {"a": "1", "b": ""}, "Name": "v1"})
        );
        assert_eq!(body(&args("n", &[], &[], &[])).unwrap()["Name"], "n");
        assert_eq!(body(&args("", &[], &[], &[])).unwrap()["Name"], "");
        assert!(body(&args("a", &["b"], &[], &[]))
            .unwrap_err()
            .to_string()
            .starts_with("conflicting options"));
        assert!(body(&args("", &[], &["novalue"], &[])).is_err());
    }
}
