//! Capturing the tracing events a test's own thread emits.
//!
//! One recorder is installed as the process's global subscriber, interested in every callsite at
//! every level, and it keeps an event only for a thread that is capturing. A scoped subscriber
//! (`with_default`, `set_default`) cannot be relied on while other tests run on other threads:
//! tracing caches each callsite's interest and the maximum level globally, a rebuild started on
//! another thread can store what it computed before this thread's subscriber was registered, and
//! events then go missing at random. With one global subscriber that wants everything there is
//! nothing left to race over.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::Once;

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber, field, span};

thread_local! {
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Events captured on this thread since [`capture`], each as
/// `LEVEL message field=value …` (fields other than the message in `Debug` form).
///
/// Capturing ends when this is dropped. It is not `Send`: a test that awaits must run on a
/// current-thread runtime, where the tasks it spawns are polled on its thread too.
#[derive(Debug)]
pub struct Capture {
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Starts capturing the events this thread emits.
///
/// # Panics
/// Another global subscriber was installed in this process, or a capture is already running
/// on this thread.
#[must_use = "capturing ends when the guard is dropped"]
pub fn capture() -> Capture {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        tracing::subscriber::set_global_default(Recorder)
            .expect("no other global subscriber in a test process");
    });
    CAPTURED.with_borrow_mut(|captured| {
        assert!(captured.is_none(), "one capture at a time on a thread");
        *captured = Some(Vec::new());
    });
    Capture {
        _not_send: std::marker::PhantomData,
    }
}

impl Capture {
    /// The events captured so far, oldest first.
    pub fn events(&self) -> Vec<String> {
        CAPTURED.with_borrow(|captured| captured.clone().unwrap_or_default())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURED.with_borrow_mut(|captured| *captured = None);
    }
}

/// The global subscriber: every callsite, every level, kept per capturing thread.
struct Recorder;

impl Subscriber for Recorder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        struct Text {
            message: String,
            fields: String,
        }
        impl field::Visit for Text {
            fn record_debug(&mut self, field: &field::Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    let _ = write!(self.message, "{value:?}");
                } else {
                    let _ = write!(self.fields, " {}={value:?}", field.name());
                }
            }
        }
        CAPTURED.with_borrow_mut(|captured| {
            if let Some(events) = captured {
                let mut text = Text {
                    message: String::new(),
                    fields: String::new(),
                };
                event.record(&mut text);
                events.push(format!(
                    "{} {}{}",
                    event.metadata().level(),
                    text.message,
                    text.fields
                ));
            }
        });
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}
