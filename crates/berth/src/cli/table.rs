//! The command tree, declared once. Each leaf command is one row: the paths
//! that reach it (`ps` and `container ls`), docker's one-line description,
//! its usage arguments, its flags and its handler. The clap tree, the usage
//! lines, alias resolution and dispatch are all derived from this table.
//!
//! A path is `name` (top level) or `group name`; aliases follow the name
//! after `|` (`container ls|ps|list`). Within the top level and within each
//! group, commands are listed in help in table order.

use anyhow::Result;
use clap::ArgMatches;
use futures_util::future::LocalBoxFuture;

use crate::commands::inspect::Kind;
// Every command module, so that a new command is one row here and its file.
use crate::commands::*;

/// A management command (`container`, `image`, `system`).
pub struct Group {
    pub name: &'static str,
    pub about: &'static str,
}

pub const GROUPS: &[Group] = &[
    Group {
        name: "container",
        about: "Manage containers",
    },
    Group {
        name: "image",
        about: "Manage images",
    },
    Group {
        name: "network",
        about: "Manage networks",
    },
    Group {
        name: "system",
        about: "Manage the daemon",
    },
    Group {
        name: "volume",
        about: "Manage volumes",
    },
];

/// Runs a leaf with its parsed matches; `Ctx::path` names the path used.
pub type Handler = for<'a> fn(&'a Ctx, &'a ArgMatches) -> LocalBoxFuture<'a, Result<()>>;

/// One leaf command.
pub struct Leaf {
    pub paths: &'static [&'static str],
    pub about: &'static str,
    /// What follows `berth <path>` on the usage line.
    pub usage: &'static str,
    /// Adds the command's flags and arguments (its `clap::Args`).
    pub args: fn(clap::Command) -> clap::Command,
    pub run: Handler,
}

/// `leaf!(paths, about, usage, ArgsType, handler)`; the handler is called
/// as `handler(&Ctx, ArgsType)`.
macro_rules! leaf {
    ([$($path:literal),+], $about:literal, $usage:literal, $args:ty, $run:expr) => {
        Leaf {
            paths: &[$($path),+],
            about: $about,
            usage: $usage,
            args: <$args as clap::Args>::augment_args,
            run: |ctx, matches| {
                Box::pin(async move {
                    let args = <$args as clap::FromArgMatches>::from_arg_matches(matches)?;
                    ($run)(ctx, args).await
                })
            },
        }
    };
}

