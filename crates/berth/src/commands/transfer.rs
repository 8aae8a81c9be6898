//! What the commands that move tar streams share (`load`, `save`,
//! `import`, `export`): opening inputs, showing the daemon's progress
//! messages, and writing outputs atomically.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use super::io_reason;
use crate::client::body_reader;
use crate::stream::jsonmessage::{display_stream, DisplayError};
use berth_api::framing;

/// Go's `open <path>: <reason>`.
fn open_error(path: &str, e: &std::io::Error) -> anyhow::Error {
    anyhow!("open {path}: {}", io_reason(e))
}

pub async fn open_file(path: &str) -> Result<tokio::fs::File> {
    tokio::fs::File::open(path)
        .await
        .map_err(|e| open_error(path, &e))
}

/// Shows a JSON message stream on stdout, failing on an error message.
pub async fn show_messages(resp: hyper::Response<hyper::body::Incoming>) -> Result<()> {
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

/// docker's `ValidateOutputPath`.
pub fn validate_output_path(path: &str) -> Result<()> {
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

/// Writes to `<dir>/.berth_temp_*` and renames over `path` when complete.
pub async fn copy_to_file(
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
