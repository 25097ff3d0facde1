//! A fetch shared by every request waiting for its answer: spawned as its own tokio task when
//! there is a runtime, otherwise driven by its waiters.
//!
//! The JWKS cache and the ALB key cache both start their fetches here. A spawned fetch runs to
//! its end even when every request waiting for it is cancelled (the clients hung up), so its
//! answer still lands in the cache. Without a runtime there is nothing to spawn on, so the
//! waiters poll the fetch themselves; each caller's own age check keeps a fetch stranded that
//! way from being joined later.

use std::future::Future;
use std::sync::Weak;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::task::AbortHandle;

/// The answer of one fetch, for every waiter that clones it.
pub(crate) type SharedFetch<T> = Shared<BoxFuture<'static, T>>;

/// Starts `task` on the current tokio runtime, or leaves it to its waiters when there is none;
/// returns what every waiter awaits, and the handle that stops the task (`None` when the
/// waiters drive the fetch).
///
/// When the spawned task ends without an answer (it panicked, was stopped through its abort
/// handle, or its runtime shut down), the waiters get `fallback`, and `forget` runs on the
/// owner if it still exists: the owner drops its record of this fetch, so the next request
/// starts a new one instead of joining a dead one. The owner is held weakly, so a fetch under
/// way never keeps its cache alive.
pub(crate) fn start<T, O>(
    task: impl Future<Output = T> + Send + 'static,
    owner: Weak<O>,
    forget: impl FnOnce(&O) + Send + 'static,
    fallback: T,
) -> (SharedFetch<T>, Option<AbortHandle>)
where
    T: Clone + Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    let (fetch, abort): (BoxFuture<'static, T>, _) = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let handle = runtime.spawn(task);
            let abort = handle.abort_handle();
            let fetch = async move {
                match handle.await {
                    Ok(answer) => answer,
                    Err(_) => {
                        if let Some(owner) = owner.upgrade() {
                            forget(&owner);
                        }
                        fallback
                    }
                }
            };
            (fetch.boxed(), Some(abort))
        }
        Err(_) => (task.boxed(), None),
    };
    (fetch.shared(), abort)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An owner that records whether it was told to forget its fetch.
    #[derive(Default)]
    struct Owner {
        forgotten: Mutex<bool>,
    }

    impl Owner {
        fn forgotten(&self) -> bool {
            *self.forgotten.lock().expect("lock")
        }
    }

    fn start_for(
        owner: &Arc<Owner>,
        task: impl Future<Output = u8> + Send + 'static,
    ) -> (SharedFetch<u8>, Option<AbortHandle>) {
        start(
            task,
            Arc::downgrade(owner),
            |owner: &Owner| *owner.forgotten.lock().expect("lock") = true,
            0,
        )
    }

    #[tokio::test]
    async fn on_a_runtime_every_waiter_gets_the_answer_of_one_task() {
        let owner = Arc::new(Owner::default());
        let (fetch, abort) = start_for(&owner, async { 7 });
        assert!(abort.is_some(), "spawned");
        let other = fetch.clone();
        assert_eq!((fetch.await, other.await), (7, 7));
        assert!(!owner.forgotten());
    }

    #[tokio::test]
    async fn the_task_runs_to_its_end_when_every_waiter_is_gone() {
        let owner = Arc::new(Owner::default());
        let (done, finished) = tokio::sync::oneshot::channel();
        let (fetch, _abort) = start_for(&owner, async move {
            let _ = done.send(());
            7
        });
        drop(fetch);
        finished.await.expect("the task ran with no waiter left");
        assert!(!owner.forgotten());
    }

    #[tokio::test]
    async fn a_stopped_task_is_forgotten_and_answers_the_fallback() {
        let owner = Arc::new(Owner::default());
        let (fetch, abort) = start_for(&owner, futures_util::future::pending());
        abort.expect("spawned").abort();
        assert_eq!(fetch.await, 0);
        assert!(owner.forgotten());
    }

    #[tokio::test]
    async fn a_panicked_task_answers_the_fallback_even_when_its_owner_is_gone() {
        let owner = Arc::new(Owner::default());
        let (fetch, _abort) = start_for(&owner, async { panic!("the fetch panicked") });
        drop(owner);
        assert_eq!(fetch.await, 0);
    }

    #[test]
    fn without_a_runtime_the_waiters_drive_the_fetch() {
        let owner = Arc::new(Owner::default());
        let (fetch, abort) = start_for(&owner, async { 5 });
        assert!(abort.is_none(), "nothing to spawn on");
        assert_eq!(fetch.now_or_never(), Some(5));
        assert!(!owner.forgotten());
    }
}
