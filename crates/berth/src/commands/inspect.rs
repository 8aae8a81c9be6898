//! `inspect` (any object, docker's lookup chain) and `container inspect` /
//! `image inspect`: raw daemon JSON re-indented, or `--format` templates.

use anyhow::Result;
use clap::Args;
use serde::Deserialize;

use super::{print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, Client, Query};
use crate::error::{self, StatusError};
use crate::format::json_indent;
use crate::format::json_value::Json;
use crate::format::template::Template;

/// `inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", default_value = "")]
    pub format: String,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long = "size")]
    pub size: bool,
    /// Only inspect objects of the given type
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// `container inspect` / `image inspect` flags.
#[derive(Debug, Args)]
pub struct TypedInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", default_value = "")]
    pub format: String,
    /// Display total file sizes (containers)
    #[arg(short = 's', long = "size")]
    pub size: bool,
    #[arg(value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// Object kinds, in docker's lookup order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Image,
    Network,
    Volume,
    Service,
    Task,
    Node,
    Plugin,
    Secret,
    Config,
}

const ALL_KINDS: &[Kind] = &[
    Kind::Container,
    Kind::Image,
    Kind::Network,
    Kind::Volume,
    Kind::Service,
    Kind::Task,
    Kind::Node,
    Kind::Plugin,
    Kind::Secret,
    Kind::Config,
];

const TYPE_NAMES: &str =
    "\"config\", \"container\", \"image\", \"network\", \"node\", \"plugin\", \"secret\", \"service\", \"task\", \"volume\"";

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "container" => Kind::Container,
            "image" => Kind::Image,
            "network" => Kind::Network,
            "volume" => Kind::Volume,
            "service" => Kind::Service,
            "task" => Kind::Task,
            "node" => Kind::Node,
            "plugin" => Kind::Plugin,
            "secret" => Kind::Secret,
            "config" => Kind::Config,
            _ => return None,
        })
    }

    fn is_swarm(self) -> bool {
        matches!(
            self,
            Kind::Service | Kind::Task | Kind::Node | Kind::Secret | Kind::Config
        )
    }

    fn path(self, name: &str, size: bool) -> (String, Query) {
        let n = path_segment(name);
        let q = Query::new();
        match self {
            Kind::Container => (format!("/containers/{n}/json"), q.flag("size", size)),
            Kind::Image => (format!("/images/{n}/json"), q),
            Kind::Network => (format!("/networks/{n}"), q),
            Kind::Volume => (format!("/volumes/{n}"), q),
            Kind::Service => (format!("/services/{n}"), q.set("insertDefaults", "true")),
            Kind::Task => (format!("/tasks/{n}"), q),
            Kind::Node => (format!("/nodes/{n}"), q),
            Kind::Plugin => (format!("/plugins/{n}/json"), q),
            Kind::Secret => (format!("/secrets/{n}"), q),
            Kind::Config => (format!("/configs/{n}"), q),
        }
    }
}

async fn fetch(client: &Client, kind: Kind, name: &str, size: bool) -> Result<Vec<u8>> {
    let (path, query) = kind.path(name, size);
    Ok(client.get_bytes(&path, &query).await?.to_vec())
}

fn skippable(err: &anyhow::Error) -> bool {
    let msg = error::message(err);
    error::is_not_found(err)
        || msg.contains("not supported")
        || msg.contains("invalid reference format")
}

async fn is_swarm_manager(client: &Client) -> bool {
    #[derive(Deserialize, Default)]
    struct Swarm {
        #[serde(rename = "ControlAvailable", default)]
        control_available: bool,
    }
    #[derive(Deserialize)]
    struct Info {
        #[serde(rename = "Swarm", default)]
        swarm: Option<Swarm>,
    }
    match client.get_json::<Info>("/info", &Query::new()).await {
        Ok(i) => i.swarm.unwrap_or_default().control_available,
        Err(e) => {
            super::print_err(&format!("{}\n", error::message(&e)));
            false
        }
    }
}

