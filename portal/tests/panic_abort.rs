//! With `panic = "abort"`, dropping a suspended portal cannot
//! unwind its stack (`Cancelled` is a panic). The portal's stack is leaked instead:
//! its destructors do not run, one line on stderr says so, and the process goes on.
//!
//! `cfg!(panic = "abort")` is decided when stackportal itself is compiled, so this test
//! builds a small program and stackportal with `panic = "abort"` in a scratch crate of
//! its own (under the target directory, with the workspace's lock file, offline) and
//! runs it. It costs one small debug build (~30-60 s the first time, then cached); it is
//! skipped under a memory checker and where `cargo` is not at hand.

use std::path::PathBuf;
use std::process::Command;

mod test_env;

const MAIN: &str = r#"
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

struct Noisy;

impl Drop for Noisy {
    fn drop(&mut self) {
        println!("destructor ran");
    }
}

fn main() {
    let mut cx = Context::from_waker(Waker::noop());
    let mut portal = stackportal::Builder::new().name("abort::demo").run_sync(|| {
        let _noisy = Noisy;
        stackportal::await_(std::future::pending::<()>());
    });
    assert!(Pin::new(&mut portal).poll(&mut cx).is_pending());
    drop(portal); // a timeout firing, a select! choosing another branch
    println!("survived the drop");
    // A portal that never ran, and one that finishes, are as usual.
    let captured = Noisy;
    drop(stackportal::with_portal_run_sync(move || {
        let _ = &captured;
    }));
    let mut done = stackportal::with_portal_run_sync(|| 5);
    assert_eq!(Pin::new(&mut done).poll(&mut cx), Poll::Ready(5));
    println!("done");
}
"#;

#[test]
fn dropping_a_suspended_portal_under_panic_abort_leaks_it_and_goes_on() {
    if test_env::memcheck().is_some() {
        eprintln!("skipped under a memory checker (it builds a program)");
        return;
    }
    let Some(cargo) = std::env::var_os("CARGO") else {
        eprintln!("skipped: not run by cargo");
        return;
    };
    let portal_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = portal_dir.parent().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let krate = target.join("panic-abort-check");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"panic-abort-check\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\nstackportal = {{ path = {:?} }}\n\n\
             [profile.dev]\npanic = \"abort\"\n\n[workspace]\n",
            portal_dir.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(krate.join("src/main.rs"), MAIN).unwrap();
    // The workspace's versions, so that the offline build resolves from the cache.
    std::fs::copy(workspace.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let out = Command::new(cargo)
        .args(["run", "--quiet", "--offline"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", krate.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(stdout.contains("survived the drop"), "{stdout}");
    assert!(stdout.contains("done"), "{stdout}");
    // Only the never-run portal's capture ran its destructor, not the leaked stack's.
    assert_eq!(stdout.matches("destructor ran").count(), 1, "{stdout}");
    let lines: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("panic = \"abort\""))
        .collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    assert!(lines[0].contains("leaked"), "{stderr}");
    assert!(
        lines[0].contains("`abort::demo`"),
        "names the portal: {stderr}"
    );
}
