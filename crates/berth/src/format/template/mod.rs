//! A subset of Go's `text/template` for `inspect --format`, evaluated on the
//! JSON the daemon returned: field chains (`.State.Status`), `$` variables,
//! pipes, `if`/`else`/`range`/`with`/`end`, and the functions docker users
//! reach for (`json`, `index`, `join`, `len`, `upper`, `lower`, `title`,
//! `split`, `print`, `println`, `printf`, `eq`, `ne`, `not`, `and`, `or`).

mod funcs;
mod parse;

use super::json_value::Json;
use funcs::call;
use parse::{parse_list, split_actions};

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Pipeline {
    decl: Vec<String>,
    cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (empty path for `.`), with its byte offset for error messages.
    Field(Vec<String>, usize),
    /// `$x.A.B` (`$` alone is the root).
    Var(String, Vec<String>, usize),
    Str(String),
    Num(String),
    Bool(bool),
    Nil,
    Ident(String),
    Sub(Pipeline),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>, usize),
    Var(String, Vec<String>, usize),
    Ident(String),
    Str(String),
    Num(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Comma,
}

impl Template {
    /// Parses `src`; errors read like Go's (`template: :1: ...`).
    pub fn parse(src: &str) -> Result<Template, String> {
        let items = split_actions(src)?;
        let mut pos = 0;
        let (nodes, end) = parse_list(&items, &mut pos)?;
        if let Some(kw) = end {
            return Err(format!("template: :1: unexpected {{{{{kw}}}}}"));
        }
        Ok(Template { nodes })
    }

