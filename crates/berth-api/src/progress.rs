//! docker's progress text (`JSONProgress.String()`): the bar and counts
//! the daemon puts in a message's `progress` and the CLI draws from its
//! `progressDetail`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressDetail {
    #[serde(default)]
    pub current: i64,
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub start: i64,
    #[serde(default)]
    pub units: String,
    #[serde(rename = "hidecounts", default)]
    pub hide_counts: bool,
}

impl ProgressDetail {
    /// docker's `JSONProgress.String()` for a terminal `width` columns wide.
    pub fn render(&self, width: usize, now: i64) -> String {
        if self.current <= 0 && self.total <= 0 {
            return String::new();
        }
        if self.total <= 0 {
            return if self.units.is_empty() {
                format!("{:>8}", berth_units::human_size(self.current as f64))
            } else {
                format!("{} {}", self.current, self.units)
            };
        }
        let percentage = (((self.current as f64 / self.total as f64) * 100.0) as i64 / 2).min(50);
        let mut bar = String::new();
        if width > 110 {
            let spaces = (50 - percentage).max(0) as usize;
            bar = format!(
                "[{}>{}] ",
                "=".repeat(percentage.max(0) as usize),
                " ".repeat(spaces)
            );
        }
        let numbers = if self.hide_counts {
            String::new()
        } else if self.units.is_empty() {
            let current = berth_units::human_size(self.current as f64);
            if self.current > self.total {
                format!("{current:>8}")
            } else {
                format!(
                    "{current:>8}/{}",
                    berth_units::human_size(self.total as f64)
                )
            }
        } else if self.current > self.total {
            format!("{} {}", self.current, self.units)
        } else {
            format!("{}/{} {}", self.current, self.total, self.units)
        };
        let mut left = String::new();
        if self.current > 0 && self.start > 0 && width > 50 {
            let elapsed = (now - self.start).max(0) as f64;
            let per_entry = elapsed / self.current as f64;
            let remaining = ((self.total - self.current) as f64 * per_entry).round() as i64;
            left = format!(" {}", go_duration_secs(remaining));
        }
        format!("{bar}{numbers}{left}")
    }
}

/// Go's `time.Duration.String()` for whole seconds (`0s`, `1m30s`, `2h0m5s`).
fn go_duration_secs(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_rendering() {
        let p = ProgressDetail {
            current: 10240,
            total: 10240,
            ..Default::default()
        };
        assert_eq!(p.render(80, 0), " 10.24kB/10.24kB");
        assert_eq!(
            p.render(200, 0),
            format!("[{}>]  10.24kB/10.24kB", "=".repeat(50))
        );
        let p = ProgressDetail {
            current: 50,
            total: 100,
            start: 100,
            ..Default::default()
        };
        assert_eq!(p.render(80, 110), "     50B/100B 10s");
        let p = ProgressDetail {
            current: 3,
            units: "items".into(),
            ..Default::default()
        };
        assert_eq!(p.render(80, 0), "3 items");
        assert_eq!(go_duration_secs(90), "1m30s");
        assert_eq!(go_duration_secs(3605), "1h0m5s");
    }
}
