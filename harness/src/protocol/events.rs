//! What a worker tells the supervisor ([`Event`]) and what the supervisor tells a
//! worker ([`Command`]), and their encoding on the socket between them.
//!
//! Data flows one way: the worker's run loop emits events, the supervisor (or, in one
//! process, the run itself) turns them into results, and [`crate::report`] prints them.
//! A worker names what it runs by *slot*, its own index of tests and teardowns; the
//! [`Event::Started`] of a slot says which test (by its index in the binary's sorted
//! list of tests) it holds.
//!
//! Frames are `u32` little-endian length, then a tag byte and the fields; byte strings
//! and texts are length-prefixed. Nothing here needs to be stable across versions: both
//! ends are the same binary.

use std::time::Duration;

/// How a test ended, as the worker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Passed,
    Failed,
    /// Cancelled because the run was interrupted (Ctrl-C, SIGTERM).
    Interrupted,
}

/// From a worker, about its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// The worker wants up to `n` more tests ([`Command::Run`] or [`Command::End`]
    /// answers).
    Want { n: u32 },
    /// Test `id` started in `slot`.
    Started { slot: u32, id: u32 },
    /// Output that `slot` wrote (captured, in order).
    Output { slot: u32, bytes: Vec<u8> },
    /// `slot`'s test ended; `note` goes below its output.
    Finished {
        slot: u32,
        verdict: Verdict,
        note: Option<String>,
        took: Duration,
    },
    /// An attempt of `slot`'s test failed and it runs again (retries); its output so far
    /// and `note` belong to that attempt.
    Retry {
        slot: u32,
        note: Option<String>,
        took: Duration,
    },
    /// libtest's notice: `slot`'s test has been running for `after` (no time limit).
    SlowNotice { slot: u32, after: Duration },
    /// Fixture `name` is being set up on behalf of `slot`'s test (its first user).
    FixtureSetup { slot: u32, name: String },
    /// Fixture `name` is set up (or failed to be, which its users report).
    FixtureReady { name: String },
    /// Fixture `name`'s teardown runs in `slot`, within `limit`.
    Teardown {
        slot: u32,
        name: String,
        limit: Duration,
    },
    /// `slot`'s teardown ended; `error`: why it failed (its output came before).
    TeardownEnd { slot: u32, error: Option<String> },
    /// Output that belongs to no test.
    Stray { bytes: Vec<u8> },
    /// A warning of the harness, for the real stderr.
    Warn { text: String },
    /// Every test handed out finished and the fixtures were torn down.
    Done,
    /// The worker found it had been stopped (SIGSTOP, Ctrl-Z) for `gap`: its deadlines
    /// moved by as much.
    Stopped { gap: Duration },
    /// Before `Done`: how long tests and fixtures kept the runtime thread busy (`busy`,
    /// the sum of their polls) in the worker's run of `wall`.
    Busy { busy: Duration, wall: Duration },
}

/// From the supervisor, to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Run these tests (indices in the sorted list).
    Run { ids: Vec<u32> },
    /// No more tests: finish those in flight, tear the fixtures down, exit.
    End,
    /// The run is interrupted: cancel the tests in flight, start no more, tear down.
    Cancel,
    /// Fixture `name` crashed a worker while being set up: fail its users with `cause`.
    Broken { name: String, cause: String },
    /// Test `id` already had `tries` tries (ended by crashes of other workers): it has
    /// that many fewer retries left here.
    Tried { id: u32, tries: u32 },
}

/// The most output bytes in one event: bigger output goes in several.
pub(crate) const MAX_CHUNK: usize = 1 << 20;

/// A length as the frame's `u32`; beyond it the frame could not be read back (the
/// senders keep far below: output goes in [`MAX_CHUNK`]s).
fn len32(n: usize) -> u32 {
    u32::try_from(n)
        .ok()
        .filter(|n| *n != u32::MAX)
        .expect("portaltest: an event field of 4 GiB or more")
}

/// Appends fields to a frame.
struct Put(Vec<u8>);

