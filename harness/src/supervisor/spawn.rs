//! Starting a worker process: its command (this executable again), the socket pair
//! of its link, its board, its capture file and its process group, and the tasks that
//! read its events and wait for its end.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

use super::{send, Msg, Supervisor, Worker};
use crate::config::{WORKER_CAPTURE_ENV, WORKER_ENV, WORKER_SHARE_ENV, WORKER_THREADS_ENV};
use crate::protocol::board;
use crate::protocol::events::{frames, Command, Event};
use crate::report::{messages, Tracker};

impl Supervisor {
    /// Starts workers while tests are waiting and fewer than `jobs` take them.
    pub(super) async fn spawn_workers(&mut self, msgs: &mpsc::UnboundedSender<Msg>) {
        if self.interrupted.is_some() || self.gave_up {
            return;
        }
        loop {
            let taking = self.workers.values().filter(|w| !w.ended).count();
            if self.queue.is_empty() || taking >= self.jobs {
                return;
            }
            match self.spawn_worker(msgs).await {
                Ok(()) => {}
                Err(err) => {
                    self.report.warn(&messages::cannot_start_worker(&err));
                    return;
                }
            }
        }
    }

    /// Starts one worker process and the tasks that watch it.
    #[allow(unsafe_code)]
    async fn spawn_worker(&mut self, msgs: &mpsc::UnboundedSender<Msg>) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let index = self.next_worker;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        // Unnamed: nothing is left in the temp dir, whatever ends the run.
        let board_file = board::create()?;
        let board_fd = board_file.as_raw_fd();
        let mut command = tokio::process::Command::new(worker_exe());
        if let Some(arg0) = std::env::args_os().next() {
            command.arg0(arg0);
        }
        command
            .env(WORKER_ENV, format!("fd:{board_fd}"))
            .env(WORKER_THREADS_ENV, self.threads.to_string())
            .env(WORKER_CAPTURE_ENV, if self.capture { "1" } else { "0" })
            .env(WORKER_SHARE_ENV, if self.jobs > 1 { "1" } else { "0" })
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            // A process group of its own: killing the worker kills what it started
            // (a fixture's helper, a forked child) too.
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: runs in the child between fork and exec, where only async-signal-safe
        // calls are allowed: `fcntl` is one. It clears close-on-exec on the board's fd
        // (open in the parent, so valid in the child), which the worker then maps.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(board_fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let capture = if self.capture {
            let file = crate::sys::temp::temp_file("worker")?;
            command
                .stdout(Stdio::from(file.try_clone()?))
                .stderr(Stdio::from(file.try_clone()?));
            Some(file)
        } else {
            None
        };
        let mut child = command.spawn()?;
        let pid = child.id().map(|p| p as i32);
        ours.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(ours)?;
        let (mut rx, mut tx) = stream.into_split();
        for (name, cause) in &self.broken {
            send(
                &mut tx,
                &Command::Broken {
                    name: name.clone(),
                    cause: cause.clone(),
                },
            )
            .await;
        }
        // The process's end, not the socket's, ends the worker: a child it forked may
        // hold the socket open for as long as it likes. Once the process has exited,
        // what it wrote is in the socket's buffer: read until that is empty.
        let (exited_tx, exited_rx) = oneshot::channel::<()>();
        let events = msgs.clone();
        tokio::task::spawn_local(async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            let mut exited = std::pin::pin!(exited_rx);
            let mut draining = false;
            // Far more than a socket buffer holds: what a process that escaped the
            // worker's group (and kept the socket) writes after its end is not read.
            let mut drain_left = 1024;
            loop {
                let n = if draining {
                    drain_left -= 1;
                    match rx.try_read(&mut chunk) {
                        _ if drain_left == 0 => break,
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    }
                } else {
                    tokio::select! {
                        read = rx.read(&mut chunk) => match read {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        },
                        _ = &mut exited => {
                            draining = true;
                            continue;
                        }
                    }
                };
                buf.extend_from_slice(&chunk[..n]);
                for frame in frames(&mut buf) {
                    if let Some(event) = Event::decode(&frame) {
                        let _ = events.send(Msg::Event(index, event));
                    }
                }
            }
            let _ = events.send(Msg::EventsOver(index));
        });
        let (kill_tx, kill_rx) = oneshot::channel();
        let exits = msgs.clone();
        tokio::task::spawn_local(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    kill_group(pid);
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            // What the worker started and left behind (a forked child, a fixture's
            // helper) ends with it.
            kill_group(pid);
            let status = status.unwrap_or_else(|_| {
                use std::os::unix::process::ExitStatusExt;
                ExitStatus::from_raw(libc::SIGKILL)
            });
            let _ = exits.send(Msg::Exited(index, status));
            let _ = exited_tx.send(());
        });
        self.next_worker += 1;
        self.workers.insert(
            index,
            Worker {
                tx,
                kill: Some(kill_tx),
                board: board_file,
                capture,
                tracker: Tracker::default(),
                assigned: BTreeSet::new(),
                ended: false,
                killed: None,
                events_over: false,
                status: None,
                cancelled_at: None,
                deadlines: BTreeSet::new(),
                deadline_by_id: HashMap::new(),
                took_any: false,
                pid,
                not_before: None,
            },
        );
        Ok(())
    }
}

/// What a worker runs: this very executable, as the kernel has it open (Linux's
/// `/proc/self/exe`), so that a test binary rebuilt or deleted during the run changes
/// nothing; elsewhere, its path.
fn worker_exe() -> PathBuf {
    let proc_exe = std::path::Path::new("/proc/self/exe");
    if cfg!(target_os = "linux") && proc_exe.exists() {
        return proc_exe.to_path_buf();
    }
    std::env::current_exe().unwrap_or_else(|_| proc_exe.to_path_buf())
}

/// SIGKILLs the process group of the worker `pid` (its own group: it leads it).
#[allow(unsafe_code)]
fn kill_group(pid: Option<i32>) {
    if let Some(pid) = pid.filter(|p| *p > 0) {
        // SAFETY: kill() has no memory-safety preconditions. A negative pid names the
        // process group that the worker leads (it was started with `process_group(0)`);
        // the worker is not reaped yet or was just reaped by us, so the group id is not
        // reused by an unrelated group while members of this one live.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}
