//! How durations and slots are named in messages and reports: every duration format
//! of the harness is here.

use std::sync::Mutex;
use std::time::Duration;

/// A slot's display name (a test's, a fixture teardown's), or `#N` if it has none.
pub(crate) fn slot_name(names: &Mutex<Vec<String>>, slot: usize) -> String {
    let names = names.lock().unwrap_or_else(|e| e.into_inner());
    names
        .get(slot)
        .cloned()
        .unwrap_or_else(|| format!("#{slot}"))
}

/// A duration in a message: `250 ms`, `1.50 s`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// A test's time as libtest's `--report-time` shows it (`TestExecTime`'s Display):
/// `0.250s`.
pub(crate) fn exec_time(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// How long a test has been running, in libtest's notice (`write_timeout`): `1 second`,
/// `60 seconds`, `1500 milliseconds`.
pub(crate) fn running_for(d: Duration) -> String {
    let ms = d.as_millis();
    match (ms % 1000, ms / 1000) {
        (0, 1) => "1 second".to_string(),
        (0, s) => format!("{s} seconds"),
        _ => format!("{ms} milliseconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_messages() {
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.50 s");
    }

    #[test]
    fn durations_as_libtest_prints_them() {
        assert_eq!(exec_time(Duration::from_millis(250)), "0.250s");
        assert_eq!(running_for(Duration::from_secs(1)), "1 second");
        assert_eq!(running_for(Duration::from_secs(60)), "60 seconds");
        assert_eq!(
            running_for(Duration::from_millis(1500)),
            "1500 milliseconds"
        );
    }

    #[test]
    fn slots_without_a_name_are_numbered() {
        let names = Mutex::new(vec!["m::a".to_string()]);
        assert_eq!(slot_name(&names, 0), "m::a");
        assert_eq!(slot_name(&names, 3), "#3");
    }
}
