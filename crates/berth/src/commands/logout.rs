//! `logout`: forgets a registry's stored credentials (no daemon call).

use anyhow::Result;
use clap::Args;

use super::distribution::load_config;
use super::{print_err, print_out, Ctx};
use crate::auth::{convert_to_hostname, INDEX_SERVER};
use crate::cli::usage::{check_args, Arity};

/// `logout [SERVER]`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[arg(value_name = "SERVER")]
    pub args: Vec<String>,
}

/// The name `logout` reports and every key it removes: the address as
/// given, its host, and the URL forms older clients stored it under.
pub fn keys(arg: Option<&str>) -> (String, Vec<String>) {
    match arg.filter(|s| !s.is_empty()) {
        None => (INDEX_SERVER.to_string(), vec![INDEX_SERVER.to_string()]),
        Some(s) => {
            let host = convert_to_hostname(s);
            let keys = vec![
                s.to_string(),
                host.clone(),
                format!("http://{host}"),
                format!("https://{host}"),
            ];
            (host, keys)
        }
    }
}

/// `logout`: always says what it removes, and succeeds when there was
/// nothing to remove, as docker does.
pub async fn logout(ctx: &Ctx, args: LogoutArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Max(1), args.args.len())?;
    let (name, keys) = keys(args.args.first().map(String::as_str));
    let mut cfg = load_config();
    print_out(&format!("Removing login credentials for {name}\n"));
    let mut failed = Vec::new();
    let mut changed = false;
    for k in &keys {
        match cfg.erase(k) {
            Ok(c) => changed |= c,
            Err(e) => failed.push(format!("{k}: {e}")),
        }
    }
    if changed {
        if let Err(e) = cfg.save() {
            let e = crate::error::message(&e);
            failed = keys.iter().map(|k| format!("{k}: {e}")).collect();
        }
    }
    // As docker: a warning only when no form of the key could be removed.
    if failed.len() == keys.len() {
        print_err("WARNING: could not erase credentials:\n");
        print_out(&failed.iter().map(|e| format!("{e}\n")).collect::<String>());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_removed() {
        assert_eq!(
            keys(None),
            (INDEX_SERVER.to_string(), vec![INDEX_SERVER.to_string()])
        );
        let (name, k) = keys(Some("http://127.0.0.1:5999/v2/"));
        assert_eq!(name, "127.0.0.1:5999");
        assert_eq!(
            k,
            [
                "http://127.0.0.1:5999/v2/",
                "127.0.0.1:5999",
                "http://127.0.0.1:5999",
                "https://127.0.0.1:5999"
            ]
        );
    }
}
