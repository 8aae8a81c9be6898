//! Template source to nodes: action splitting, lexing and pipelines.

use super::funcs::KNOWN_FUNCS;
use super::{Arg, Node, Pipeline, Tok};

pub(super) enum Item {
    Text(String),
    Action(String, usize),
}

/// Splits the source into text and `{{ }}` actions, applying `{{-`/`-}}` trims.
pub(super) fn split_actions(src: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut offset = 0;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_left =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_left {
            text = text.trim_end();
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let end = after
            .find("}}")
            .ok_or_else(|| "template: :1: unclosed action".to_string())?;
        let mut inner = &after[..end];
        let inner_offset = offset + start + 2;
        let mut inner_start = inner_offset;
        if trim_left {
            inner = &inner[1..];
            inner_start += 1;
        }
        trim_next = inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-");
        if trim_next {
            inner = &inner[..inner.len() - 1];
        }
        items.push(Item::Action(inner.to_string(), inner_start));
        let consumed = start + 2 + end + 2;
        rest = &rest[consumed..];
        offset += consumed;
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        items.push(Item::Text(text.to_string()));
    }
    Ok(items)
}

/// Parses nodes until `{{end}}`/`{{else}}` (returned) or the end of input.
pub(super) fn parse_list(
    items: &[Item],
    pos: &mut usize,
) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while *pos < items.len() {
        let item = &items[*pos];
        *pos += 1;
        match item {
            Item::Text(t) => nodes.push(Node::Text(t.clone())),
            Item::Action(src, offset) => {
                let trimmed = src.trim();
                if trimmed.starts_with("/*") {
                    continue;
                }
                let toks = lex(src, *offset)?;
                match toks.first() {
                    Some(Tok::Ident(kw)) if kw == "end" || kw == "else" => {
                        return Ok((nodes, Some(kw.clone())));
                    }
                    Some(Tok::Ident(kw)) if kw == "if" || kw == "range" || kw == "with" => {
                        let pipe = parse_pipeline(&toks[1..])?;
                        let (body, end) = parse_list(items, pos)?;
                        let else_body = match end.as_deref() {
                            Some("else") => {
                                let (e, end2) = parse_list(items, pos)?;
                                if end2.as_deref() != Some("end") {
                                    return Err("template: :1: missing {{end}}".to_string());
                                }
                                e
                            }
                            Some("end") => Vec::new(),
                            _ => return Err("template: :1: missing {{end}}".to_string()),
                        };
                        nodes.push(match kw.as_str() {
                            "if" => Node::If(pipe, body, else_body),
                            "with" => Node::With(pipe, body, else_body),
                            _ => Node::Range(pipe, body, else_body),
                        });
                    }
                    None => return Err("template: :1: missing value for command".to_string()),
                    _ => nodes.push(Node::Action(parse_pipeline(&toks)?)),
                }
            }
        }
    }
    Ok((nodes, None))
}

