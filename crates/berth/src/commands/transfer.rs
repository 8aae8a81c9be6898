//! Moving images in and out as tar streams: `load`, `save`, `import`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use berth_api::framing;
use clap::Args;
use hyper::Method;

use super::{io_reason, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{body_reader, stdin_body, streamed, Body, Query};
use crate::reference::Reference;
use crate::stream::jsonmessage::{display_stream, DisplayError};
use crate::stream::terminal;

/// `load` flags.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long = "input", default_value = "")]
    pub input: String,
    /// Suppress the load output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// `save` flags.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", default_value = "")]
    pub output: String,
    #[arg(value_name = "IMAGE")]
    pub names: Vec<String>,
}

/// `import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long = "message", default_value = "")]
    pub message: String,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", default_value = "")]
    pub platform: String,
    #[arg(value_name = "file|URL|-")]
    pub args: Vec<String>,
}

/// Go's `open <path>: <reason>`.
fn open_error(path: &str, e: &std::io::Error) -> anyhow::Error {
    anyhow!("open {path}: {}", io_reason(e))
}

async fn open_file(path: &str) -> Result<tokio::fs::File> {
    tokio::fs::File::open(path)
        .await
        .map_err(|e| open_error(path, &e))
}

/// Shows a JSON message stream on stdout, failing on an error message.
async fn show_messages(resp: hyper::Response<hyper::body::Incoming>) -> Result<()> {
    let is_json = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let reader = body_reader(resp);
    let mut stdout = std::io::stdout();
    if !is_json {
        framing::raw_copy(reader, &mut stdout).await?;
        return Ok(());
    }
    let tty = stdout.is_terminal();
    let result = display_stream(reader, &mut stdout, tty, |_| {}).await;
    let _ = stdout.flush();
    match result {
        Ok(()) => Ok(()),
        Err(DisplayError::Message(e)) => Err(anyhow!(e.message)),
        Err(e) => Err(anyhow!(e.to_string())),
    }
}

/// `load`: `POST /images/load` with the tar streamed from `-i` or stdin.
pub async fn load(ctx: &Ctx, args: LoadArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    let body: Body = if args.input.is_empty() {
        if terminal::stdin_is_tty() {
            return Err(anyhow!("requested load from stdin, but stdin is empty"));
        }
        stdin_body()
    } else {
        streamed(open_file(&args.input).await?)
    };
    let quiet = args.quiet || !terminal::stdout_is_tty();
    let query = Query::new().set("quiet", if quiet { "1" } else { "0" });
    let resp = ctx
        .client
        .request(
            Method::POST,
            "/images/load",
            &query,
            body,
            &[("Content-Type", "application/x-tar".to_string())],
        )
        .await?;
    show_messages(resp).await
}

/// docker's `ValidateOutputPath`.
pub(crate) fn validate_output_path(path: &str) -> Result<()> {
    let p = Path::new(path);
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::metadata(dir) {
            return Err(anyhow!(
                "failed to save image: invalid output path: stat {}: {}",
                dir.display(),
                io_reason(&e)
            ));
        }
    }
    if let Ok(meta) = std::fs::metadata(p) {
        if !meta.is_dir() && !meta.is_file() {
            use std::os::unix::fs::FileTypeExt;
            let ft = meta.file_type();
            if !(ft.is_char_device() || ft.is_fifo()) {
                return Err(anyhow!(
                    "failed to save image: invalid output path: \"{path}\" must be a directory or a regular file"
                ));
            }
        }
    }
    Ok(())
}

