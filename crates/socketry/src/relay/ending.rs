//! When a relay ends: the rules for EOF each way, `-t` after the first EOF and `-T`
//! inactivity, as a state machine with no I/O and no clock of its own. The relay feeds it
//! what happened (a direction finished, the time data last moved) and asks when to look
//! again and whether to stop, so every rule is unit-tested with exact times.
//!
//! - Both directions finished: the relay ends ([`Ending::Eof`]).
//! - One finished and `-t` ([`Linger::For`]) is set: the other goes on while data moves; once
//!   it has moved nothing for the linger time since the first EOF, the relay ends
//!   ([`Ending::Linger`]). This is socat's `-t`: an inactivity limit after the first EOF, so
//!   a reply still flowing is never cut.
//! - [`Linger::UntilBothEnd`]: no limit after the first EOF (netcat's way).
//! - `-T`: no data either way for that long ends the relay at any time
//!   ([`Ending::Inactive`]).
//! - A stop (a terminating signal): the directions stop reading and write out what they
//!   read; the relay ends when they are done, or when the drain grace runs out
//!   ([`Ending::Stopped`] either way).

use std::time::Duration;

use tokio::time::Instant;

use super::config::Linger;
use super::outcome::{Direction, Ending};

/// The ending rules of one relay, with the directions that were started.
#[derive(Debug)]
pub(crate) struct Rules {
    linger: Linger,
    inactivity: Option<Duration>,
    running: Vec<Direction>,
    /// When the first direction finished, while another still runs.
    first_eof: Option<Instant>,
    /// After a stop: by when the directions must have written out what they read.
    drain_deadline: Option<Instant>,
    stopping: bool,
}

impl Rules {
    pub fn new(linger: Linger, inactivity: Option<Duration>, directions: &[Direction]) -> Rules {
        Rules {
            linger,
            inactivity,
            running: directions.to_vec(),
            first_eof: None,
            drain_deadline: None,
            stopping: false,
        }
    }

