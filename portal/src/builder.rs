//! Opening portals: [`with_portal_run`], [`with_portal_run_sync`] and the [`Builder`]
//! that configures them.

use std::fmt;
use std::future::IntoFuture;
use std::rc::Rc;
use std::sync::OnceLock;

use crate::engine::{await_, Cleanup, Extras, Portal, Spawner};

/// Stack size of a portal unless configured otherwise: 2 MiB, the size of a thread
/// stack spawned by `std::thread`. It is reserved address space; only the pages the
/// code touches are committed.
///
/// ```
/// # if std::env::var_os(stackportal::STACK_SIZE_ENV).is_none() {
/// let portal = stackportal::with_portal_run_sync(|| ());
/// assert_eq!(portal.stack_size(), stackportal::DEFAULT_STACK_SIZE);
/// # }
/// ```
pub const DEFAULT_STACK_SIZE: usize = 2 * 1024 * 1024;

/// Smallest stack a portal gets: 64 KiB. Smaller requests (including
/// `STACKPORTAL_STACK_SIZE=0`) are raised to it.
///
/// It is sized so that a panic in the portal can still print with a full backtrace
/// and unwind normally: with `RUST_BACKTRACE=1` or `full`, the panic hook symbolizes the
/// backtrace on the panicking stack, and the first symbolization in a process (parsing
/// the binary's debug info) reaches about 24 KiB below the portal's body, in debug and
/// release builds alike (measured with Rust 1.95 on x86_64 Linux; 20 KiB overflows).
/// 64 KiB leaves room for other toolchains and targets and for the panicking code's own
/// frames. Like any portal stack, it is reserved address space: only the pages the code
/// touches are committed.
///
/// ```
/// let portal = stackportal::Builder::new().stack_size(1024).run_sync(|| ());
/// assert_eq!(portal.stack_size(), stackportal::MIN_STACK_SIZE);
/// ```
pub const MIN_STACK_SIZE: usize = 64 * 1024;

/// Largest stack a portal may ask for: 1 TiB on 64-bit targets, 1 GiB on others. Larger
/// requests ([`Builder::stack_size`], `STACKPORTAL_STACK_SIZE`) are refused with a panic
/// that names the setting when the portal is opened. (Only the pages the code touches
/// are committed, but the whole size is reserved address space.)
///
/// ```
/// let too_big = stackportal::MAX_STACK_SIZE + 1;
/// let refused = std::panic::catch_unwind(|| {
///     stackportal::Builder::new().stack_size(too_big).run_sync(|| ())
/// });
/// assert!(refused.is_err());
/// ```
pub const MAX_STACK_SIZE: usize = if usize::BITS >= 64 { 1 << 40 } else { 1 << 30 };

/// The environment variable that overrides [`DEFAULT_STACK_SIZE`], in bytes. It is
/// read once, when the first portal without an explicit size is opened.
///
/// ```sh
/// STACKPORTAL_STACK_SIZE=8388608 cargo test   # 8 MiB portal stacks
/// ```
pub const STACK_SIZE_ENV: &str = "STACKPORTAL_STACK_SIZE";

/// The default size, read from the environment once and already rounded.
fn default_stack_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| round_to_pages(stack_size_from_env()))
}

fn stack_size_from_env() -> usize {
    match std::env::var(STACK_SIZE_ENV) {
        Err(std::env::VarError::NotPresent) => DEFAULT_STACK_SIZE,
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(bytes) if bytes <= MAX_STACK_SIZE => bytes,
            Ok(bytes) => panic!(
                "stackportal: {STACK_SIZE_ENV}={bytes} is larger than the largest portal \
                 stack, MAX_STACK_SIZE = {MAX_STACK_SIZE} bytes; set it to e.g. \
                 {STACK_SIZE_ENV}=8388608 for 8 MiB stacks, or unset it for the default \
                 ({DEFAULT_STACK_SIZE})"
            ),
            Err(_) => panic!(
                "{STACK_SIZE_ENV}={text:?} is not a number of bytes; set it to e.g. \
                 {STACK_SIZE_ENV}=4194304 for 4 MiB stacks, or unset it for the default \
                 ({DEFAULT_STACK_SIZE})"
            ),
        },
        Err(err) => {
            panic!("{STACK_SIZE_ENV} is not valid unicode ({err}); set it to a number of bytes")
        }
    }
}

/// Rounds a size of at most [`MAX_STACK_SIZE`] up to whole pages and to at least
/// [`MIN_STACK_SIZE`]; cannot overflow.
fn round_to_pages(bytes: usize) -> usize {
    let page = crate::engine::page_size(); // a power of two, far below MAX_STACK_SIZE
    debug_assert!(bytes <= MAX_STACK_SIZE);
    (bytes.clamp(MIN_STACK_SIZE, MAX_STACK_SIZE) + (page - 1)) & !(page - 1)
}

/// Configures and opens portals.
///
/// `Builder::new()` gives what [`with_portal_run`] and [`with_portal_run_sync`] use:
/// a stack of [`DEFAULT_STACK_SIZE`] (or `STACKPORTAL_STACK_SIZE` bytes when that
/// environment variable is set) and no cleanup spawner.
///
/// ```
/// use stackportal::{await_, Builder};
///
/// let portal = Builder::new()
///     .stack_size(8 * 1024 * 1024) // deep recursion ahead
///     .run_sync(|| await_(async { 7 }));
/// assert_eq!(futures::executor::block_on(portal), 7);
/// ```
///
/// Set `STACKPORTAL_NO_SIGNAL_HANDLER=1` to keep stackportal from installing its
/// SIGSEGV handler (which names portal stack overflows before the process dies), for
/// programs that manage signals themselves.
#[derive(Clone, Default)]
pub struct Builder {
    stack_size: Option<usize>,
    name: Option<Box<str>>,
    spawner: Option<Spawner>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never panics: shows the size as set, not resolved (the environment variable may
        // be invalid, and an explicit size out of bounds is refused only on opening).
        f.debug_struct("Builder")
            .field("stack_size", &self.stack_size)
            .field("name", &self.name)
            .field("cleanup_spawner", &self.spawner.is_some())
            .finish()
    }
}