impl Put {
    fn new(tag: u8) -> Put {
        Put(vec![0, 0, 0, 0, tag])
    }
    fn u32(mut self, v: u32) -> Put {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Put {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(self, b: &[u8]) -> Put {
        let mut p = self.u32(len32(b.len()));
        p.0.extend_from_slice(b);
        p
    }
    fn opt(self, s: &Option<String>) -> Put {
        match s {
            None => self.u32(u32::MAX),
            Some(s) => self.bytes(s.as_bytes()),
        }
    }
    fn finish(mut self, out: &mut Vec<u8>) {
        let len = len32(self.0.len() - 4);
        self.0[..4].copy_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.0);
    }
}

/// Reads fields of a frame; `None` when it is malformed.
struct Get<'a>(&'a [u8]);

impl<'a> Get<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        Some(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?).ok()
    }
    fn opt(&mut self) -> Option<Option<String>> {
        let n = self.u32()?;
        if n == u32::MAX {
            return Some(None);
        }
        let b = self.take(n as usize)?.to_vec();
        Some(Some(String::from_utf8(b).ok()?))
    }
    fn duration(&mut self) -> Option<Duration> {
        Some(Duration::from_micros(self.u64()?))
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

impl Event {
    /// Appends the frame of this event to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let p = match self {
            Event::Want { n } => Put::new(1).u32(*n),
            Event::Started { slot, id } => Put::new(2).u32(*slot).u32(*id),
            Event::Output { slot, bytes } => Put::new(3).u32(*slot).bytes(bytes),
            Event::Finished {
                slot,
                verdict,
                note,
                took,
            } => {
                let v = match verdict {
                    Verdict::Passed => 0,
                    Verdict::Failed => 1,
                    Verdict::Interrupted => 2,
                };
                Put::new(4).u32(*slot).u32(v).opt(note).u64(micros(*took))
            }
            Event::SlowNotice { slot, after } => Put::new(5).u32(*slot).u64(micros(*after)),
            Event::FixtureSetup { slot, name } => Put::new(6).u32(*slot).bytes(name.as_bytes()),
            Event::FixtureReady { name } => Put::new(7).bytes(name.as_bytes()),
            Event::Teardown { slot, name, limit } => Put::new(8)
                .u32(*slot)
                .bytes(name.as_bytes())
                .u64(micros(*limit)),
            Event::TeardownEnd { slot, error } => Put::new(9).u32(*slot).opt(error),
            Event::Stray { bytes } => Put::new(10).bytes(bytes),
            Event::Warn { text } => Put::new(11).bytes(text.as_bytes()),
            Event::Done => Put::new(12),
            Event::Retry { slot, note, took } => {
                Put::new(13).u32(*slot).opt(note).u64(micros(*took))
            }
            Event::Stopped { gap } => Put::new(14).u64(micros(*gap)),
            Event::Busy { busy, wall } => Put::new(15).u64(micros(*busy)).u64(micros(*wall)),
        };
        p.finish(out)
    }

    /// The event of one frame's body (without its length).
    pub(crate) fn decode(frame: &[u8]) -> Option<Event> {
        let mut g = Get(frame);
        let event = match g.u8()? {
            1 => Event::Want { n: g.u32()? },
            2 => Event::Started {
                slot: g.u32()?,
                id: g.u32()?,
            },
            3 => Event::Output {
                slot: g.u32()?,
                bytes: g.bytes()?,
            },
            4 => Event::Finished {
                slot: g.u32()?,
                verdict: match g.u32()? {
                    0 => Verdict::Passed,
                    1 => Verdict::Failed,
                    2 => Verdict::Interrupted,
                    _ => return None,
                },
                note: g.opt()?,
                took: g.duration()?,
            },
            5 => Event::SlowNotice {
                slot: g.u32()?,
                after: g.duration()?,
            },
            6 => Event::FixtureSetup {
                slot: g.u32()?,
                name: g.string()?,
            },
            7 => Event::FixtureReady { name: g.string()? },
            8 => Event::Teardown {
                slot: g.u32()?,
                name: g.string()?,
                limit: g.duration()?,
            },
            9 => Event::TeardownEnd {
                slot: g.u32()?,
                error: g.opt()?,
            },
            10 => Event::Stray { bytes: g.bytes()? },
            11 => Event::Warn { text: g.string()? },
            12 => Event::Done,
            13 => Event::Retry {
                slot: g.u32()?,
                note: g.opt()?,
                took: g.duration()?,
            },
            14 => Event::Stopped { gap: g.duration()? },
            15 => Event::Busy {
                busy: g.duration()?,
                wall: g.duration()?,
            },
            _ => return None,
        };
        g.0.is_empty().then_some(event)
    }
}

