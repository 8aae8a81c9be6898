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

/// go-units `HumanDuration`; a negative duration (clock skew) is "Less
/// than a second".
pub fn human_duration(d: chrono::Duration) -> String {
    berth_units::human_duration(d.to_std().unwrap_or_default())
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