#[rustfmt::skip]
pub const LEAVES: &[Leaf] = &[
    leaf!(["run", "container run"], "Create and run a new container from an image",
        "[OPTIONS] IMAGE [COMMAND] [ARG...]", run::RunArgs, run::run),
    leaf!(["create", "container create"], "Create a new container",
        "[OPTIONS] IMAGE [COMMAND] [ARG...]", create::CreateArgs, create::create),
    leaf!(["start", "container start"], "Start one or more stopped containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", start::StartArgs, start::start),
    leaf!(["stop", "container stop"], "Stop one or more running containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", stop::StopArgs, stop::stop),
    leaf!(["kill", "container kill"], "Kill one or more running containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", kill::KillArgs, kill::kill),
    leaf!(["restart", "container restart"], "Restart one or more containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", stop::StopArgs, restart::restart),
    leaf!(["rm", "container rm|remove"], "Remove one or more containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", rm::RmArgs, rm::rm),
    leaf!(["ps", "container ls|ps|list"], "List containers",
        "[OPTIONS]", ps::PsArgs, ps::ps),
    leaf!(["logs", "container logs"], "Fetch the logs of a container",
        "[OPTIONS] CONTAINER", logs::LogsArgs, logs::logs),
    leaf!(["wait", "container wait"], "Block until one or more containers stop, then print their exit codes",
        "CONTAINER [CONTAINER...]", NamesArgs, wait::wait),
    leaf!(["pause", "container pause"], "Pause all processes within one or more containers",
        "CONTAINER [CONTAINER...]", NamesArgs, pause::pause),
    leaf!(["unpause", "container unpause"], "Unpause all processes within one or more containers",
        "CONTAINER [CONTAINER...]", NamesArgs, unpause::unpause),
    leaf!(["rename", "container rename"], "Rename a container",
        "CONTAINER NEW_NAME", NamesArgs, rename::rename),
    leaf!(["top", "container top"], "Display the running processes of a container",
        "CONTAINER [ps OPTIONS]", top::TopArgs, top::top),
    leaf!(["exec", "container exec"], "Execute a command in a running container",
        "[OPTIONS] CONTAINER COMMAND [ARG...]", exec::ExecArgs, exec::exec),
    leaf!(["attach", "container attach"], "Attach local standard input, output, and error streams to a running container",
        "[OPTIONS] CONTAINER", attach::AttachArgs, attach::attach),
    leaf!(["stats", "container stats"], "Display a live stream of container(s) resource usage statistics",
        "[OPTIONS] [CONTAINER...]", stats::StatsArgs, stats::stats),
    leaf!(["events", "system events"], "Get real time events from the server",
        "[OPTIONS]", events::EventsArgs, events::events),
    leaf!(["cp", "container cp"], "Copy files/folders between a container and the local filesystem",
        "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
        cp::CpArgs, cp::cp),
    leaf!(["export", "container export"], "Export a container's filesystem as a tar archive",
        "[OPTIONS] CONTAINER", export::ExportArgs, export::export),
    leaf!(["diff", "container diff"], "Inspect changes to files or directories on a container's filesystem",
        "CONTAINER", diff::DiffArgs, diff::diff),
    leaf!(["update", "container update"], "Update configuration of one or more containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", update::UpdateArgs, update::update),
    leaf!(["port", "container port"], "List port mappings or a specific mapping for the container",
        "CONTAINER [PRIVATE_PORT[/PROTO]]", port::PortArgs, port::port),
    leaf!(["commit", "container commit"], "Create a new image from a container's changes",
        "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", commit::CommitArgs, commit::commit),
    leaf!(["inspect"], "Return low-level information on objects",
        "[OPTIONS] NAME|ID [NAME|ID...]", inspect::InspectArgs, inspect::inspect),
    leaf!(["container inspect"], "Display detailed information on one or more containers",
        "[OPTIONS] CONTAINER [CONTAINER...]", inspect::TypedInspectArgs,
        |c, a| inspect::inspect_typed(c, a, Kind::Container)),
    leaf!(["container prune"], "Remove all stopped containers",
        "[OPTIONS]", prune::PruneArgs, prune::container_prune),
    leaf!(["images", "image ls|list"], "List images",
        "[OPTIONS] [REPOSITORY[:TAG]]", images::ImagesArgs, images::images),
    leaf!(["pull", "image pull"], "Download an image from a registry",
        "[OPTIONS] NAME[:TAG|@DIGEST]", pull::PullArgs, pull::pull),
    leaf!(["push", "image push"], "Upload an image to a registry",
        "[OPTIONS] NAME[:TAG]", push::PushArgs, push::push),
    leaf!(["load", "image load"], "Load an image from a tar archive or STDIN",
        "[OPTIONS]", load::LoadArgs, load::load),
    leaf!(["save", "image save"], "Save one or more images to a tar archive (streamed to STDOUT by default)",
        "[OPTIONS] IMAGE [IMAGE...]", save::SaveArgs, save::save),
    leaf!(["import", "image import"], "Import the contents from a tarball to create a filesystem image",
        "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", import::ImportArgs, import::import),
    leaf!(["tag", "image tag"], "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", tag::TagArgs, tag::tag),
    leaf!(["rmi", "image rm|remove|rmi"], "Remove one or more images",
        "[OPTIONS] IMAGE [IMAGE...]", rmi::RmiArgs, rmi::rmi),
    leaf!(["history", "image history"], "Show the history of an image",
        "[OPTIONS] IMAGE", history::HistoryArgs, history::history),
    leaf!(["image inspect"], "Display detailed information on one or more images",
        "[OPTIONS] IMAGE [IMAGE...]", inspect::TypedInspectArgs,
        |c, a| inspect::inspect_typed(c, a, Kind::Image)),
    leaf!(["image prune"], "Remove unused images",
        "[OPTIONS]", prune::PruneArgs, prune::image_prune),
    leaf!(["network connect"], "Connect a container to a network",
        "[OPTIONS] NETWORK CONTAINER", network::connect::ConnectArgs, network::connect::connect),
    leaf!(["network create"], "Create a network",
        "[OPTIONS] NETWORK", network::create::CreateArgs, network::create::create),
    leaf!(["network disconnect"], "Disconnect a container from a network",
        "[OPTIONS] NETWORK CONTAINER", network::connect::DisconnectArgs, network::connect::disconnect),
    leaf!(["network inspect"], "Display detailed information on one or more networks",
        "[OPTIONS] NETWORK [NETWORK...]", network::inspect::InspectArgs, network::inspect::inspect),
    leaf!(["network ls|list"], "List networks",
        "[OPTIONS]", network::ls::LsArgs, network::ls::ls),
    leaf!(["network prune"], "Remove all unused networks",
        "[OPTIONS]", network::prune::PruneArgs, network::prune::prune),
    leaf!(["network rm|remove"], "Remove one or more networks",
        "NETWORK [NETWORK...]", network::rm::RmArgs, network::rm::rm),
    leaf!(["volume create"], "Create a volume",
        "[OPTIONS] [VOLUME]", volume::create::CreateArgs, volume::create::create),
    leaf!(["volume inspect"], "Display detailed information on one or more volumes",
        "[OPTIONS] VOLUME [VOLUME...]", volume::inspect::InspectArgs, volume::inspect::inspect),
    leaf!(["volume ls|list"], "List volumes",
        "[OPTIONS]", volume::ls::LsArgs, volume::ls::ls),
    leaf!(["volume prune"], "Remove unused local volumes",
        "[OPTIONS]", volume::prune::PruneArgs, volume::prune::prune),
    leaf!(["volume rm|remove"], "Remove one or more volumes",
        "[OPTIONS] VOLUME [VOLUME...]", volume::rm::RmArgs, volume::rm::rm),
    leaf!(["login"], "Authenticate to a registry",
        "[OPTIONS] [SERVER]", login::LoginArgs, login::login),
    leaf!(["logout"], "Log out from a registry",
        "[SERVER]", logout::LogoutArgs, logout::logout),
    leaf!(["version"], "Show the version information",
        "[OPTIONS]", version::VersionArgs, version::version),
    leaf!(["info", "system info"], "Display system-wide information",
        "[OPTIONS]", info::InfoArgs, info::info),
    leaf!(["system df"], "Show docker disk usage",
        "[OPTIONS]", df::DfArgs, df::df),
    leaf!(["system prune"], "Remove unused data",
        "[OPTIONS]", prune::SystemPruneArgs, prune::system_prune),
];

