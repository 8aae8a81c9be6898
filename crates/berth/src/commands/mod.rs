//! One module per command group; `dispatch` routes a parsed command line.

pub mod attach;
pub mod commit;
pub mod cp;
pub mod create_body;
pub mod create_opts;
pub mod create_settings;
pub mod events;
pub mod exec;
pub mod images;
pub mod inspect;
pub mod kv_file;
pub mod lifecycle;
pub mod logs;
pub mod mounts;
pub mod port;
pub mod ports;
pub mod prune;
pub mod ps;
pub mod run;
pub mod signals;
pub mod stats;
pub mod system;
pub mod top;
pub mod transfer;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Command, ContainerCommand, ImageCommand, SystemCommand};
use crate::client::Client;

/// What every command gets: the daemon client and its own path (`ps`,
/// `container ls`) for messages.
pub struct Ctx {
    pub client: Client,
    pub path: String,
}

impl Ctx {
    pub fn new(client: Client, path: &str) -> Ctx {
        Ctx {
            client,
            path: path.to_string(),
        }
    }
}

/// Runs one command.
pub async fn dispatch(client: Client, command: Command) -> Result<()> {
    match command {
        Command::Run(a) => run::run(&Ctx::new(client, "run"), a).await,
        Command::Create(a) => run::create(&Ctx::new(client, "create"), a).await,
        Command::Start(a) => lifecycle::start(&Ctx::new(client, "start"), a).await,
        Command::Stop(a) => lifecycle::stop(&Ctx::new(client, "stop"), a).await,
        Command::Kill(a) => lifecycle::kill(&Ctx::new(client, "kill"), a).await,
        Command::Restart(a) => lifecycle::restart(&Ctx::new(client, "restart"), a).await,
        Command::Rm(a) => lifecycle::rm(&Ctx::new(client, "rm"), a).await,
        Command::Ps(a) => ps::ps(&Ctx::new(client, "ps"), a).await,
        Command::Logs(a) => logs::logs(&Ctx::new(client, "logs"), a).await,
        Command::Wait(a) => lifecycle::wait(&Ctx::new(client, "wait"), a).await,
        Command::Pause(a) => lifecycle::pause(&Ctx::new(client, "pause"), a, true).await,
        Command::Unpause(a) => lifecycle::pause(&Ctx::new(client, "unpause"), a, false).await,
        Command::Rename(a) => lifecycle::rename(&Ctx::new(client, "rename"), a).await,
        Command::Top(a) => top::top(&Ctx::new(client, "top"), a).await,
        Command::Exec(a) => exec::exec(&Ctx::new(client, "exec"), a).await,
        Command::Attach(a) => lifecycle::attach(&Ctx::new(client, "attach"), a).await,
        Command::Stats(a) => stats::stats(&Ctx::new(client, "stats"), a).await,
        Command::Events(a) => events::events(&Ctx::new(client, "events"), a).await,
        Command::Cp(a) => cp::cp(&Ctx::new(client, "cp"), a).await,
        Command::Diff(a) => commit::diff(&Ctx::new(client, "diff"), a).await,
        Command::Update(a) => prune::update(&Ctx::new(client, "update"), a).await,
        Command::Port(a) => port::port(&Ctx::new(client, "port"), a).await,
        Command::Commit(a) => commit::commit(&Ctx::new(client, "commit"), a).await,
        Command::Export(a) => transfer::export(&Ctx::new(client, "export"), a).await,
        Command::Inspect(a) => inspect::inspect(&Ctx::new(client, "inspect"), a).await,
        Command::Images(a) => images::images(&Ctx::new(client, "images"), a).await,
        Command::Load(a) => transfer::load(&Ctx::new(client, "load"), a).await,
        Command::Save(a) => transfer::save(&Ctx::new(client, "save"), a).await,
        Command::Import(a) => transfer::import(&Ctx::new(client, "import"), a).await,
        Command::Tag(a) => images::tag(&Ctx::new(client, "tag"), a).await,
        Command::Rmi(a) => images::rmi(&Ctx::new(client, "rmi"), a).await,
        Command::History(a) => images::history(&Ctx::new(client, "history"), a).await,
        Command::Version(a) => system::version(&Ctx::new(client, "version"), a).await,
        Command::Info(a) => system::info(&Ctx::new(client, "info"), a).await,
        Command::Container(c) => container(client, c).await,
        Command::Image(c) => image(client, c).await,
        Command::System(SystemCommand::Df(a)) => prune::df(&Ctx::new(client, "system df"), a).await,
        Command::System(SystemCommand::Prune(a)) => {
            prune::system_prune(&Ctx::new(client, "system prune"), a).await
        }
        Command::System(SystemCommand::Events(a)) => {
            events::events(&Ctx::new(client, "system events"), a).await
        }
        Command::System(SystemCommand::Info(a)) => {
            system::info(&Ctx::new(client, "system info"), a).await
        }
    }
}

