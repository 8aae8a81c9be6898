//! Go's `json.Indent` and `json.Compact` on raw JSON text. docker's inspect
//! re-indents the bytes the daemon sent, so key order and string escapes are
//! kept exactly as received.

/// Re-indents JSON text with `indent` per level (no prefix), like `json.Indent`.
/// Empty objects and arrays stay `{}` and `[]`.
pub fn indent(src: &[u8], indent: &str) -> Vec<u8> {
    let mut dst = Vec::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut need_indent = false;
    let mut in_string = false;
    let mut escaped = false;
    for &c in src {
        if in_string {
            dst.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        if need_indent && c != b'}' && c != b']' {
            need_indent = false;
            depth += 1;
            newline(&mut dst, indent, depth);
        }
        match c {
            b'"' => {
                in_string = true;
                dst.push(c);
            }
            b'{' | b'[' => {
                need_indent = true;
                dst.push(c);
            }
            b',' => {
                dst.push(c);
                newline(&mut dst, indent, depth);
            }
            b':' => {
                dst.push(c);
                dst.push(b' ');
            }
            b'}' | b']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut dst, indent, depth);
                }
                dst.push(c);
            }
            _ => dst.push(c),
        }
    }
    dst
}

fn newline(dst: &mut Vec<u8>, indent: &str, depth: usize) {
    dst.push(b'\n');
    for _ in 0..depth {
        dst.extend_from_slice(indent.as_bytes());
    }
}

/// Removes insignificant whitespace, like `json.Compact`.
pub fn compact(src: &[u8]) -> Vec<u8> {
    let mut dst = Vec::with_capacity(src.len());
    let mut in_string = false;
    let mut escaped = false;
    for &c in src {
        if in_string {
            dst.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            if c == b'"' {
                in_string = true;
            }
            dst.push(c);
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_like_go() {
        let src = br#"[{"Id":"abc","Args":[],"Env":{},"State":{"Running":true,"Pid":0},"Cmd":["a","b \"c\" ]"]}
]"#;
        let out = String::from_utf8(indent(src, "    ")).unwrap();
        assert_eq!(
            out,
            "[\n    {\n        \"Id\": \"abc\",\n        \"Args\": [],\n        \"Env\": {},\n        \"State\": {\n            \"Running\": true,\n            \"Pid\": 0\n        },\n        \"Cmd\": [\n            \"a\",\n            \"b \\\"c\\\" ]\"\n        ]\n    }\n]"
        );
    }

    #[test]
    fn empty_array() {
        assert_eq!(indent(b"[]", "    "), b"[]");
    }

    #[test]
    fn compacts() {
        assert_eq!(
            compact(b"{ \"a\" : [1, 2],\n \"b\": \"x y\" }\n"),
            br#"{"a":[1,2],"b":"x y"}"#
        );
    }
}