    /// A stop was asked for at `now`: the directions have `grace` to write out what they read.
    pub fn stop(&mut self, now: Instant, grace: Duration) {
        self.stopping = true;
        self.drain_deadline = now.checked_add(grace);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// `direction` reached EOF (and shut its writer down) at `now`. Returns the ending when
    /// nothing runs any more.
    pub fn finished(&mut self, direction: Direction, now: Instant) -> Option<Ending> {
        self.running.retain(|d| *d != direction);
        if self.running.is_empty() {
            return Some(self.ending_of_all_done());
        }
        self.first_eof.get_or_insert(now);
        None
    }

    /// The directions still moving data.
    pub fn running(&self) -> &[Direction] {
        &self.running
    }

    /// When the linger after the first EOF runs out, given that data last moved at
    /// `last_data`; `None` when there is no limit (or it lies beyond what a clock can hold).
    fn linger_deadline(&self, last_data: Instant) -> Option<Instant> {
        let (Linger::For(linger), Some(first_eof)) = (self.linger, self.first_eof) else {
            return None;
        };
        first_eof.max(last_data).checked_add(linger)
    }

    fn inactivity_deadline(&self, last_data: Instant) -> Option<Instant> {
        self.inactivity.and_then(|t| last_data.checked_add(t))
    }

    fn ending_of_all_done(&self) -> Ending {
        if self.stopping {
            Ending::Stopped
        } else {
            Ending::Eof
        }
    }

    /// The next time the rules may end the relay, if data moves no more.
    pub fn deadline(&self, last_data: Instant) -> Option<Instant> {
        [
            self.drain_deadline,
            self.linger_deadline(last_data),
            self.inactivity_deadline(last_data),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the relay ends at `now`, data having last moved at `last_data`.
    pub fn check(&self, now: Instant, last_data: Instant) -> Option<Ending> {
        if self.running.is_empty() {
            return Some(self.ending_of_all_done());
        }
        if self.drain_deadline.is_some_and(|d| now >= d) {
            return Some(Ending::Stopped);
        }
        if self.linger_deadline(last_data).is_some_and(|d| now >= d) {
            return Some(Ending::Linger);
        }
        if self
            .inactivity_deadline(last_data)
            .is_some_and(|d| now >= d)
        {
            return Some(Ending::Inactive);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{LeftToRight, RightToLeft};

    const BOTH: &[Direction] = &[LeftToRight, RightToLeft];

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn both_eofs_end_the_relay_in_either_order() {
        let t0 = Instant::now();
        for (first, second) in [(LeftToRight, RightToLeft), (RightToLeft, LeftToRight)] {
            let mut rules = Rules::new(Linger::For(ms(500)), None, BOTH);
            assert_eq!(rules.finished(first, t0), None);
            assert_eq!(rules.running(), &[second]);
            assert_eq!(rules.finished(second, t0 + ms(10)), Some(Ending::Eof));
        }
    }

    #[test]
    fn linger_is_inactivity_after_the_first_eof() {
        let t0 = Instant::now();
        let mut rules = Rules::new(Linger::For(ms(500)), None, BOTH);
        assert_eq!(rules.deadline(t0), None, "no linger before an EOF");
        rules.finished(LeftToRight, t0);
        assert_eq!(rules.deadline(t0), Some(t0 + ms(500)));
        // The reply keeps flowing in bursts 300 ms apart: never cut.
        let mut last = t0;
        for burst in 1..10 {
            let now = t0 + ms(300 * burst);
            assert_eq!(rules.check(now, last), None, "burst {burst}");
            last = now;
            assert_eq!(rules.deadline(last), Some(now + ms(500)));
        }
        assert_eq!(rules.check(last + ms(499), last), None);
        assert_eq!(rules.check(last + ms(500), last), Some(Ending::Linger));
    }

    #[test]
    fn data_before_the_first_eof_does_not_shorten_the_linger() {
        let t0 = Instant::now();
        let mut rules = Rules::new(Linger::For(ms(500)), None, BOTH);
        rules.finished(RightToLeft, t0 + ms(1000));
        // Data last moved long before the EOF: the linger counts from the EOF.
        assert_eq!(rules.check(t0 + ms(1400), t0), None);
        assert_eq!(rules.check(t0 + ms(1500), t0), Some(Ending::Linger));
    }

    #[test]
    fn until_both_end_has_no_limit_after_either_eof() {
        let t0 = Instant::now();
        for first in [LeftToRight, RightToLeft] {
            let mut rules = Rules::new(Linger::UntilBothEnd, None, BOTH);
            rules.finished(first, t0);
            assert_eq!(rules.deadline(t0), None);
            assert_eq!(rules.check(t0 + Duration::from_secs(3600), t0), None);
        }
    }

    #[test]
    fn inactivity_ends_the_relay_at_any_stage() {
        let t0 = Instant::now();
        let mut rules = Rules::new(Linger::UntilBothEnd, Some(ms(2000)), BOTH);
        assert_eq!(rules.deadline(t0), Some(t0 + ms(2000)));
        assert_eq!(rules.check(t0 + ms(1999), t0), None);
        assert_eq!(rules.check(t0 + ms(2000), t0), Some(Ending::Inactive));
        rules.finished(LeftToRight, t0);
        assert_eq!(
            rules.check(t0 + ms(2500), t0 + ms(1000)),
            None,
            "data moved at 1 s"
        );
        assert_eq!(
            rules.check(t0 + ms(3000), t0 + ms(1000)),
            Some(Ending::Inactive)
        );
    }

    #[test]
    fn the_earlier_of_linger_and_inactivity_comes_first() {
        let t0 = Instant::now();
        let mut rules = Rules::new(Linger::For(ms(500)), Some(ms(300)), BOTH);
        rules.finished(LeftToRight, t0);
        assert_eq!(rules.deadline(t0), Some(t0 + ms(300)));
        assert_eq!(rules.check(t0 + ms(300), t0), Some(Ending::Inactive));
    }

    #[test]
    fn a_single_direction_ends_at_its_eof() {
        let t0 = Instant::now();
        let mut rules = Rules::new(Linger::For(ms(500)), None, &[RightToLeft]);
        assert_eq!(rules.finished(RightToLeft, t0), Some(Ending::Eof));
    }

    #[test]
    fn a_stop_ends_when_the_directions_are_done_or_the_grace_runs_out() {
        let t0 = Instant::now();
        let mut rules = Rules::new(Linger::UntilBothEnd, None, BOTH);
        assert!(!rules.is_stopping());
        rules.stop(t0, ms(1000));
        assert!(rules.is_stopping());
        assert_eq!(rules.deadline(t0), Some(t0 + ms(1000)));
        assert_eq!(rules.finished(LeftToRight, t0 + ms(10)), None);
        assert_eq!(rules.check(t0 + ms(999), t0), None);
        assert_eq!(
            rules.finished(RightToLeft, t0 + ms(20)),
            Some(Ending::Stopped)
        );

        let mut stuck = Rules::new(Linger::For(ms(500)), None, BOTH);
        stuck.stop(t0, ms(1000));
        // Still writing: data moving does not extend the grace.
        assert_eq!(stuck.check(t0 + ms(999), t0 + ms(990)), None);
        assert_eq!(
            stuck.check(t0 + ms(1000), t0 + ms(999)),
            Some(Ending::Stopped)
        );
    }

    #[test]
    fn limits_beyond_the_clock_mean_no_limit() {
        let t0 = Instant::now();
        let huge = Duration::from_secs(u64::MAX);
        let mut rules = Rules::new(Linger::For(huge), Some(huge), BOTH);
        rules.finished(LeftToRight, t0);
        assert_eq!(rules.deadline(t0), None);
        assert_eq!(rules.check(t0 + Duration::from_secs(1 << 30), t0), None);
    }
}
