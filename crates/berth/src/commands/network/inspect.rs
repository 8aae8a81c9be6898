//! `network inspect`: the daemon's JSON for each name, printed like the
//! other inspect commands.

use anyhow::Result;
use clap::Args;

use super::{network_path, trim_id};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::commands::inspect::run_inspect;
use crate::commands::Ctx;

/// `network inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", default_value = "")]
    pub format: String,
    /// Verbose output for diagnostics
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    #[arg(value_name = "NETWORK")]
    pub names: Vec<String>,
}

/// `GET /networks/{name}` with docker's query.
pub fn request(name: &str, verbose: bool) -> (String, Query) {
    let query = if verbose {
        Query::new().set("verbose", "true")
    } else {
        Query::new()
    };
    (network_path(name, ""), query)
}

/// `network inspect`.
pub async fn inspect(ctx: &Ctx, args: InspectArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let client = &ctx.client;
    let verbose = args.verbose;
    run_inspect(&args.format, &args.names, |name| async move {
        let (path, query) = request(&trim_id("network", &name)?, verbose);
        Ok(client.get_bytes(&path, &query).await?.to_vec())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::inspect::render_raw;

    #[test]
    fn requests() {
        let (p, q) = request("mynet", true);
        assert_eq!(p, "/networks/mynet");
        assert_eq!(q.encode(), "?verbose=true");
        assert_eq!(request("n", false).1.encode(), "");
    }

    #[test]
    fn output_is_an_indented_array() {
        let raw = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/network-samples/networks-inspect.response.json"
        ));
        let out = render_raw(&[raw.to_vec()], false);
        assert!(
            out.starts_with("[\n    {\n        \"Name\": \"mynet\",\n"),
            "{out}"
        );
        assert!(out.contains("\n        \"IPAM\": {\n            \"Driver\": \"default\",\n            \"Options\": {},\n"), "{out}");
        assert!(out.ends_with("        \"Labels\": {}\n    }\n]\n"), "{out}");
    }
}
