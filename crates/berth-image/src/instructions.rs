//! Dockerfile instructions for `docker import --change` (and commit):
//! CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL,
//! applied to a docker-style container config object.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

const VALID: &[&str] = &[
    "cmd",
    "entrypoint",
    "env",
    "workdir",
    "user",
    "label",
    "expose",
    "volume",
    "stopsignal",
];

/// Applies `instructions` (each one or more lines) to `config`.
pub(crate) fn apply_instructions(
    config: &mut Map<String, Value>,
    instructions: &[String],
) -> Result<()> {
    let joined = instructions.join("\n");
    let mut lines = Vec::new();
    let mut cur = String::new();
    for line in joined.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                lines.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.trim().is_empty() {
        lines.push(cur);
    }
    // Docker validates every instruction before applying any.
    let parsed: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            let (word, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (word.to_lowercase(), rest.trim().to_string())
        })
        .collect();
    for (instr, _) in &parsed {
        if !VALID.contains(&instr.as_str()) {
            return Err(Error::invalid(format!(
                "{instr} is not a valid change command"
            )));
        }
    }
    let mut cmd_set = false;
    for (instr, rest) in parsed {
        let upper = instr.to_uppercase();
        if rest.is_empty() {
            return Err(Error::invalid(format!(
                "{upper} requires at least one argument"
            )));
        }
        let env = string_list(config.get("Env"));
        match instr.as_str() {
            "cmd" => {
                config.insert("Cmd".into(), strings(command(&rest)));
                cmd_set = true;
            }
            "entrypoint" => {
                config.insert("Entrypoint".into(), strings(command(&rest)));
                if !cmd_set {
                    config.insert("Cmd".into(), Value::Null);
                }
            }
            "env" => {
                let mut env = env;
                for (k, v) in name_values(&upper, &rest, &env.clone())? {
                    env.retain(|e| e.split('=').next() != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
                config.insert("Env".into(), strings(env));
            }
            "label" => {
                let mut labels = match config.remove("Labels") {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                for (k, v) in name_values(&upper, &rest, &env)? {
                    labels.insert(k, Value::String(v));
                }
                config.insert("Labels".into(), Value::Object(labels));
            }
            "workdir" => {
                let dir = word(&rest, &env).map_err(Error::InvalidArgument)?;
                let current = config
                    .get("WorkingDir")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let joined = if dir.starts_with('/') {
                    dir
                } else {
                    format!("/{current}/{dir}")
                };
                config.insert("WorkingDir".into(), Value::String(clean_path(&joined)));
            }
            "user" => {
                let user = word(&rest, &env).map_err(Error::InvalidArgument)?;
                config.insert("User".into(), Value::String(user));
            }
            "stopsignal" => {
                let sig = word(&rest, &env).map_err(Error::InvalidArgument)?;
                if !valid_signal(&sig) {
                    return Err(Error::invalid(format!("Invalid signal: {sig}")));
                }
                config.insert("StopSignal".into(), Value::String(sig));
            }
            "expose" => {
                let mut ports = match config.remove("ExposedPorts") {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                for spec in words(&rest, &env).map_err(Error::InvalidArgument)? {
                    for p in port_spec(&spec)? {
                        ports.insert(p, Value::Object(Map::new()));
                    }
                }
                config.insert("ExposedPorts".into(), Value::Object(ports));
            }
            "volume" => {
                let mut vols = match config.remove("Volumes") {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                let list = match json_array(&rest) {
                    Some(v) => v,
                    None => words(&rest, &env).map_err(Error::InvalidArgument)?,
                };
                for v in list {
                    let v = v.trim().to_string();
                    if v.is_empty() {
                        return Err(Error::invalid(
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    vols.insert(v, Value::Object(Map::new()));
                }
                config.insert("Volumes".into(), Value::Object(vols));
            }
            _ => unreachable_instruction(&instr)?,
        }
    }
    Ok(())
}

fn unreachable_instruction(instr: &str) -> Result<()> {
    Err(Error::invalid(format!(
        "{instr} is not a valid change command"
    )))
}

fn strings(v: Vec<String>) -> Value {
    Value::Array(v.into_iter().map(Value::String).collect())
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

/// Exec form (a JSON array) or shell form (`/bin/sh -c ...`).
fn command(rest: &str) -> Vec<String> {
    json_array(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

/// `k=v k2="v 2"`, or the legacy `KEY value with spaces`.
fn name_values(instr: &str, rest: &str, env: &[String]) -> Result<Vec<(String, String)>> {
    let raw = split_raw(rest).map_err(Error::InvalidArgument)?;
    let first_has_eq = raw.first().is_some_and(|w| w.contains('='));
    if !first_has_eq {
        // legacy form: one name, the rest of the line is the value
        let (name, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if value.trim().is_empty() {
            return Err(Error::invalid(format!("{instr} must have two arguments")));
        }
        let name = word(name, env).map_err(Error::InvalidArgument)?;
        let value = word(value.trim(), env).map_err(Error::InvalidArgument)?;
        return Ok(vec![(name, value)]);
    }
    let mut out = Vec::new();
    for w in raw {
        let Some((k, v)) = w.split_once('=') else {
            return Err(Error::invalid(format!(
                "Syntax error - can't find = in \"{w}\". Must be of the form: name=value"
            )));
        };
        let k = word(k, env).map_err(Error::InvalidArgument)?;
        if k.is_empty() {
            return Err(Error::invalid(format!("{instr} names can not be blank")));
        }
        out.push((k, word(v, env).map_err(Error::InvalidArgument)?));
    }
    Ok(out)
}

/// Splits on unquoted whitespace, keeping quotes and escapes for `word`.
fn split_raw(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None | Some('"'), '\\') => {
                cur.push('\\');
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("unexpected end of statement while looking for matching quote".into());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// Whitespace separated words with quotes, escapes and `$VAR` expansion.
fn words(s: &str, env: &[String]) -> std::result::Result<Vec<String>, String> {
    split_raw(s)?.iter().map(|w| word(w, env)).collect()
}

/// One word: removes quotes, applies `\` escapes, expands `$VAR`,
/// `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` (not inside single quotes).
fn word(s: &str, env: &[String]) -> std::result::Result<String, String> {
    let lookup = |name: &str| -> Option<String> {
        env.iter().rev().find_map(|e| {
            e.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    };
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), c) => out.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (_, '\\') if i + 1 < chars.len() => {
                let n = chars[i + 1];
                if quote == Some('"') && !matches!(n, '"' | '\\' | '$') {
                    out.push('\\');
                }
                out.push(n);
                i += 1;
            }
            (_, '$') if i + 1 < chars.len() => {
                let (text, used) = expand(&chars[i + 1..], &lookup)?;
                out.push_str(&text);
                i += used;
            }
            (_, c) => out.push(c),
        }
        i += 1;
    }
    if quote.is_some() {
        return Err("unexpected end of statement while looking for matching quote".into());
    }
    Ok(out)
}

/// Expands the variable after a `$`; returns the text and chars consumed.
fn expand(
    rest: &[char],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<(String, usize), String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if rest[0] == '{' {
        let end = rest
            .iter()
            .position(|&c| c == '}')
            .ok_or("missing '}' in variable substitution")?;
        let inner: String = rest[1..end].iter().collect();
        let value = match inner.split_once(':') {
            None => lookup(&inner).unwrap_or_default(),
            Some((name, op)) => {
                let v = lookup(name).unwrap_or_default();
                match op.chars().next() {
                    Some('-') => {
                        if v.is_empty() {
                            op[1..].to_string()
                        } else {
                            v
                        }
                    }
                    Some('+') => {
                        if v.is_empty() {
                            String::new()
                        } else {
                            op[1..].to_string()
                        }
                    }
                    _ => return Err(format!("unsupported modifier in ${{{inner}}}")),
                }
            }
        };
        return Ok((value, end + 1));
    }
    let len = rest.iter().take_while(|&&c| is_name(c)).count();
    if len == 0 {
        return Ok(("$".into(), 0));
    }
    let name: String = rest[..len].iter().collect();
    Ok((lookup(&name).unwrap_or_default(), len))
}

/// Lexically cleans an absolute path.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `80`, `80/tcp`, `8000-8002/udp` -> `["80/tcp"]`, ...
fn port_spec(spec: &str) -> Result<Vec<String>> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::invalid(format!("invalid proto: {proto}")));
    }
    let bad = || Error::invalid(format!("invalid containerPort: {ports}"));
    let num = |s: &str| s.parse::<u16>().map_err(|_| bad());
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let p = num(ports)?;
            (p, p)
        }
    };
    if end < start {
        return Err(Error::invalid(format!(
            "invalid range specified for container port: {ports}"
        )));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

fn valid_signal(s: &str) -> bool {
    const NAMES: &[&str] = &[
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
        "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
        "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
    ];
    if let Ok(n) = s.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let up = s.to_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if NAMES.contains(&name) {
        return true;
    }
    // RTMIN+n / RTMAX-n
    let rt = |prefix: &str, sep: char| {
        name.strip_prefix(prefix).is_some_and(|r| {
            r.is_empty()
                || r.strip_prefix(sep)
                    .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n <= 15))
        })
    };
    rt("RTMIN", '+') || rt("RTMAX", '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(instructions: &[&str]) -> Result<Value> {
        let mut m = Map::new();
        let instructions: Vec<String> = instructions.iter().map(|s| s.to_string()).collect();
        apply_instructions(&mut m, &instructions)?;
        Ok(Value::Object(m))
    }

    #[test]
    fn cmd_and_entrypoint() {
        let c = run(&["CMD [\"/bin/sh\", \"-c\", \"echo hi\"]"]).unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "echo hi"]));
        let c = run(&["cmd echo $HOME"]).unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "echo $HOME"]));
        let c = run(&["CMD [\"a\"]", "ENTRYPOINT [\"/init\"]"]).unwrap();
        assert_eq!(c["Cmd"], json!(["a"]));
        assert_eq!(c["Entrypoint"], json!(["/init"]));
        let c = run(&["ENTRYPOINT top -b"]).unwrap();
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "top -b"]));
        assert_eq!(c["Cmd"], Value::Null);
    }

    #[test]
    fn env_forms_and_expansion() {
        let c = run(&[
            "ENV PATH=/usr/bin:/bin",
            "ENV A=1 B=\"two words\" C='$A' D=$A-x",
            "ENV E=${A}y F=${NOPE:-dflt} G=${A:+set}",
            "ENV LEGACY some value here",
            "ENV A=override",
            "ENV PATH=/opt/bin:$PATH",
        ])
        .unwrap();
        // variables set by an instruction are visible from the next one on
        assert_eq!(
            c["Env"],
            json!([
                "B=two words",
                "C=$A",
                "D=-x",
                "E=1y",
                "F=dflt",
                "G=set",
                "LEGACY=some value here",
                "A=override",
                "PATH=/opt/bin:/usr/bin:/bin"
            ])
        );
        let c = run(&["ENV abc=hello", "ENV abc=bye def=$abc", "ENV ghi=$abc"]).unwrap();
        assert_eq!(c["Env"], json!(["abc=bye", "def=hello", "ghi=bye"]));
        assert!(run(&["ENV =x"]).is_err());
        assert!(run(&["ENV ONLYNAME"]).is_err());
        assert!(run(&["ENV A=\"unterminated"]).is_err());
    }

    #[test]
    fn other_instructions() {
        let c = run(&[
            "WORKDIR /app",
            "WORKDIR sub/../src",
            "USER 1000:1000",
            "LABEL a=b \"c d\"=e",
            "LABEL version 1.0",
            "EXPOSE 80 443/tcp 53/UDP 8000-8001",
            "VOLUME [\"/data\", \"/logs\"]",
            "VOLUME /cache /tmp/x",
            "STOPSIGNAL SIGQUIT",
        ])
        .unwrap();
        assert_eq!(c["WorkingDir"], json!("/app/src"));
        assert_eq!(c["User"], json!("1000:1000"));
        assert_eq!(c["Labels"], json!({"a": "b", "c d": "e", "version": "1.0"}));
        assert_eq!(
            c["ExposedPorts"],
            json!({"80/tcp": {}, "443/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}})
        );
        assert_eq!(
            c["Volumes"],
            json!({"/data": {}, "/logs": {}, "/cache": {}, "/tmp/x": {}})
        );
        assert_eq!(c["StopSignal"], json!("SIGQUIT"));
        assert_eq!(run(&["WORKDIR rel"]).unwrap()["WorkingDir"], json!("/rel"));
        assert_eq!(run(&["STOPSIGNAL 9"]).unwrap()["StopSignal"], json!("9"));
    }

    #[test]
    fn invalid_instructions() {
        let msg = |c: &[&str]| run(c).unwrap_err().to_string();
        assert_eq!(msg(&["RUN echo hi"]), "run is not a valid change command");
        assert_eq!(msg(&["FROM busybox"]), "from is not a valid change command");
        // nothing is applied when any instruction is invalid
        assert!(run(&["ENV A=1", "ADD x y"]).is_err());
        assert_eq!(msg(&["STOPSIGNAL NOPE"]), "Invalid signal: NOPE");
        assert_eq!(msg(&["EXPOSE 80/xyz"]), "invalid proto: xyz");
        assert_eq!(msg(&["EXPOSE abc"]), "invalid containerPort: abc");
        assert_eq!(msg(&["CMD"]), "CMD requires at least one argument");
        assert!(msg(&["VOLUME [\"\"]"]).contains("empty string"));
        assert_eq!(run(&["", "# comment", "  "]).unwrap(), json!({}));
    }
}