async fn container(client: Client, command: ContainerCommand) -> Result<()> {
    use ContainerCommand as C;
    match command {
        C::Run(a) => run::run(&Ctx::new(client, "container run"), a).await,
        C::Create(a) => run::create(&Ctx::new(client, "container create"), a).await,
        C::Start(a) => lifecycle::start(&Ctx::new(client, "container start"), a).await,
        C::Stop(a) => lifecycle::stop(&Ctx::new(client, "container stop"), a).await,
        C::Kill(a) => lifecycle::kill(&Ctx::new(client, "container kill"), a).await,
        C::Restart(a) => lifecycle::restart(&Ctx::new(client, "container restart"), a).await,
        C::Rm(a) => lifecycle::rm(&Ctx::new(client, "container rm"), a).await,
        C::Ls(a) => ps::ps(&Ctx::new(client, "container ls"), a).await,
        C::Logs(a) => logs::logs(&Ctx::new(client, "container logs"), a).await,
        C::Wait(a) => lifecycle::wait(&Ctx::new(client, "container wait"), a).await,
        C::Pause(a) => lifecycle::pause(&Ctx::new(client, "container pause"), a, true).await,
        C::Unpause(a) => lifecycle::pause(&Ctx::new(client, "container unpause"), a, false).await,
        C::Rename(a) => lifecycle::rename(&Ctx::new(client, "container rename"), a).await,
        C::Top(a) => top::top(&Ctx::new(client, "container top"), a).await,
        C::Exec(a) => exec::exec(&Ctx::new(client, "container exec"), a).await,
        C::Attach(a) => lifecycle::attach(&Ctx::new(client, "container attach"), a).await,
        C::Stats(a) => stats::stats(&Ctx::new(client, "container stats"), a).await,
        C::Cp(a) => cp::cp(&Ctx::new(client, "container cp"), a).await,
        C::Diff(a) => commit::diff(&Ctx::new(client, "container diff"), a).await,
        C::Update(a) => prune::update(&Ctx::new(client, "container update"), a).await,
        C::Port(a) => port::port(&Ctx::new(client, "container port"), a).await,
        C::Prune(a) => prune::container_prune(&Ctx::new(client, "container prune"), a).await,
        C::Commit(a) => commit::commit(&Ctx::new(client, "container commit"), a).await,
        C::Export(a) => transfer::export(&Ctx::new(client, "container export"), a).await,
        C::Inspect(a) => {
            inspect::inspect_typed(
                &Ctx::new(client, "container inspect"),
                a,
                inspect::Kind::Container,
            )
            .await
        }
    }
}

async fn image(client: Client, command: ImageCommand) -> Result<()> {
    use ImageCommand as I;
    match command {
        I::Ls(a) => images::images(&Ctx::new(client, "image ls"), a).await,
        I::Rm(a) => images::rmi(&Ctx::new(client, "image rm"), a).await,
        I::Load(a) => transfer::load(&Ctx::new(client, "image load"), a).await,
        I::Save(a) => transfer::save(&Ctx::new(client, "image save"), a).await,
        I::Import(a) => transfer::import(&Ctx::new(client, "image import"), a).await,
        I::Tag(a) => images::tag(&Ctx::new(client, "image tag"), a).await,
        I::History(a) => images::history(&Ctx::new(client, "image history"), a).await,
        I::Prune(a) => prune::image_prune(&Ctx::new(client, "image prune"), a).await,
        I::Inspect(a) => {
            inspect::inspect_typed(&Ctx::new(client, "image inspect"), a, inspect::Kind::Image)
                .await
        }
    }
}

/// Writes to stdout and flushes; a closed pipe is not an error worth a message.
pub fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes to stderr.
pub fn print_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// The reason part of an OS error the way Go prints it (`no such file or
/// directory`), without Rust's ` (os error N)` suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(code) => {
            let s = std::io::Error::from_raw_os_error(code).to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
        None => e.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

/// Current unix time in seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `op` for every name concurrently (like docker's parallel operations),
/// printing each name on success in argument order and collecting the errors.
pub async fn for_each_name<F, Fut>(names: &[String], op: F) -> Vec<String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let results = futures_util::future::join_all(names.iter().map(|n| op(n.clone()))).await;
    let mut errors = Vec::new();
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(()) => print_out(&format!("{name}\n")),
            Err(e) => errors.push(crate::error::message(&e)),
        }
    }
    errors
}