/// docker's lookup chain for one name.
async fn find_any(client: &Client, name: &str, size: bool, only: Option<Kind>) -> Result<Vec<u8>> {
    let mut swarm: Option<bool> = None;
    for &kind in ALL_KINDS {
        if only.is_some_and(|k| k != kind) {
            continue;
        }
        if only.is_none() && kind.is_swarm() {
            if swarm.is_none() {
                swarm = Some(is_swarm_manager(client).await);
            }
            if swarm == Some(false) {
                continue;
            }
        }
        match fetch(client, kind, name, size && kind == Kind::Container).await {
            Ok(raw) => {
                if size && kind != Kind::Container {
                    super::print_err(&format!(
                        "WARNING: --size ignored for {}\n",
                        kind_name(kind)
                    ));
                }
                return Ok(raw);
            }
            Err(e) if only.is_none() && skippable(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(anyhow::anyhow!("Error: No such object: {name}"))
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Container => "container",
        Kind::Image => "image",
        Kind::Network => "network",
        Kind::Volume => "volume",
        Kind::Service => "service",
        Kind::Task => "task",
        Kind::Node => "node",
        Kind::Plugin => "plugin",
        Kind::Secret => "secret",
        Kind::Config => "config",
    }
}

/// `inspect`.
pub async fn inspect(ctx: &Ctx, args: InspectArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let only = match args.kind.as_deref() {
        None => None,
        Some("") => {
            return Err(anyhow::anyhow!(
                "type is empty: must be one of {TYPE_NAMES}"
            ));
        }
        Some(t) => Some(Kind::parse(t).ok_or_else(|| {
            anyhow::anyhow!("unknown type: \"{t}\": must be one of {TYPE_NAMES}")
        })?),
    };
    let client = &ctx.client;
    let size = args.size;
    run_inspect(&args.format, &args.names, |name| async move {
        find_any(client, &name, size, only).await
    })
    .await
}

/// `container inspect` / `image inspect`.
pub async fn inspect_typed(ctx: &Ctx, args: TypedInspectArgs, kind: Kind) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let client = &ctx.client;
    let size = args.size && kind == Kind::Container;
    run_inspect(&args.format, &args.names, |name| async move {
        fetch(client, kind, &name, size).await
    })
    .await
}

/// Fetches every name, prints the result docker's way, and fails (exit 1)
/// with all lookup errors at the end.
pub async fn run_inspect<F, Fut>(format: &str, names: &[String], get: F) -> Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>>>,
{
    let template = if format.is_empty() || format == "json" {
        None
    } else {
        Some(
            Template::parse(format)
                .map_err(|e| StatusError::exit(64, format!("template parsing error: {e}")))?,
        )
    };
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    let mut rendered = String::new();
    for name in names {
        match get(name.clone()).await {
            Ok(raw) => match &template {
                Some(t) => match render_template(t, format, &raw) {
                    Ok(text) => {
                        rendered.push_str(&text);
                        rendered.push('\n');
                    }
                    Err(e) => errors.push(e),
                },
                None => raws.push(raw),
            },
            Err(e) => errors.push(error::message(&e)),
        }
    }
    let out = match &template {
        Some(_) if rendered.is_empty() => "\n".to_string(),
        Some(_) => rendered,
        None => render_raw(&raws, format == "json"),
    };
    print_out(&out);
    error::join(errors)
}

fn render_template(t: &Template, src: &str, raw: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(raw);
    let value = Json::parse(&text).map_err(|e| format!("unable to read inspect data: {e}"))?;
    t.execute(src, &value)
        .map_err(|e| format!("template parsing error: {e}"))
}

/// The JSON array of all elements: indented by 4 spaces, or compact for
/// `--format json`; `[]` when nothing was found.
pub fn render_raw(raws: &[Vec<u8>], compact: bool) -> String {
    if raws.is_empty() {
        return "[]\n".to_string();
    }
    let mut joined = Vec::new();
    joined.push(b'[');
    for (i, r) in raws.iter().enumerate() {
        if i > 0 {
            joined.push(b',');
        }
        joined.extend_from_slice(r);
    }
    joined.push(b']');
    let mut out = if compact {
        json_indent::compact(&joined)
    } else {
        json_indent::indent(&joined, "    ")
    };
    out.push(b'\n');
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_output() {
        assert_eq!(render_raw(&[], false), "[]\n");
        let raws = vec![
            b"{\"Id\":\"a\"}\n".to_vec(),
            b"{\"Id\":\"b\",\"X\":[]}".to_vec(),
        ];
        assert_eq!(
            render_raw(&raws, false),
            "[\n    {\n        \"Id\": \"a\"\n    },\n    {\n        \"Id\": \"b\",\n        \"X\": []\n    }\n]\n"
        );
        assert_eq!(
            render_raw(&raws, true),
            "[{\"Id\":\"a\"},{\"Id\":\"b\",\"X\":[]}]\n"
        );
    }

    #[test]
    fn templates_on_raw_json() {
        let t = Template::parse("{{.State.Status}}").unwrap();
        assert_eq!(
            render_template(&t, "{{.State.Status}}", br#"{"State":{"Status":"exited"}}"#).unwrap(),
            "exited"
        );
        let t = Template::parse("{{.Nope}}").unwrap();
        assert!(render_template(&t, "{{.Nope}}", b"{}")
            .unwrap_err()
            .starts_with("template parsing error: template: :1:2:"));
    }

    #[test]
    fn kinds() {
        assert_eq!(Kind::parse("image"), Some(Kind::Image));
        assert_eq!(Kind::parse("nope"), None);
        let (p, q) = Kind::Container.path("web", true);
        assert_eq!(p, "/containers/web/json");
        assert_eq!(q.encode(), "?size=1");
    }
}