/// `save`: `GET /images/get?names=…` to `-o FILE` (written to a temporary file
/// then renamed) or to stdout, which must not be a terminal.
pub async fn save(ctx: &Ctx, args: SaveArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    if args.output.is_empty() && terminal::stdout_is_tty() {
        return Err(anyhow!(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        ));
    }
    if !args.output.is_empty() {
        validate_output_path(&args.output)?;
    }
    let mut query = Query::new();
    for n in &args.names {
        query = query.set("names", n.clone());
    }
    let resp = ctx.client.get_stream("/images/get", &query).await?;
    let mut reader = body_reader(resp);
    if args.output.is_empty() {
        framing::raw_copy(reader, &mut std::io::stdout()).await?;
        return Ok(());
    }
    copy_to_file(&args.output, &mut reader).await
}

/// Writes to `<dir>/.berth_temp_*` and renames over `path` when complete.
pub(crate) async fn copy_to_file(
    path: &str,
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Result<()> {
    let target = PathBuf::from(path);
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let temp = dir.join(format!(
        ".berth_temp_{}_{}",
        std::process::id(),
        super::now_unix()
    ));
    let result = async {
        let mut opts = tokio::fs::OpenOptions::new();
        opts.write(true).create_new(true).mode(0o600);
        let mut file = opts
            .open(&temp)
            .await
            .map_err(|e| anyhow!("failed to create temporary file: {}", io_reason(&e)))?;
        tokio::io::copy(reader, &mut file).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&temp, &target)
            .await
            .map_err(|e| anyhow!("failed to rename temporary file: {}", io_reason(&e)))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    result
}

/// `import`: `POST /images/create?fromSrc=-` with the tar from a file or
/// stdin (`-`), or `fromSrc=<URL>` for the daemon to fetch.
pub async fn import(ctx: &Ctx, args: ImportArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.args.len())?;
    let source = &args.args[0];
    let repo = args.args.get(1).cloned().unwrap_or_default();
    let (from_src, body): (String, Body) = if source == "-" {
        ("-".to_string(), stdin_body())
    } else if source.starts_with("http://") || source.starts_with("https://") {
        (source.clone(), crate::client::empty())
    } else {
        ("-".to_string(), streamed(open_file(source).await?))
    };
    if !repo.is_empty() {
        Reference::parse(&repo).map_err(|e| anyhow!(e))?;
    }
    let mut query = Query::new()
        .set("fromSrc", from_src)
        .set_nonempty("repo", &repo)
        .set_nonempty("message", &args.message)
        .set_nonempty("platform", &args.platform.to_lowercase());
    for c in &args.change {
        query = query.set("changes", c.clone());
    }
    let resp = ctx
        .client
        .request(
            Method::POST,
            "/images/create",
            &query,
            body,
            &[("Content-Type", "text/plain".to_string())],
        )
        .await?;
    show_messages(resp).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths() {
        assert!(validate_output_path("/tmp/x.tar").is_ok());
        assert_eq!(
            validate_output_path("/nonexistent-dir/x.tar").unwrap_err().to_string(),
            "failed to save image: invalid output path: stat /nonexistent-dir: no such file or directory"
        );
        assert!(validate_output_path("relative.tar").is_ok());
    }

    #[tokio::test]
    async fn copy_to_file_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.tar");
        let mut data: &[u8] = b"tar bytes";
        copy_to_file(target.to_str().unwrap(), &mut data)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"tar bytes");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }
}

/// `export` flags.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", default_value = "")]
    pub output: String,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `export`: `GET /containers/{id}/export` to stdout or `-o`.
pub async fn export(ctx: &Ctx, args: ExportArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.names.len())?;
    if args.output.is_empty() && terminal::stdout_is_tty() {
        return Err(anyhow!(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        ));
    }
    if !args.output.is_empty() {
        validate_output_path(&args.output)?;
    }
    let path = format!(
        "/containers/{}/export",
        crate::client::path_segment(&args.names[0])
    );
    let resp = ctx.client.get_stream(&path, &Query::new()).await?;
    let mut reader = body_reader(resp);
    if args.output.is_empty() {
        framing::raw_copy(reader, &mut std::io::stdout()).await?;
        return Ok(());
    }
    copy_to_file(&args.output, &mut reader).await
}
