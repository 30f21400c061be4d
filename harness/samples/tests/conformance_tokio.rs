//! The conformance probes under `#[tokio::test]` (libtest's harness): the reference
//! that `conformance.rs` is compared with (harness/tests/conformance.rs).
#[path = "conformance/probes.rs"]
mod probes;

macro_rules! on_tokio {
    ($($probe:ident),* $(,)?) => {
        mod current {
            $(
                #[tokio::test]
                async fn $probe() {
                    let trace = super::probes::$probe().await;
                    super::probes::record("current", stringify!($probe), &trace);
                }
            )*
        }
    };
}

macro_rules! on_paused_tokio {
    ($($probe:ident),* $(,)?) => {
        mod paused {
            $(
                #[tokio::test(start_paused = true)]
                async fn $probe() {
                    let trace = super::probes::$probe().await;
                    super::probes::record("paused", stringify!($probe), &trace);
                }
            )*
        }
    };
}

on_tokio!(
    yield_lets_spawned_tasks_run,
    spawn_order,
    handle_current,
    block_in_place_refused,
    nested_runtime_refused,
    consume_budget,
    timeout_fires,
    spawn_local_without_local_set,
    pause_in_the_test,
);

on_paused_tokio!(
    yield_lets_spawned_tasks_run,
    spawn_order,
    consume_budget,
    advance_expires_timers,
    sleep_auto_advances,
    timeout_on_a_paused_clock,
    yields_do_not_advance_the_clock,
    sleepers_wake_in_deadline_order,
    interval_ticks,
);