    /// Executes the template with `data` as dot.
    pub fn execute(&self, src: &str, data: &Json) -> Result<String, String> {
        let mut ex = Exec {
            src,
            root: data,
            vars: vec![("$".to_string(), data.clone())],
        };
        let mut out = String::new();
        ex.run(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

struct Exec<'a> {
    src: &'a str,
    root: &'a Json,
    vars: Vec<(String, Json)>,
}

impl Exec<'_> {
    fn run(&mut self, nodes: &[Node], dot: &Json, out: &mut String) -> Result<(), String> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        out.push_str(&v.to_go_string());
                    }
                }
                Node::If(p, body, els) => {
                    let v = self.pipeline(p, dot)?;
                    let branch = if v.is_truthy() { body } else { els };
                    self.run(branch, dot, out)?;
                }
                Node::With(p, body, els) => {
                    let v = self.pipeline(p, dot)?;
                    if v.is_truthy() {
                        self.run(body, &v, out)?;
                    } else {
                        self.run(els, dot, out)?;
                    }
                }
                Node::Range(p, body, els) => {
                    let v = self.eval_cmds(&p.cmds, dot)?;
                    let entries: Vec<(Json, Json)> = match &v {
                        Json::Array(items) => items
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (Json::Number(i.to_string()), x.clone()))
                            .collect(),
                        Json::Object(fields) => {
                            let mut f: Vec<_> = fields.clone();
                            f.sort_by(|a, b| a.0.cmp(&b.0));
                            f.into_iter().map(|(k, x)| (Json::String(k), x)).collect()
                        }
                        Json::Null => Vec::new(),
                        other => {
                            return Err(format!(
                                "template: :1: range can't iterate over {}",
                                other.to_go_string()
                            ))
                        }
                    };
                    if entries.is_empty() {
                        self.run(els, dot, out)?;
                    }
                    for (k, x) in entries {
                        let mark = self.vars.len();
                        match p.decl.as_slice() {
                            [v] => self.vars.push((v.clone(), x.clone())),
                            [kn, vn] => {
                                self.vars.push((kn.clone(), k));
                                self.vars.push((vn.clone(), x.clone()));
                            }
                            _ => {}
                        }
                        self.run(body, &x, out)?;
                        self.vars.truncate(mark);
                    }
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Json) -> Result<Json, String> {
        let v = self.eval_cmds(&p.cmds, dot)?;
        if let Some(name) = p.decl.first() {
            self.vars.push((name.clone(), v.clone()));
        }
        Ok(v)
    }

    fn eval_cmds(&mut self, cmds: &[Vec<Arg>], dot: &Json) -> Result<Json, String> {
        let mut prev: Option<Json> = None;
        for cmd in cmds {
            prev = Some(self.eval_cmd(cmd, dot, prev.take())?);
        }
        Ok(prev.unwrap_or(Json::Null))
    }

    fn eval_cmd(&mut self, cmd: &[Arg], dot: &Json, piped: Option<Json>) -> Result<Json, String> {
        match &cmd[0] {
            Arg::Ident(name) => {
                let mut args = Vec::new();
                for a in &cmd[1..] {
                    args.push(self.eval_arg(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                call(name, args)
            }
            first => {
                if cmd.len() > 1 || piped.is_some() {
                    return Err(format!(
                        "template: :1: can't give argument to non-function {}",
                        self.describe(first)
                    ));
                }
                self.eval_arg(first, dot)
            }
        }
    }

    fn describe(&self, a: &Arg) -> String {
        match a {
            Arg::Field(f, _) => format!(".{}", f.join(".")),
            Arg::Var(n, f, _) => {
                let mut s = n.clone();
                for x in f {
                    s.push('.');
                    s.push_str(x);
                }
                s
            }
            Arg::Str(s) => format!("{s:?}"),
            Arg::Num(n) => n.clone(),
            Arg::Bool(b) => b.to_string(),
            Arg::Nil => "nil".to_string(),
            Arg::Ident(i) => i.clone(),
            Arg::Sub(_) => "(...)".to_string(),
        }
    }

    fn eval_arg(&mut self, a: &Arg, dot: &Json) -> Result<Json, String> {
        match a {
            Arg::Field(path, off) => self.walk(dot, path, *off, a),
            Arg::Var(name, path, off) => {
                let base = if name == "$" {
                    self.root.clone()
                } else {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| format!("template: :1: undefined variable \"{name}\""))?
                };
                self.walk(&base, path, *off, a)
            }
            Arg::Str(s) => Ok(Json::String(s.clone())),
            Arg::Num(n) => Ok(Json::Number(n.clone())),
            Arg::Bool(b) => Ok(Json::Bool(*b)),
            Arg::Nil => Ok(Json::Null),
            Arg::Ident(name) => call(name, Vec::new()),
            Arg::Sub(p) => self.eval_cmds(&p.cmds, dot),
        }
    }

    fn walk(&self, base: &Json, path: &[String], off: usize, a: &Arg) -> Result<Json, String> {
        let mut cur = base;
        for key in path {
            cur = match cur {
                Json::Object(_) => cur.get(key).ok_or_else(|| {
                    self.exec_error(off, a, &format!("map has no entry for key \"{key}\""))
                })?,
                Json::Null => {
                    return Err(self.exec_error(
                        off,
                        a,
                        &format!("nil pointer evaluating interface {{}}.{key}"),
                    ))
                }
                other => {
                    let kind = match other {
                        Json::Array(_) => "[]interface {}",
                        Json::String(_) => "string",
                        Json::Bool(_) => "bool",
                        _ => "float64",
                    };
                    return Err(self.exec_error(
                        off,
                        a,
                        &format!("can't evaluate field {key} in type {kind}"),
                    ));
                }
            };
        }
        Ok(cur.clone())
    }

    fn exec_error(&self, off: usize, a: &Arg, msg: &str) -> String {
        let before = &self.src[..off.min(self.src.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => off - nl - 1,
            None => off,
        };
        format!(
            "template: :{line}:{col}: executing \"\" at <{}>: {msg}",
            self.describe(a)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(tmpl: &str, data: &str) -> Result<String, String> {
        let t = Template::parse(tmpl)?;
        t.execute(tmpl, &Json::parse(data).unwrap())
    }

    const DATA: &str = r#"{"Id":"abc","State":{"Status":"exited","ExitCode":3,"Running":false},
        "Config":{"Cmd":["sh","-c","echo >&2"],"Labels":{"b":"2","a":"1"},"Env":null},
        "Mounts":[{"Source":"/a"},{"Source":"/b"}]}"#;

    #[test]
    fn fields_and_json() {
        assert_eq!(
            render("{{.State.Status}} {{json .Config.Cmd}}", DATA).unwrap(),
            r#"exited ["sh","-c","echo >&2"]"#
        );
        assert_eq!(render("{{.State.ExitCode}}", DATA).unwrap(), "3");
        assert_eq!(render("id={{ .Id }}!", DATA).unwrap(), "id=abc!");
        assert_eq!(render("{{.Config.Labels}}", DATA).unwrap(), "map[a:1 b:2]");
        assert_eq!(render("{{json .Config.Env}}", DATA).unwrap(), "null");
    }

    #[test]
    fn functions_and_pipes() {
        assert_eq!(render("{{index .Config.Labels \"b\"}}", DATA).unwrap(), "2");
        assert_eq!(
            render("{{join .Config.Cmd \" \"}}", DATA).unwrap(),
            "sh -c echo >&2"
        );
        assert_eq!(render("{{len .Mounts}}", DATA).unwrap(), "2");
        assert_eq!(render("{{.State.Status | upper}}", DATA).unwrap(), "EXITED");
        assert_eq!(
            render("{{printf \"%s-%d\" .Id .State.ExitCode}}", DATA).unwrap(),
            "abc-3"
        );
    }

    #[test]
    fn control_flow() {
        assert_eq!(
            render("{{range .Mounts}}{{.Source}},{{end}}", DATA).unwrap(),
            "/a,/b,"
        );
        assert_eq!(
            render(
                "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                DATA
            )
            .unwrap(),
            "a=1;b=2;"
        );
        assert_eq!(
            render("{{if .State.Running}}up{{else}}down{{end}}", DATA).unwrap(),
            "down"
        );
        assert_eq!(
            render("{{if eq .State.Status \"exited\"}}yes{{end}}", DATA).unwrap(),
            "yes"
        );
        assert_eq!(
            render("{{with .State}}{{.Status}}{{end}}", DATA).unwrap(),
            "exited"
        );
        assert_eq!(render("a  {{- .Id -}}  b", DATA).unwrap(), "aabcb");
        assert_eq!(render("{{$.Id}}", DATA).unwrap(), "abc");
    }

    #[test]
    fn errors_name_the_missing_key() {
        assert_eq!(
            render("{{.Nope}}", DATA).unwrap_err(),
            "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
        );
        assert_eq!(
            render("{{.State.Nope.X}}", DATA).unwrap_err(),
            "template: :1:8: executing \"\" at <.State.Nope.X>: map has no entry for key \"Nope\""
        );
        assert_eq!(render("{{index .Config.Labels \"zz\"}}", DATA).unwrap(), "");
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{frob .A}}").is_err());
        assert!(Template::parse("{{if .A}}x").is_err());
    }
}