impl Builder {
    /// A builder with the default settings.
    ///
    /// ```
    /// let portal = stackportal::Builder::new().run_sync(|| 1 + 1);
    /// assert_eq!(futures::executor::block_on(portal), 2);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the usable stack size in bytes, rounded up to whole pages and to at least
    /// [`MIN_STACK_SIZE`]. Overflowing it aborts the process with a message that names
    /// the portal stack and its size.
    ///
    /// # Panics
    ///
    /// Opening a portal ([`run`](Self::run), [`run_sync`](Self::run_sync)) with a size
    /// above [`MAX_STACK_SIZE`] panics with a message that names this setting.
    ///
    /// ```
    /// let portal = stackportal::Builder::new().stack_size(100_000).run_sync(|| ());
    /// assert!(portal.stack_size() >= 100_000);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Names the portal in diagnostics: a stack overflow message says which portal
    /// overflowed (a test harness passes the test's name).
    ///
    /// ```
    /// let portal = stackportal::Builder::new().name("users::imports_csv").run_sync(|| 1);
    /// assert_eq!(futures::executor::block_on(portal), 1);
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// Registers what runs the [`AsyncGuard`](crate::AsyncGuard) cleanups that this
    /// portal (or a portal nested in it without a spawner of its own) cannot await
    /// itself because its owner dropped it before it finished.
    ///
    /// The spawner receives each cleanup as a boxed future and should run it to
    /// completion, typically by spawning it as a local task. Without a spawner such
    /// cleanups are reported on stderr and dropped.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # let local = tokio::task::LocalSet::new();
    /// # local.block_on(&rt, async {
    /// let portal = stackportal::Builder::new()
    ///     .cleanup_spawner(|cleanup| drop(tokio::task::spawn_local(cleanup)))
    ///     .run_sync(|| 5);
    /// assert_eq!(portal.await, 5);
    /// # });
    /// ```
    pub fn cleanup_spawner(mut self, spawner: impl Fn(Cleanup) + 'static) -> Self {
        self.spawner = Some(Rc::new(spawner));
        self
    }

    #[track_caller]
    fn resolved_stack_size(&self) -> usize {
        match self.stack_size {
            Some(bytes) if bytes <= MAX_STACK_SIZE => round_to_pages(bytes),
            Some(bytes) => panic!(
                "stackportal: Builder::stack_size({bytes}) is larger than the largest portal \
                 stack, stackportal::MAX_STACK_SIZE = {MAX_STACK_SIZE} bytes"
            ),
            None => default_stack_size(),
        }
    }

    /// Opens a portal that runs `future`: sync code that `future` calls may
    /// [`await_`](crate::await_).
    ///
    /// ```
    /// let portal = stackportal::Builder::new().run(async { stackportal::await_(async { 3 }) });
    /// assert_eq!(futures::executor::block_on(portal), 3);
    /// ```
    #[track_caller]
    pub fn run<F>(self, future: F) -> Portal<F::Output>
    where
        F: IntoFuture,
        F::IntoFuture: 'static,
        F::Output: 'static,
    {
        let future = future.into_future();
        self.run_sync(move || await_(future))
    }

    /// Opens a portal that runs the sync closure `body`, which may
    /// [`await_`](crate::await_).
    ///
    /// ```
    /// let portal = stackportal::Builder::new().run_sync(|| stackportal::await_(async { 4 }));
    /// assert_eq!(futures::executor::block_on(portal), 4);
    /// ```
    #[track_caller]
    pub fn run_sync<T, F>(self, body: F) -> Portal<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let stack_size = self.resolved_stack_size();
        let extras = match (self.name, self.spawner) {
            (None, None) => None,
            (name, spawner) => Some(Box::new(Extras { name, spawner })),
        };
        Portal::new(body, stack_size, extras)
    }
}

/// Runs `future` inside a portal: the returned [`Portal`] future polls `future` on a
/// separately suspendable stack, so sync code that `future` calls may
/// [`await_`](crate::await_). Portals nest: an inner portal works inside an outer one.
///
/// ```
/// use stackportal::{await_, with_portal_run};
///
/// fn sync_helper() -> String {
///     await_(async { "from async".to_string() })
/// }
///
/// let out = futures::executor::block_on(with_portal_run(async { sync_helper() }));
/// assert_eq!(out, "from async");
/// ```
pub fn with_portal_run<F>(future: F) -> Portal<F::Output>
where
    F: IntoFuture,
    F::IntoFuture: 'static,
    F::Output: 'static,
{
    Builder::new().run(future)
}

/// Runs the sync closure `body` inside a portal: the returned [`Portal`] future runs it
/// on a separately suspendable stack, where it may [`await_`](crate::await_). Cheaper
/// than [`with_portal_run`] when the code to run is sync anyway.
///
/// ```
/// use stackportal::{await_, with_portal_run_sync};
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let out = rt.block_on(async {
///     tokio::spawn(async move { tx.send(99).unwrap() });
///     with_portal_run_sync(move || await_(rx).unwrap()).await
/// });
/// assert_eq!(out, 99);
/// ```
pub fn with_portal_run_sync<T, F>(body: F) -> Portal<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new().run_sync(body)
}
