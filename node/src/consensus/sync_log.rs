//! Progress of a node catching up through value sync, as a log line every
//! few seconds (a daemon has no terminal to draw a bar on).
//!
//! The app never learns the peers' heights (Malachite's sync keeps them),
//! so the target is estimated from the synced block's own time: a block
//! made `behind` ago on a chain that grows one block per `spacing` has
//! about `behind / spacing` blocks after it, where `spacing` is the mean
//! gap between the synced blocks' times (the target block time until two
//! blocks are synced). The estimate of the
//! time left divides the blocks left by the rate of catching up (our sync
//! rate minus the chain's growth). A pure state machine: the driver passes
//! the clocks in.

use std::time::{Duration, Instant};

/// The longest gap between two progress lines while a node catches up.
pub const EVERY: Duration = Duration::from_secs(5);

/// A gap in synced blocks this long ends a catch-up episode; the next
/// synced block starts a new one.
pub const EPISODE_GAP: Duration = Duration::from_secs(10);

/// What one progress line reports.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncLine {
    /// Blocks synced in this episode.
    pub synced: u64,
    /// The height reached.
    pub height: u64,
    /// The estimated height of the peers (`None` without a target block
    /// time).
    pub peers_height: Option<u64>,
    /// Blocks synced per second in this episode.
    pub rate: f64,
    /// The estimated time left (`None` while not catching up faster than
    /// the chain grows, or without an estimate of the peers' height).
    pub eta: Option<Duration>,
    /// Whether this block is within two block times of now: caught up.
    pub caught_up: bool,
}

/// Counts synced blocks and decides when to log (see the module docs).
#[derive(Debug, Default)]
pub struct SyncProgress {
    episode: Option<(Instant, u64)>,
    /// The first synced block of the episode: (height, time in ms).
    first_block: Option<(u64, u64)>,
    last_block: Option<Instant>,
    last_line: Option<Instant>,
    block_time: Option<Duration>,
}

impl SyncProgress {
    /// For a chain that targets a block every `block_time`.
    #[must_use]
    pub fn new(block_time: Option<Duration>) -> Self {
        Self {
            block_time: block_time.filter(|t| !t.is_zero()),
            ..Self::default()
        }
    }

