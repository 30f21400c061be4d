//! Panics of tests as libtest reports them: the hook that names the test and trims
//! the backtrace, and the hints printed above tokio's and tracing-subscriber's messages.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::config::Backtraces;
use crate::config::TRACING_ENV;
use crate::here::{self, IN_PANIC_HOOK};
use crate::logging::HARNESS_SUBSCRIBER;
use crate::unwind::panic_message;
use crate::worker::attribution;

/// Panics inside a test are reported the way libtest reports them, with the test's
/// name as the thread name (`thread 'users::creates_user' panicked at ...`): every test
/// runs on the main thread, so the default hook would say `'main'` for all of them.
/// With `RUST_BACKTRACE=1` the backtrace is trimmed as std trims it for libtest's tests:
/// from the panic to the test's entry ([`__rust_begin_short_backtrace`](crate::unwind::__rust_begin_short_backtrace)); with
/// `RUST_BACKTRACE=full` it is whole. Panics outside tests go to the hook that was
/// installed before.
pub(crate) fn install_panic_hook(backtraces: Backtraces) {
    static HINTED: AtomicBool = AtomicBool::new(false);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let started = Instant::now();
        let payload = info.payload();
        let msg = panic_message(payload);
        // On the shared thread, a test or a fixture (not the isolated test's thread).
        let shared = attribution::current_test_name();
        let isolated = match shared {
            Some(_) => None,
            None => here::current_target(),
        };
        let hint = match (&shared, &isolated) {
            (Some(name), _) => runtime_hint(name, true, &msg),
            (None, Some((name, _))) => runtime_hint(name, false, &msg),
            (None, None) => None,
        }
        .or_else(|| tracing_hint(&msg));
        match (shared, isolated) {
            // Live (no capture) on an isolated test's thread, which bears the test's
            // name: std's hook prints it best (and trims the backtrace).
            (None, Some((_, None))) if backtraces != Backtraces::Off => {
                if let Some(hint) = &hint {
                    let _ = writeln!(std::io::stderr(), "{hint}");
                }
                previous(info)
            }
            (Some(name), _) | (None, Some((name, _))) => {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let mut text = format!("\nthread '{name}' panicked{location}:\n");
                if let Some(hint) = &hint {
                    text.push_str(hint);
                    text.push('\n');
                }
                text.push_str(&msg);
                text.push('\n');
                match backtraces {
                    Backtraces::Off => {
                        if !HINTED.swap(true, Ordering::Relaxed) {
                            text.push_str(
                                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
                            );
                        }
                    }
                    Backtraces::Short => {
                        let backtrace = std::backtrace::Backtrace::force_capture();
                        text.push_str("stack backtrace:\n");
                        text.push_str(&trim_backtrace(&backtrace.to_string()));
                        text.push_str(
                            "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n",
                        );
                    }
                    Backtraces::Full => {
                        let backtrace = std::backtrace::Backtrace::force_capture();
                        text.push_str(&format!("stack backtrace:\n{backtrace:#}\n"));
                    }
                }
                match here::current_target() {
                    // Attributed exactly, whatever the shared tests print meanwhile.
                    Some((_, Some(buffer))) => buffer
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(text.as_bytes()),
                    _ => {
                        let _ = std::io::stderr().lock().write_all(text.as_bytes());
                    }
                }
            }
            (None, None) => previous(info),
        }
        // Printing a backtrace takes long; it is not the test blocking the thread.
        IN_PANIC_HOOK.with(|t| t.set(t.get() + started.elapsed()));
    }));
}

/// A backtrace (std's `Display` text) trimmed the way std trims short backtraces: the
/// frames after `__rust_end_short_backtrace` (the panic machinery) up to the first
/// `__rust_begin_short_backtrace` (the test's entry), renumbered from 0.
fn trim_backtrace(text: &str) -> String {
    fn is_frame_start(line: &str) -> bool {
        let t = line.trim_start();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && t[digits..].starts_with(": ")
    }
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if is_frame_start(line) || frames.is_empty() {
            frames.push(vec![line]);
        } else if let Some(last) = frames.last_mut() {
            last.push(line);
        }
    }
    let has = |frame: &Vec<&str>, marker: &str| frame.iter().any(|l| l.contains(marker));
    let start = frames
        .iter()
        .position(|f| has(f, "__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let end = frames[start..]
        .iter()
        .position(|f| has(f, "__rust_begin_short_backtrace"))
        .map_or(frames.len(), |i| start + i);
    let mut out = String::new();
    for (index, frame) in frames[start..end].iter().enumerate() {
        for (i, line) in frame.iter().enumerate() {
            if i == 0 && is_frame_start(line) {
                let rest = line.trim_start();
                let rest = &rest[rest.find(':').unwrap_or(0)..];
                out.push_str(&format!("{index:4}{rest}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// tracing-subscriber's panic when `init()` finds a global subscriber installed
/// already, and what to do (printed above its text) when that one is the harness's.
fn tracing_hint(msg: &str) -> Option<String> {
    const TEXTS: [&str; 2] = [
        "Unable to install global subscriber",
        "failed to set global default subscriber",
    ];
    if !HARNESS_SUBSCRIBER.load(Ordering::Relaxed) || !TEXTS.iter().any(|t| msg.contains(t)) {
        return None;
    }
    Some(format!(
        "portaltest: the harness installed a global `tracing` subscriber already (it captures \
         events per test; RUST_LOG filters it). Use `try_init()` and ignore its error, install \
         yours in your own `fn main` before `portaltest::run_main()`, or set {TRACING_ENV}=0 \
         to keep the harness from installing one. tracing-subscriber says:"
    ))
}

/// tokio's panics for what a test cannot do inside its runtime (the shared one, or an
/// isolated test's, which tokio sees as it sees a `#[tokio::test]`), and the line that
/// says what to do instead (printed above tokio's own text).
fn runtime_hint(test: &str, shared: bool, msg: &str) -> Option<String> {
    const TOKIO_TEXTS: [&str; 3] = [
        "Cannot start a runtime from within a runtime",
        "Cannot drop a runtime in a context where blocking is not allowed",
        "Cannot block the current thread from within a runtime",
    ];
    if !TOKIO_TEXTS.iter().any(|t| msg.contains(t)) {
        return None;
    }
    let place = if shared {
        "on the shared runtime's thread"
    } else {
        "inside its own runtime, as a `#[tokio::test]` does"
    };
    Some(format!(
        "portaltest: `{test}` runs {place}, where tokio does not allow starting, blocking on \
         or dropping another runtime, nor blocking; `await_` the future instead of \
         `block_on`, or build, use and drop that runtime on a thread of its own \
         (`std::thread::scope`), as under `#[tokio::test]`. tokio says:"
    ))
}
