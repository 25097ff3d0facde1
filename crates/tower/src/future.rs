//! [`ResponseFuture`]: the inner service's future, a ready denial (boxed), or (while a key set
//! is fetched) a boxed decision.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

type Boxed<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

pin_project! {
    /// The response future of [`Authz`](crate::Authz): an allowed request decided at once
    /// allocates nothing; a denial's response and a decision that waits for a key set are
    /// boxed.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        Allowed { #[pin] future: F },
        // Boxed: a denial is rare, and the future an allowed request is moved around in stays
        // the inner service's size.
        Denied { response: Option<Box<Response<B>>> },
        Authorizing { future: Boxed<B, E> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn allowed(future: F) -> Self {
        Self {
            state: State::Allowed { future },
        }
    }

    pub(crate) fn denied(response: Response<B>) -> Self {
        Self {
            state: State::Denied {
                response: Some(Box::new(response)),
            },
        }
    }

    pub(crate) fn authorizing(future: Boxed<B, E>) -> Self {
        Self {
            state: State::Authorizing { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Allowed { future } => future.poll(cx),
            StateProj::Denied { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(*response)),
                // Polled again after completion: a caller bug; never completes twice.
                None => Poll::Pending,
            },
            StateProj::Authorizing { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Allowed { .. } => "Allowed",
            State::Denied { .. } => "Denied",
            State::Authorizing { .. } => "Authorizing",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::Ready;
    use std::pin::pin;
    use std::task::Waker;

    use super::*;

    type Future = ResponseFuture<Ready<Result<Response<String>, Infallible>>, String, Infallible>;

    #[test]
    fn a_denial_completes_once_and_never_panics_when_polled_again() {
        let mut future: Pin<&mut Future> =
            pin!(ResponseFuture::denied(Response::new("no".to_owned())));
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(response)) => assert_eq!(response.body(), "no"),
            other => panic!("expected the denial, got {other:?}"),
        }
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            format!("{future:?}"),
            r#"ResponseFuture { state: "Denied" }"#
        );
    }

    #[test]
    fn boxed_decisions_are_polled_through() {
        let boxed: Boxed<String, Infallible> =
            Box::pin(async { Ok(Response::new("later".to_owned())) });
        let mut future: Pin<&mut Future> = pin!(ResponseFuture::authorizing(boxed));
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(response)) => assert_eq!(response.body(), "later"),
            other => panic!("expected the response, got {other:?}"),
        }
    }
}
