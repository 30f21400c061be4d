//! Signals to the run: Ctrl-C and SIGTERM (the interrupt phase: cancel, then kill
//! after the grace or at a second signal), and Ctrl-Z / SIGCONT (the workers stop and
//! go on with the supervisor).

use std::time::Instant;

use super::blame::Kill;
use super::{send, Supervisor, Worker};
use crate::protocol::events::Command;
use crate::report::messages;

impl Worker {
    /// Sends `signal` to its process group.
    #[allow(unsafe_code)]
    fn signal_group(&self, signal: i32) {
        if let Some(pid) = self.pid.filter(|p| *p > 0) {
            // SAFETY: kill() has no memory-safety preconditions; the worker leads its
            // own process group and is not reaped yet (it is in `workers`).
            unsafe {
                libc::kill(-pid, signal);
            }
        }
    }
}

impl Supervisor {
    /// Ctrl-Z (SIGTSTP): the workers stop, then the supervisor.
    #[allow(unsafe_code)]
    pub(super) fn on_stop(&mut self) {
        for worker in self.workers.values() {
            worker.signal_group(libc::SIGSTOP);
        }
        // SAFETY: raise() has no memory-safety preconditions; SIGSTOP stops this
        // process until a SIGCONT (`fg`), and then raise returns.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }

    /// SIGCONT (`fg`, or after any stop of the supervisor): the workers go on too, and
    /// no deadline that passed while the run stood still kills one before a grace.
    pub(super) fn on_continue(&mut self) {
        let fresh = Instant::now() + self.grace;
        for worker in self.workers.values_mut() {
            worker.signal_group(libc::SIGCONT);
            worker.not_before = Some(fresh);
        }
    }

    /// Ctrl-C or SIGTERM: the first cancels every worker's tests (killed after the
    /// grace), the second kills the workers at once.
    pub(super) async fn on_signal(&mut self, signal: &'static str) {
        if self.interrupted.is_some() {
            if !self.killed_all {
                self.killed_all = true;
                self.report.warn(&messages::interrupt_again(signal));
                for worker in self.workers.values_mut() {
                    worker.killed = Some(Kill::Second);
                    if let Some(kill) = worker.kill.take() {
                        let _ = kill.send(());
                    }
                }
            }
            return;
        }
        self.interrupted = Some(signal);
        self.report
            .warn(&messages::interrupt_cancelling(signal, self.grace));
        let now = Instant::now();
        for worker in self.workers.values_mut() {
            worker.cancelled_at = Some(now);
            send(&mut worker.tx, &Command::Cancel).await;
        }
    }
}

/// Whether `signal` has arrived (without waiting).
pub(super) fn poll_signal(signal: &mut Option<tokio::signal::unix::Signal>) -> bool {
    let Some(signal) = signal else {
        return false;
    };
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    matches!(signal.poll_recv(&mut cx), std::task::Poll::Ready(Some(())))
}

/// Waits for a signal, or forever if it could not be registered.
pub(super) async fn recv_signal(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
