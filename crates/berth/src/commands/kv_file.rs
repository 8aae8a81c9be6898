//! `--env-file` and `--label-file`: line-based `KEY=value` files, parsed like
//! docker's `opts.ParseEnvFile` / `parseKeyValueFile`.

/// Parses the text of a key/value file. A line with only `KEY` takes its value
/// from `lookup`, and is dropped when that has none.
pub fn parse_kv_text(
    name: &str,
    text: &[u8],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for (idx, raw) in text.split(|b| *b == b'\n').enumerate() {
        // bufio.ScanLines drops one trailing \r
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let mut line = std::str::from_utf8(raw).map_err(|_| {
            format!(
                "env file {name} contains invalid utf8 bytes at line {}: {raw:?}",
                idx + 1
            )
        })?;
        if idx == 0 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (variable, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        let variable = variable.trim_start_matches([' ', '\t']);
        if variable.contains([' ', '\t']) {
            return Err(format!(
                "poorly formatted environment: variable '{variable}' contains whitespaces"
            ));
        }
        if variable.is_empty() {
            return Err(format!(
                "poorly formatted environment: no variable name on line '{line}'"
            ));
        }
        match value {
            Some(v) => lines.push(format!("{variable}={v}")),
            None => {
                let trimmed = line.trim();
                if let Some(v) = lookup(trimmed) {
                    lines.push(format!("{trimmed}={v}"));
                }
            }
        }
    }
    Ok(lines)
}

/// Reads an env file, filling bare `KEY` lines from the local environment.
pub fn read_env_file(path: &str) -> Result<Vec<String>, String> {
    let data = std::fs::read(path).map_err(|e| open_error(path, &e))?;
    parse_kv_text(path, &data, &|k| std::env::var(k).ok())
}

/// Reads a label file (no environment lookup).
pub fn read_label_file(path: &str) -> Result<Vec<String>, String> {
    let data = std::fs::read(path).map_err(|e| open_error(path, &e))?;
    parse_kv_text(path, &data, &|_| None)
}

/// Go's `open <path>: <reason>` wording for a file that cannot be read.
pub fn open_error(path: &str, e: &std::io::Error) -> String {
    format!("open {path}: {}", crate::commands::io_reason(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<String>, String> {
        let lookup = |k: &str| (k == "HOME").then(|| "/root".to_string());
        parse_kv_text("f.env", text.as_bytes(), &lookup)
    }

    #[test]
    fn good_file() {
        let text = "foo=bar\n    baz=quux\n# comment\n\n_foobar=foobaz\nwith.dots=working\nand_underscore=working too\n\n    \t  ";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                "foo=bar",
                "baz=quux",
                "_foobar=foobaz",
                "with.dots=working",
                "and_underscore=working too"
            ]
        );
    }

    #[test]
    fn crlf_bom_and_passthrough() {
        let text = "\u{feff}A=1\r\nHOME\nUNDEFINED_VAR\nB= spaced value \n";
        assert_eq!(
            parse(text).unwrap(),
            vec!["A=1", "HOME=/root", "B= spaced value "]
        );
    }

    #[test]
    fn bad_keys() {
        assert_eq!(
            parse("foo=bar\n    f   =quux\n").unwrap_err(),
            "poorly formatted environment: variable 'f   ' contains whitespaces"
        );
        assert_eq!(
            parse("first line\n").unwrap_err(),
            "poorly formatted environment: variable 'first line' contains whitespaces"
        );
        assert_eq!(
            parse("=blank\n").unwrap_err(),
            "poorly formatted environment: no variable name on line '=blank'"
        );
    }

    #[test]
    fn missing_file() {
        let e = read_env_file("/nonexistent/berth.env").unwrap_err();
        assert_eq!(e, "open /nonexistent/berth.env: no such file or directory");
    }
}