/// One path of a leaf, split up: `container ls|ps|list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    pub group: Option<&'static str>,
    pub name: &'static str,
    pub aliases: &'static str,
}

impl Path {
    pub fn parse(spec: &'static str) -> Path {
        let (group, rest) = match spec.split_once(' ') {
            Some((g, r)) => (Some(g), r),
            None => (None, spec),
        };
        let (name, aliases) = rest.split_once('|').unwrap_or((rest, ""));
        Path {
            group,
            name,
            aliases,
        }
    }

    pub fn aliases(&self) -> impl Iterator<Item = &'static str> {
        self.aliases.split('|').filter(|a| !a.is_empty())
    }

    /// `container ls`, without aliases.
    pub fn canonical(&self) -> String {
        match self.group {
            Some(g) => format!("{g} {}", self.name),
            None => self.name.to_string(),
        }
    }

    fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases().any(|a| a == name)
    }
}

/// Every (leaf, path) pair.
pub fn paths() -> impl Iterator<Item = (&'static Leaf, Path)> {
    LEAVES
        .iter()
        .flat_map(|l| l.paths.iter().map(move |p| (l, Path::parse(p))))
}

pub fn is_group(name: &str) -> bool {
    GROUPS.iter().any(|g| g.name == name)
}

/// The leaf at a canonical path (`container ls`, `ps`).
pub fn leaf(path: &str) -> Option<&'static Leaf> {
    paths().find(|(_, p)| p.canonical() == path).map(|(l, _)| l)
}

/// The canonical name of `name` (possibly an alias) within `group`.
pub fn canonical_name(group: Option<&str>, name: &str) -> Option<&'static str> {
    paths()
        .find(|(_, p)| p.group == group && p.answers_to(name))
        .map(|(_, p)| p.name)
}

/// The leaf a parsed command line selected, with its canonical path and its
/// own matches; `None` when no command was given.
pub fn selected(matches: &ArgMatches) -> Option<(&'static Leaf, String, &ArgMatches)> {
    let (name, sub) = matches.subcommand()?;
    let (path, sub) = if is_group(name) {
        let (leaf_name, leaf_matches) = sub.subcommand()?;
        (format!("{name} {leaf_name}"), leaf_matches)
    } else {
        (name.to_string(), sub)
    };
    leaf(&path).map(|l| (l, path, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_declared_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (_, p) in paths() {
            for name in std::iter::once(p.name).chain(p.aliases()) {
                assert!(seen.insert((p.group, name)), "{:?} {name} twice", p.group);
            }
            if let Some(g) = p.group {
                assert!(is_group(g), "unknown group {g}");
            }
        }
    }

    #[test]
    fn aliases_resolve_to_their_command() {
        assert_eq!(canonical_name(Some("container"), "ps"), Some("ls"));
        assert_eq!(canonical_name(Some("image"), "rmi"), Some("rm"));
        assert_eq!(canonical_name(None, "ps"), Some("ps"));
        assert_eq!(canonical_name(None, "ls"), None);
        assert!(leaf("container ls").is_some());
        assert!(leaf("container ps").is_none());
    }
}
