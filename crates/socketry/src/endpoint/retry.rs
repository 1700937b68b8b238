//! Opening an address again when the system refused (`retry`, `forever`, `interval`).

use std::fmt;
use std::time::Duration;

use super::error::OpenError;
use crate::address::{OptionId, Options};

/// Runs `attempt` until it succeeds, or fails in a way time cannot change, or the `retry`
/// count (or `forever`) in `options` is used up, `interval` apart. `what` names the endpoint
/// in the warning each failure logs.
pub(crate) async fn with_retries<T, F, Fut>(
    options: &Options,
    what: &(dyn fmt::Display + Sync),
    mut attempt: F,
) -> Result<T, OpenError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, OpenError>>,
{
    let retries = if options.flag(OptionId::Forever, false) {
        u64::MAX
    } else {
        options.count(OptionId::Retry).unwrap_or(0)
    };
    let interval = options
        .seconds(OptionId::Interval)
        .unwrap_or(Duration::from_secs(1));
    let mut failed = 0u64;
    loop {
        match attempt().await {
            // Only what the system said can change with time; socketry's own refusals cannot.
            Err(
                e @ (OpenError::Io { .. } | OpenError::Resolve { .. } | OpenError::TimedOut { .. }),
            ) if failed < retries => {
                failed += 1;
                tracing::warn!("{what}: {e}; trying again in {}s", interval.as_secs_f64());
                tokio::time::sleep(interval).await;
            }
            // A TLS peer that closed or answered in plaintext may be a relay whose own far end
            // is not up yet (socat's gender changer through a proxy): time can change that.
            Err(e @ OpenError::Tls { .. }) if failed < retries && e.may_pass_later() => {
                failed += 1;
                tracing::warn!("{what}: {e}; trying again in {}s", interval.as_secs_f64());
                tokio::time::sleep(interval).await;
            }
            result => return result,
        }
    }
}
