//! `netns=NAME`: opening an address in another network namespace, as `ip netns` makes them
//! (a file under /run/netns). A socket belongs to the namespace of the thread that creates
//! it, and a program to that of the thread that starts it; socketry itself stays in its own.
//! So the address's open runs with its thread switched into the namespace for every poll and
//! back at the end of it: whatever the open creates in a poll (sockets, programs) is the
//! namespace's, and nothing else running on that thread ever is. A connection a listener
//! accepts later is its namespace's too, as the listening socket is.

use std::fs::File;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use nix::sched::{setns, CloneFlags};

use super::error::OpenError;

/// Where `ip netns` keeps the namespaces it names.
const NAMESPACE_DIR: &str = "/run/netns";

/// The namespace every thread of socketry is in between polls: the one it started in.
static HOME: OnceLock<Result<OwnedFd, String>> = OnceLock::new();

fn home() -> Result<&'static OwnedFd, OpenError> {
    HOME.get_or_init(|| {
        File::open("/proc/thread-self/ns/net")
            .map(OwnedFd::from)
            .map_err(|e| format!("opening socketry's own network namespace: {e}"))
    })
    .as_ref()
    .map_err(|e| OpenError::Refused(e.clone()))
}

/// A named network namespace, opened.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    fd: OwnedFd,
}

impl Namespace {
    /// Opens the namespace `name` (/run/netns/NAME).
    pub fn open(name: &str) -> Result<Namespace, OpenError> {
        // Known before the first switch, while this thread is still in socketry's own.
        home()?;
        let path = format!("{NAMESPACE_DIR}/{name}");
        let file = File::open(&path).map_err(|source| OpenError::Io {
            action: format!("opening the network namespace {name} ({path})"),
            source,
        })?;
        Ok(Namespace {
            name: name.to_owned(),
            fd: file.into(),
        })
    }

    /// Runs `open` inside the namespace: every poll of it switches this thread in and out.
    pub async fn run<T, F>(&self, open: F) -> Result<T, OpenError>
    where
        F: Future<Output = Result<T, OpenError>>,
    {
        Inside {
            namespace: self,
            open: Box::pin(open),
        }
        .await
    }
}

/// A future polled inside a namespace.
struct Inside<'a, F> {
    namespace: &'a Namespace,
    open: Pin<Box<F>>,
}

impl<T, F> Future for Inside<'_, F>
where
    F: Future<Output = Result<T, OpenError>>,
{
    type Output = Result<T, OpenError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let home = match home() {
            Ok(home) => home,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let namespace = self.namespace;
        if let Err(e) = setns(namespace.fd.as_fd(), CloneFlags::CLONE_NEWNET) {
            return Poll::Ready(Err(OpenError::Io {
                action: format!(
                    "entering the network namespace {} (needs root)",
                    namespace.name
                ),
                source: e.into(),
            }));
        }
        let polled = self.open.as_mut().poll(cx);
        if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
            // A thread left in another namespace would open every later address there:
            // nothing socketry does after this could be trusted.
            tracing::error!(
                "leaving the network namespace {}: {e}; exiting",
                namespace.name
            );
            std::process::abort();
        }
        polled
    }
}