fn lex(src: &str, base: usize) -> Result<Vec<Tok>, String> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut toks = Vec::new();
    let ident_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let read_fields = |i: &mut usize| -> Vec<String> {
        let mut fields = Vec::new();
        while *i < b.len() && b[*i] == b'.' {
            let start = *i + 1;
            let mut j = start;
            while j < b.len() && ident_char(b[j]) {
                j += 1;
            }
            if j == start {
                break;
            }
            fields.push(src[start..j].to_string());
            *i = j;
        }
        fields
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            b'.' => {
                let start = i;
                let fields = read_fields(&mut i);
                if fields.is_empty() {
                    i += 1;
                }
                // Go reports a chain (`.A.B`) at the position of its second field
                let pos = match fields.first() {
                    Some(first) if fields.len() > 1 => start + 1 + first.len(),
                    _ => start,
                };
                toks.push(Tok::Field(fields, base + pos));
            }
            b'$' => {
                let start = i;
                i += 1;
                while i < b.len() && ident_char(b[i]) {
                    i += 1;
                }
                let name = src[start..i].to_string();
                let fields = read_fields(&mut i);
                toks.push(Tok::Var(name, fields, base + start));
            }
            b'"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match b.get(i) {
                        None => return Err("template: :1: unterminated quoted string".to_string()),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let e = *b.get(i + 1).unwrap_or(&b'\\');
                            s.push(match e {
                                b'n' => '\n',
                                b't' => '\t',
                                b'r' => '\r',
                                other => other as char,
                            });
                            i += 2;
                        }
                        Some(_) => {
                            let ch = src[i..].chars().next().unwrap_or(' ');
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                toks.push(Tok::Str(s));
            }
            b'`' => {
                let end = src[i + 1..]
                    .find('`')
                    .ok_or_else(|| "template: :1: unterminated raw quoted string".to_string())?;
                toks.push(Tok::Str(src[i + 1..i + 1 + end].to_string()));
                i += end + 2;
            }
            c if c.is_ascii_digit() || c == b'-' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                toks.push(Tok::Num(src[start..i].to_string()));
            }
            c if ident_char(c) => {
                let start = i;
                while i < b.len() && ident_char(b[i]) {
                    i += 1;
                }
                toks.push(Tok::Ident(src[start..i].to_string()));
            }
            other => {
                return Err(format!(
                    "template: :1: unexpected \"{}\" in command",
                    other as char
                ))
            }
        }
    }
    Ok(toks)
}

fn parse_pipeline(toks: &[Tok]) -> Result<Pipeline, String> {
    let mut decl = Vec::new();
    let mut toks = toks;
    // `$v :=` or `$k, $v :=`
    if let Some(idx) = toks.iter().position(|t| *t == Tok::Declare) {
        for t in &toks[..idx] {
            match t {
                Tok::Var(name, fields, _) if fields.is_empty() => decl.push(name.clone()),
                Tok::Comma => {}
                _ => return Err("template: :1: bad variable declaration".to_string()),
            }
        }
        toks = &toks[idx + 1..];
    }
    let mut pos = 0;
    let pipe = parse_cmds(toks, &mut pos)?;
    if pos != toks.len() {
        return Err("template: :1: unexpected \")\" in operand".to_string());
    }
    Ok(Pipeline { decl, cmds: pipe })
}

fn parse_cmds(toks: &[Tok], pos: &mut usize) -> Result<Vec<Vec<Arg>>, String> {
    let mut cmds = vec![Vec::new()];
    while *pos < toks.len() {
        let t = &toks[*pos];
        *pos += 1;
        let arg = match t {
            Tok::Pipe => {
                cmds.push(Vec::new());
                continue;
            }
            Tok::RParen => {
                *pos -= 1;
                break;
            }
            Tok::LParen => {
                let inner = parse_cmds(toks, pos)?;
                if toks.get(*pos) != Some(&Tok::RParen) {
                    return Err("template: :1: unclosed left paren".to_string());
                }
                *pos += 1;
                Arg::Sub(Pipeline {
                    decl: Vec::new(),
                    cmds: inner,
                })
            }
            Tok::Field(f, off) => Arg::Field(f.clone(), *off),
            Tok::Var(n, f, off) => Arg::Var(n.clone(), f.clone(), *off),
            Tok::Str(s) => Arg::Str(s.clone()),
            Tok::Num(n) => Arg::Num(n.clone()),
            Tok::Ident(id) if id == "true" => Arg::Bool(true),
            Tok::Ident(id) if id == "false" => Arg::Bool(false),
            Tok::Ident(id) if id == "nil" => Arg::Nil,
            Tok::Ident(id) => {
                if !KNOWN_FUNCS.contains(&id.as_str()) {
                    return Err(format!("template: :1: function \"{id}\" not defined"));
                }
                Arg::Ident(id.clone())
            }
            Tok::Declare | Tok::Comma => {
                return Err("template: :1: unexpected token in command".to_string())
            }
        };
        cmds.last_mut().expect("at least one command").push(arg);
    }
    if cmds.iter().any(|c| c.is_empty()) {
        return Err("template: :1: missing value for command".to_string());
    }
    Ok(cmds)
}