    /// A block at `height`, made at `block_ms` (ms since 1970), was synced
    /// at `now` (wall clock `now_ms`): the line to log, if one is due (the
    /// first block of an episode, every [`EVERY`], and when caught up).
    pub fn block(
        &mut self,
        now: Instant,
        now_ms: u64,
        height: u64,
        block_ms: u64,
    ) -> Option<SyncLine> {
        let new_episode = self
            .last_block
            .is_none_or(|t| now.saturating_duration_since(t) >= EPISODE_GAP);
        if new_episode {
            self.episode = Some((now, 0));
            self.first_block = Some((height, block_ms));
            self.last_line = None;
        }
        self.last_block = Some(now);
        let (start, synced) = self.episode.get_or_insert((now, 0));
        *synced += 1;
        let synced = *synced;
        let elapsed = now.saturating_duration_since(*start).as_secs_f64();
        #[allow(clippy::cast_precision_loss, reason = "a rate for a log line")]
        let rate = if elapsed > 0.0 {
            synced as f64 / elapsed
        } else {
            0.0
        };
        let behind = Duration::from_millis(now_ms.saturating_sub(block_ms));
        let caught_up = self.block_time.is_some_and(|t| behind <= t * 2);
        // The chain's real block spacing from the synced blocks' own
        // times (slower than the target under load), else the target.
        let spacing = match self.first_block {
            Some((h0, ms0)) if height > h0 && block_ms > ms0 => {
                Some(Duration::from_millis((block_ms - ms0) / (height - h0)))
            }
            _ => self.block_time,
        }
        .filter(|t| !t.is_zero());
        let peers_height = spacing.map(|t| {
            let left = behind.as_millis() / t.as_millis().max(1);
            height.saturating_add(u64::try_from(left).unwrap_or(u64::MAX))
        });
        let eta = match (peers_height, spacing) {
            (Some(top), Some(t)) if rate > 0.0 => {
                let gain = rate - 1.0 / t.as_secs_f64();
                #[allow(clippy::cast_precision_loss, reason = "an estimate")]
                let left = top.saturating_sub(height) as f64 / gain;
                (gain > 0.0 && left.is_finite()).then(|| Duration::from_secs_f64(left))
            }
            _ => None,
        };
        let due = caught_up
            || self
                .last_line
                .is_none_or(|t| now.saturating_duration_since(t) >= EVERY);
        if !due {
            return None;
        }
        self.last_line = Some(now);
        if caught_up {
            // The next synced block (after a partition, say) starts anew.
            self.last_block = None;
        }
        Some(SyncLine {
            synced,
            height,
            peers_height,
            rate,
            eta,
            caught_up,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: Duration = Duration::from_secs(1);

    #[test]
    fn a_catch_up_logs_its_start_every_few_seconds_and_its_end() {
        let mut p = SyncProgress::new(Some(BLOCK));
        let t0 = Instant::now();
        // 1000 blocks behind at the start; 20 blocks synced per second.
        let now_ms = 2_000_000;
        let mut lines = Vec::new();
        for i in 0..2000u64 {
            let at = t0 + Duration::from_millis(i * 50);
            let wall = now_ms + i * 50;
            let block_ms = now_ms - 1_000_000 + i * 1000;
            if let Some(line) = p.block(at, wall, 1 + i, block_ms) {
                lines.push(line);
            }
            if lines.last().is_some_and(|l| l.caught_up) {
                break;
            }
        }
        let first = &lines[0];
        assert_eq!(first.synced, 1);
        assert_eq!(first.peers_height, Some(1 + 1000));
        let second = &lines[1];
        assert_eq!(second.synced, 101, "the next line 5 s later: {second:?}");
        assert!((second.rate - 20.2).abs() < 0.5, "{second:?}");
        // About 900 blocks left, gaining 19 blocks/s: about 47 s.
        let eta = second.eta.unwrap().as_secs();
        assert!((40..=55).contains(&eta), "{second:?}");
        let last = lines.last().unwrap();
        assert!(last.caught_up, "{last:?}");
        assert!(lines.len() < 15, "{} lines", lines.len());
    }

    #[test]
    fn a_gap_starts_a_new_episode() {
        let mut p = SyncProgress::new(Some(BLOCK));
        let t0 = Instant::now();
        assert!(p.block(t0, 100_000, 1, 0).is_some());
        assert!(
            p.block(t0 + Duration::from_secs(1), 101_000, 2, 1_000)
                .is_none()
        );
        let again = p.block(t0 + EPISODE_GAP + Duration::from_secs(1), 112_000, 3, 2_000);
        assert_eq!(again.map(|l| l.synced), Some(1));
    }

    #[test]
    fn the_estimate_follows_the_chains_real_block_spacing() {
        // Target 1 s, but the chain made a block every 2 s: 20 s behind
        // is 10 blocks, not 20.
        let mut p = SyncProgress::new(Some(BLOCK));
        let t0 = Instant::now();
        let first = p.block(t0, 100_000, 1, 60_000).unwrap();
        assert_eq!(first.peers_height, Some(1 + 40));
        let later = t0 + EVERY;
        let line = p.block(later, 120_000, 21, 100_000).unwrap();
        assert_eq!(line.peers_height, Some(21 + 10));
    }

    #[test]
    fn without_a_block_time_there_is_no_estimate() {
        let mut p = SyncProgress::new(None);
        let line = p.block(Instant::now(), 100_000, 1, 0).unwrap();
        assert_eq!(
            (line.peers_height, line.eta, line.caught_up),
            (None, None, false)
        );
    }
}
