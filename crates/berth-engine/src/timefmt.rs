//! Times in docker's formats: RFC 3339 with nanoseconds, and go-units'
//! human durations used in `Status` strings ("Up 5 seconds").

use chrono::{DateTime, Utc};

pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub fn parse(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn unix(ts: &str) -> i64 {
    parse(ts).map(|t| t.timestamp()).unwrap_or(0)
}

/// go-units `HumanDuration`.
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = d.num_minutes();
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (d.num_seconds() as f64 / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", d.num_hours() / 24 / 365)
}

/// How long ago `ts` was, in docker's words.
pub fn since(ts: &str) -> String {
    match parse(ts) {
        Some(t) => human_duration(Utc::now() - t),
        None => "Less than a second".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn human_durations_match_go_units() {
        assert_eq!(
            human_duration(Duration::milliseconds(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::seconds(1)), "1 second");
        assert_eq!(human_duration(Duration::seconds(45)), "45 seconds");
        assert_eq!(human_duration(Duration::seconds(90)), "About a minute");
        assert_eq!(human_duration(Duration::minutes(5)), "5 minutes");
        assert_eq!(human_duration(Duration::minutes(80)), "About an hour");
        assert_eq!(human_duration(Duration::hours(5)), "5 hours");
        assert_eq!(human_duration(Duration::days(3)), "3 days");
        assert_eq!(human_duration(Duration::days(20)), "2 weeks");
        assert_eq!(human_duration(Duration::days(100)), "3 months");
        assert_eq!(human_duration(Duration::days(800)), "2 years");
    }

    #[test]
    fn rfc3339_round_trip() {
        let now = now_rfc3339();
        assert!(now.ends_with('Z'));
        assert!(parse(&now).is_some());
        assert_eq!(unix("1970-01-01T00:01:00Z"), 60);
    }
}
