//! The portaltest guide: one chapter per module, in reading order.
//!
//! 1. [`quick_start`]: a target, what you write, the command line.
//! 2. [`concurrency`]: one runtime, tests interleaved, and the one rule.
//! 3. [`fixtures`]: shared async values, created once, torn down at the end.
//! 4. [`isolated`]: tests with a thread, a runtime and a clock of their own.
//! 5. [`output`]: formats, captured output, tracing logs, timings.
//! 6. [`workers`]: worker processes, crashes, hangs, signals, all cores, debuggers.
//! 7. [`retries`]: retries, JUnit, timings, partitions, shuffle.
//! 8. [`ci`]: CI and cargo-nextest.
//! 9. [`porting`]: from `#[tokio::test]`.
//! 10. [`cookbook`]: recipes and whole example targets.
//! 11. [`environment`]: every environment variable.

pub mod quick_start {
    #![doc = include_str!("../guide/quick_start.md")]
}

pub mod concurrency {
    #![doc = include_str!("../guide/concurrency.md")]
}

pub mod fixtures {
    #![doc = include_str!("../guide/fixtures.md")]
}

pub mod isolated {
    #![doc = include_str!("../guide/isolated.md")]
}

pub mod output {
    #![doc = include_str!("../guide/output.md")]
}

pub mod workers {
    #![doc = include_str!("../guide/workers.md")]
}

pub mod retries {
    #![doc = include_str!("../guide/retries.md")]
}

pub mod ci {
    #![doc = include_str!("../guide/ci.md")]
}

pub mod porting {
    #![doc = include_str!("../guide/porting.md")]
}

pub mod cookbook {
    #![doc = concat!(
    include_str!("../guide/cookbook.md"),
    "\n### `echo_server`: a shared server fixture\n\n```rust,ignore\n",
    include_str!("../examples/echo_server.rs"),
    "```\n\n### `sync_helpers`: sync code that awaits, guards, blocking work, spawned tasks\n\n```rust,ignore\n",
    include_str!("../examples/sync_helpers.rs"),
    "```\n\n### `paused_clock`: paused and isolated tests beside shared ones\n\n```rust,ignore\n",
    include_str!("../examples/paused_clock.rs"),
    "```\n",
)]
}

pub mod environment {
    #![doc = include_str!("../guide/environment.md")]
}