impl Command {
    /// Appends the frame of this command to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let p = match self {
            Command::Run { ids } => {
                let mut p = Put::new(1).u32(len32(ids.len()));
                for id in ids {
                    p = p.u32(*id);
                }
                p
            }
            Command::End => Put::new(2),
            Command::Cancel => Put::new(3),
            Command::Broken { name, cause } => {
                Put::new(4).bytes(name.as_bytes()).bytes(cause.as_bytes())
            }
            Command::Tried { id, tries } => Put::new(5).u32(*id).u32(*tries),
        };
        p.finish(out)
    }

    /// The command of one frame's body (without its length).
    pub(crate) fn decode(frame: &[u8]) -> Option<Command> {
        let mut g = Get(frame);
        let command = match g.u8()? {
            1 => {
                let n = g.u32()? as usize;
                let mut ids = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    ids.push(g.u32()?);
                }
                Command::Run { ids }
            }
            2 => Command::End,
            3 => Command::Cancel,
            4 => Command::Broken {
                name: g.string()?,
                cause: g.string()?,
            },
            5 => Command::Tried {
                id: g.u32()?,
                tries: g.u32()?,
            },
            _ => return None,
        };
        g.0.is_empty().then_some(command)
    }
}

/// Splits whole frames off the front of `buf`, leaving a partial one.
pub(crate) fn frames(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 4 {
        let len = u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        if buf.len() - at - 4 < len {
            break;
        }
        out.push(buf[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    buf.drain(..at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_frames() {
        let events = vec![
            Event::Want { n: 4096 },
            Event::Started { slot: 3, id: 9 },
            Event::Output {
                slot: 3,
                bytes: b"\xff\x00 not utf-8".to_vec(),
            },
            Event::Finished {
                slot: 3,
                verdict: Verdict::Failed,
                note: Some("note: x".into()),
                took: Duration::from_micros(1234),
            },
            Event::Finished {
                slot: 4,
                verdict: Verdict::Interrupted,
                note: None,
                took: Duration::ZERO,
            },
            Event::SlowNotice {
                slot: 1,
                after: Duration::from_secs(60),
            },
            Event::FixtureSetup {
                slot: 0,
                name: "db".into(),
            },
            Event::FixtureReady { name: "db".into() },
            Event::Teardown {
                slot: 7,
                name: "db".into(),
                limit: Duration::from_secs(30),
            },
            Event::TeardownEnd {
                slot: 7,
                error: Some("boom".into()),
            },
            Event::Stray { bytes: vec![] },
            Event::Warn { text: "w".into() },
            Event::Retry {
                slot: 2,
                note: Some("try".into()),
                took: Duration::from_millis(5),
            },
            Event::Busy {
                busy: Duration::from_millis(900),
                wall: Duration::from_millis(1000),
            },
            Event::Done,
        ];
        let mut wire = Vec::new();
        for e in &events {
            e.encode(&mut wire);
        }
        // Arrives in two pieces, cut inside a frame.
        let mut buf = wire[..7].to_vec();
        let mut got: Vec<Event> = frames(&mut buf)
            .iter()
            .map(|f| Event::decode(f).unwrap())
            .collect();
        buf.extend_from_slice(&wire[7..]);
        got.extend(frames(&mut buf).iter().map(|f| Event::decode(f).unwrap()));
        assert!(buf.is_empty());
        assert_eq!(got, events);
    }

    #[test]
    fn commands_round_trip_and_garbage_is_refused() {
        let commands = vec![
            Command::Run { ids: vec![1, 2, 3] },
            Command::End,
            Command::Cancel,
            Command::Broken {
                name: "db".into(),
                cause: "SIGABRT".into(),
            },
        ];
        let mut wire = Vec::new();
        for c in &commands {
            c.encode(&mut wire);
        }
        let got: Vec<Command> = frames(&mut wire)
            .iter()
            .map(|f| Command::decode(f).unwrap())
            .collect();
        assert_eq!(got, commands);
        assert_eq!(Event::decode(&[99]), None);
        assert_eq!(Event::decode(&[2, 1, 0]), None);
        assert_eq!(Command::decode(&[2, 0]), None);
    }
}
