//! The template functions: docker's (`json`, `join`, `split`, `title`, ...) and
//! Go's built-ins (`index`, `len`, `print*`, `eq`, `not`, `and`, `or`).

use crate::format::json_value::Json;
use crate::format::text::capitalize;

pub(super) const KNOWN_FUNCS: &[&str] = &[
    "json", "index", "join", "len", "upper", "lower", "title", "split", "print", "println",
    "printf", "eq", "ne", "not", "and", "or", "pad", "truncate",
];

fn as_text(v: &Json) -> String {
    v.to_go_string()
}

pub(super) fn call(name: &str, args: Vec<Json>) -> Result<Json, String> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() != n {
            Err(format!(
                "template: :1: wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    match name {
        "json" => {
            want(1)?;
            Ok(Json::String(args[0].to_json()))
        }
        "upper" => {
            want(1)?;
            Ok(Json::String(as_text(&args[0]).to_uppercase()))
        }
        "lower" => {
            want(1)?;
            Ok(Json::String(as_text(&args[0]).to_lowercase()))
        }
        "title" => {
            want(1)?;
            Ok(Json::String(
                as_text(&args[0])
                    .split(' ')
                    .map(capitalize)
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        }
        "len" => {
            want(1)?;
            let n = match &args[0] {
                Json::Array(a) => a.len(),
                Json::Object(o) => o.len(),
                Json::String(s) => s.len(),
                Json::Null => 0,
                other => {
                    return Err(format!(
                        "template: :1: len of type {}",
                        other.to_go_string()
                    ))
                }
            };
            Ok(Json::Number(n.to_string()))
        }
        "join" => {
            want(2)?;
            let items = match &args[0] {
                Json::Array(a) => a.iter().map(as_text).collect::<Vec<_>>(),
                Json::Null => Vec::new(),
                other => vec![as_text(other)],
            };
            Ok(Json::String(items.join(&as_text(&args[1]))))
        }
        "split" => {
            want(2)?;
            let s = as_text(&args[0]);
            let sep = as_text(&args[1]);
            Ok(Json::Array(
                s.split(sep.as_str())
                    .map(|p| Json::String(p.to_string()))
                    .collect(),
            ))
        }
        "pad" => {
            want(3)?;
            let before: usize = as_text(&args[1]).parse().unwrap_or(0);
            let after: usize = as_text(&args[2]).parse().unwrap_or(0);
            Ok(Json::String(format!(
                "{}{}{}",
                " ".repeat(before),
                as_text(&args[0]),
                " ".repeat(after)
            )))
        }
        "truncate" => {
            want(2)?;
            let n: usize = as_text(&args[1]).parse().unwrap_or(0);
            Ok(Json::String(as_text(&args[0]).chars().take(n).collect()))
        }
        "index" => {
            if args.is_empty() {
                return Err("template: :1: wrong number of args for index".to_string());
            }
            let mut cur = args[0].clone();
            for key in &args[1..] {
                cur = match (&cur, key) {
                    // a missing map key gives the element's zero value (docker's
                    // maps hold strings)
                    (Json::Object(_), k) => cur
                        .get(&as_text(k))
                        .cloned()
                        .unwrap_or(Json::String(String::new())),
                    (Json::Array(a), Json::Number(n)) => {
                        let i: usize = n
                            .parse()
                            .map_err(|_| "template: :1: bad index".to_string())?;
                        a.get(i).cloned().ok_or_else(|| {
                            format!("template: :1: error calling index: index out of range: {i}")
                        })?
                    }
                    _ => return Err("template: :1: error calling index: cannot index".to_string()),
                };
            }
            Ok(cur)
        }
        "print" => Ok(Json::String(
            args.iter().map(as_text).collect::<Vec<_>>().join(""),
        )),
        "println" => Ok(Json::String(
            args.iter().map(as_text).collect::<Vec<_>>().join(" ") + "\n",
        )),
        "printf" => {
            if args.is_empty() {
                return Err("template: :1: wrong number of args for printf".to_string());
            }
            Ok(Json::String(printf(&as_text(&args[0]), &args[1..])))
        }
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err(format!("template: :1: missing argument for {name}"));
            }
            let equal = args[1..].iter().any(|b| values_equal(&args[0], b));
            Ok(Json::Bool(if name == "eq" { equal } else { !equal }))
        }
        "not" => {
            want(1)?;
            Ok(Json::Bool(!args[0].is_truthy()))
        }
        "and" => Ok(args
            .iter()
            .find(|a| !a.is_truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(Json::Null)),
        "or" => Ok(args
            .iter()
            .find(|a| a.is_truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(Json::Null)),
        other => Err(format!("template: :1: function \"{other}\" not defined")),
    }
}

fn values_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(x), Ok(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

fn printf(fmt: &str, args: &[Json]) -> String {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('q') => out.push_str(&crate::format::text::go_quote(
                &it.next().map(as_text).unwrap_or_default(),
            )),
            Some(_) => out.push_str(&it.next().map(as_text).unwrap_or_default()),
            None => out.push('%'),
        }
    }
    out
}
