//! Small string helpers from docker's formatter: display width, ellipsis,
//! ID truncation and Go's `strconv.Quote`.

/// Display width of one character, roughly like go-runewidth in a non-CJK
/// locale: combining marks and zero-width characters count 0, East Asian wide
/// and emoji characters count 2, everything else 1.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    if u == 0 || (0x0300..=0x036F).contains(&u) || (0x200B..=0x200F).contains(&u) || u == 0xFEFF {
        return 0;
    }
    let wide = (0x1100..=0x115F).contains(&u)
        || (0x2E80..=0x303E).contains(&u)
        || (0x3041..=0x33FF).contains(&u)
        || (0x3400..=0x4DBF).contains(&u)
        || (0x4E00..=0x9FFF).contains(&u)
        || (0xA000..=0xA4CF).contains(&u)
        || (0xAC00..=0xD7A3).contains(&u)
        || (0xF900..=0xFAFF).contains(&u)
        || (0xFE30..=0xFE4F).contains(&u)
        || (0xFF00..=0xFF60).contains(&u)
        || (0xFFE0..=0xFFE6).contains(&u)
        || (0x1F300..=0x1F64F).contains(&u)
        || (0x1F900..=0x1F9FF).contains(&u)
        || (0x20000..=0x3FFFD).contains(&u);
    if wide {
        2
    } else {
        1
    }
}

/// Display width of a string (sum of [`char_width`]).
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// docker's `formatter.Ellipsis`: cut `s` to at most `max` display columns,
/// ending with `…` when something was cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = s.chars().collect();
    if max == 1 {
        return chars.first().map(|c| c.to_string()).unwrap_or_default();
    }
    if display_width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut width = 0;
    for c in chars {
        let w = char_width(c);
        if width + w > max - 1 {
            break;
        }
        width += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// docker's `stringid.TruncateID`: drop an `algo:` prefix and keep 12 characters.
pub fn truncate_id(id: &str) -> String {
    let id = match id.find(':') {
        Some(i) => &id[i + 1..],
        None => id,
    };
    id.chars().take(12).collect()
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || c == '\u{00a0}' || c == '\u{feff}' => {
                let u = c as u32;
                if u <= 0xFFFF {
                    out.push_str(&format!("\\u{u:04x}"));
                } else {
                    out.push_str(&format!("\\U{u:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A unix time as Go's `time.Time.String()` prints it in local time:
/// `2006-01-02 15:04:05 -0700 MST`.
pub fn go_time_string(unix: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp(unix, 0) else {
        return String::new();
    };
    let local = t.with_timezone(&chrono::Local);
    format!(
        "{} {}",
        local.format("%Y-%m-%d %H:%M:%S %z"),
        zone_abbreviation(unix).unwrap_or_else(|| local.format("%:z").to_string())
    )
}

/// The local time zone's abbreviation at `unix` (`UTC`, `CET`, ...).
fn zone_abbreviation(unix: i64) -> Option<String> {
    let t: libc::time_t = unix as libc::time_t;
    // SAFETY: `tm` is plain data; localtime_r fills it for the valid `t`, and
    // tm_zone then points at a static, NUL-terminated abbreviation.
    extern "C" {
        fn tzset();
    }
    unsafe {
        tzset();
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() || tm.tm_zone.is_null() {
            return None;
        }
        let s = std::ffi::CStr::from_ptr(tm.tm_zone)
            .to_string_lossy()
            .into_owned();
        (!s.is_empty()).then_some(s)
    }
}

/// `s` with only its first character upper-cased.
pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis_like_docker() {
        assert_eq!(ellipsis("echo hi", 20), "echo hi");
        assert_eq!(
            ellipsis("echo a very long command line here", 20),
            "echo a very long co…"
        );
        assert_eq!(ellipsis("12345678901234567890", 20), "12345678901234567890");
        assert_eq!(
            ellipsis("123456789012345678901", 20),
            "1234567890123456789…"
        );
        assert_eq!(ellipsis("abc", 1), "a");
        assert_eq!(ellipsis("abc", 0), "");
        // wide characters count twice
        assert_eq!(ellipsis("你好你好你好", 6), "你好…");
    }

    #[test]
    fn truncate_ids() {
        assert_eq!(truncate_id("sha256:ddbe27c5ebdae02563f66d"), "ddbe27c5ebda");
        assert_eq!(truncate_id("bf889774cecd6a9910b49865a1b7"), "bf889774cecd");
        assert_eq!(truncate_id("<missing>"), "<missing>");
    }

    #[test]
    fn go_time_strings_end_with_a_zone() {
        let s = go_time_string(1_700_000_000);
        assert_eq!(
            s.len(),
            "2023-11-14 22:13:20 +0000".len() + 1 + s.split(' ').nth(3).unwrap().len()
        );
        assert!(s.split(' ').nth(3).is_some_and(|z| !z.is_empty()));
    }

    #[test]
    fn quote_like_go() {
        assert_eq!(go_quote("sleep 300"), "\"sleep 300\"");
        assert_eq!(
            go_quote("sh -c 'echo \"x\"'\n\t"),
            "\"sh -c 'echo \\\"x\\\"'\\n\\t\""
        );
        assert_eq!(go_quote("a\x1bb"), "\"a\\x1bb\"");
        assert_eq!(go_quote("echo a very long co…"), "\"echo a very long co…\"");
    }
}
