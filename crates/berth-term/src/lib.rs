//! Detach keys, shared by the berth CLI (which watches its own stdin) and
//! berthd (which watches the stdin of attach and exec streams, as dockerd
//! does for clients that do not): ctrl-p ctrl-q by default, or a
//! `--detach-keys` sequence like `ctrl-a,x`.

/// docker's default detach sequence (ctrl-p, ctrl-q).
pub const DEFAULT_KEYS: [u8; 2] = [16, 17];

/// Parses a `--detach-keys` value (`ctrl-<x>` or single characters, comma
/// separated) into bytes, like moby's `term.ToBytes`.
pub fn parse_keys(keys: &str) -> Result<Vec<u8>, String> {
    let mut codes = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            codes.push(key.as_bytes()[0]);
            continue;
        }
        let lower = key.to_ascii_lowercase();
        let code = lower.strip_prefix("ctrl-").and_then(|k| {
            let b = k.as_bytes();
            if b.len() != 1 {
                return None;
            }
            match b[0] {
                b'a'..=b'z' => Some(b[0] - b'a' + 1),
                b'@' => Some(0),
                b'[' => Some(27),
                b'\\' => Some(28),
                b']' => Some(29),
                b'^' => Some(30),
                b'_' => Some(31),
                _ => None,
            }
        });
        match code {
            Some(c) => codes.push(c),
            None => return Err(format!("Unknown character: '{key}'")),
        }
    }
    Ok(codes)
}

/// Watches stdin bytes for the detach sequence. Bytes of a partial match are
/// held back and released if the sequence does not complete.
#[derive(Debug, Clone)]
pub struct DetachMatcher {
    keys: Vec<u8>,
    pos: usize,
}

impl DetachMatcher {
    pub fn new(keys: Vec<u8>) -> DetachMatcher {
        DetachMatcher { keys, pos: 0 }
    }

    /// Filters `input`: returns the bytes to forward and whether the detach
    /// sequence was completed (anything after it is dropped).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.pos] {
                self.pos += 1;
                if self.pos == self.keys.len() {
                    self.pos = 0;
                    return (out, true);
                }
                continue;
            }
            if self.pos > 0 {
                out.extend_from_slice(&self.keys[..self.pos]);
                self.pos = 0;
                if b == self.keys[0] {
                    self.pos = 1;
                    continue;
                }
            }
            out.push(b);
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_specs() {
        assert_eq!(parse_keys("ctrl-p,ctrl-q").unwrap(), DEFAULT_KEYS.to_vec());
        assert_eq!(parse_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert_eq!(parse_keys("ctrl-@,ctrl-_").unwrap(), vec![0, 31]);
        assert_eq!(
            parse_keys("ctrl-1").unwrap_err(),
            "Unknown character: 'ctrl-1'"
        );
    }

    #[test]
    fn detects_sequence_across_reads() {
        let mut m = DetachMatcher::new(DEFAULT_KEYS.to_vec());
        assert_eq!(m.feed(b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(m.feed(&[16]), (vec![], false));
        assert_eq!(m.feed(&[17]), (vec![], true));
    }

    #[test]
    fn partial_sequence_is_released() {
        let mut m = DetachMatcher::new(DEFAULT_KEYS.to_vec());
        assert_eq!(m.feed(&[16]), (vec![], false));
        assert_eq!(m.feed(b"a"), (vec![16, b'a'], false));
        assert_eq!(m.feed(&[16, 16, 17]), (vec![16], true));
    }
}
