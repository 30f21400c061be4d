//! Durations as the harness writes them and reads them: `500ms`, `5s`, `2m`.

use std::time::Duration;

/// Parses a duration as `timeout = ".."` and [`TIMEOUT_ENV`](crate::TIMEOUT_ENV) accept
/// it: a whole number followed by `ms`, `s` or `m`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(portaltest::parse_duration("500ms"), Some(Duration::from_millis(500)));
/// assert_eq!(portaltest::parse_duration("5s"), Some(Duration::from_secs(5)));
/// assert_eq!(portaltest::parse_duration("2m"), Some(Duration::from_secs(120)));
/// assert_eq!(portaltest::parse_duration("soon"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, factor) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        return None;
    };
    let n: u64 = digits.trim().parse().ok()?;
    Some(Duration::from_millis(n.checked_mul(factor)?))
}

/// Formats a limit the way it is written: `200ms`, `5s`, `2m`.
pub(crate) fn format_limit(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_formats() {
        for text in ["1ms", "200ms", "1500ms", "5s", "90s", "2m", "60m"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_limit(d), text);
        }
        assert_eq!(parse_duration(" 7 s "), Some(Duration::from_secs(7)));
        assert_eq!(format_limit(Duration::from_secs(60)), "1m");
        assert_eq!(format_limit(Duration::ZERO), "0ms");
    }

    #[test]
    fn rejects_other_units_signs_and_overflow() {
        for text in [
            "",
            "5",
            "5h",
            "-1s",
            "1.5s",
            "s",
            "ms",
            "18446744073709551615m",
        ] {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }
}
