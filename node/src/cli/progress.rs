//! Progress of long commands, on stderr only (stdout stays the command's
//! machine-readable answer).
//!
//! One [`Progress`] per piece of long work (nodes coming up, a node
//! catching up, a submission waiting for finality, a benchmark's
//! submissions). How it is drawn depends on where stderr goes:
//!
//! - a terminal (and `TERM` is not `dumb`): an `indicatif` bar, redrawn in
//!   place, with the count, the elapsed time and an estimate of the time
//!   left;
//! - anything else (a pipe, a file, a CI log): plain lines, at most one per
//!   tenth of the total or per [`PLAIN_EVERY`] (or when the state of an
//!   uncounted wait changes), so that a log stays short; never a carriage
//!   return or an ANSI code;
//! - `quiet`: nothing.
//!
//! Whatever the mode, [`Progress::finish`] leaves one final line with the
//! count and the elapsed time (`testnet up: 4/4 nodes ready (12 s)`), so
//! that the end of a log says how the work ended.
//!
//! ```text
//! terminal: testnet up [##########----------] 2/4 nodes ready, height 3 (5 s, ETA 5 s)
//! pipe:     testnet up: 2/4 nodes ready, height 3 (5 s, ETA 5 s)
//! ```
#![allow(clippy::print_stderr, reason = "progress is printed on stderr")]

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The longest silence between two plain lines while work goes on.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The shortest gap between two plain lines that only report a changed
/// state (a wait's status, a height), so that a fast-changing state does
/// not flood a log.
pub const PLAIN_MIN_GAP: Duration = Duration::from_secs(1);

/// How progress is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An `indicatif` bar on a terminal.
    Bar,
    /// Plain, rate-limited lines.
    Plain,
    /// Nothing.
    Hidden,
}

impl Mode {
    /// The mode for stderr as it is now: a bar on a terminal, plain lines
    /// elsewhere, nothing if `quiet`.
    #[must_use]
    pub fn detect(quiet: bool) -> Self {
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        if quiet {
            Self::Hidden
        } else if std::io::stderr().is_terminal() && !dumb {
            Self::Bar
        } else {
            Self::Plain
        }
    }
}

/// Decides when a plain line is due: the first update, each new tenth of
/// the total, a changed state at most every [`PLAIN_MIN_GAP`], and
/// otherwise every [`PLAIN_EVERY`]. A pure rate limiter: the caller passes
/// the time.
#[derive(Debug, Clone, Default)]
pub struct PlainRate {
    last_at: Option<Instant>,
    last_tenth: Option<u64>,
    last_state: String,
}

impl PlainRate {
    /// Whether to print a line at `now` for `pos` of `total` (`None`: an
    /// uncounted wait) in `state`; records the line as printed if so.
    pub fn due(&mut self, now: Instant, pos: u64, total: Option<u64>, state: &str) -> bool {
        let tenth = total.map(|t| tenth(pos, t));
        let since = self.last_at.map(|t| now.saturating_duration_since(t));
        let due = match since {
            None => true,
            Some(gap) => {
                gap >= PLAIN_EVERY
                    || (tenth.is_some() && tenth != self.last_tenth)
                    || (state != self.last_state && gap >= PLAIN_MIN_GAP)
            }
        };
        if due {
            self.last_at = Some(now);
            self.last_tenth = tenth;
            state.clone_into(&mut self.last_state);
        }
        due
    }
}

/// Which tenth of `total` `pos` has reached (0 to 10).
fn tenth(pos: u64, total: u64) -> u64 {
    if total == 0 {
        return 10;
    }
    let t = u128::from(pos.min(total)) * 10 / u128::from(total);
    u64::try_from(t).unwrap_or(10)
}

/// `12 s`, `3 min 05 s`, `1 h 02 min`.
#[must_use]
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

/// The time left at a constant rate, if there is a rate yet.
#[must_use]
pub fn eta(elapsed: Duration, pos: u64, total: u64) -> Option<Duration> {
    if pos == 0 || pos >= total {
        return None;
    }
    #[allow(clippy::cast_precision_loss, reason = "an estimate shown in seconds")]
    let left = elapsed.as_secs_f64() * (total - pos) as f64 / pos as f64;
    left.is_finite().then(|| Duration::from_secs_f64(left))
}

/// One line of plain progress: `label: pos/total unit, state (elapsed, ETA
/// left)`, or `label: state (elapsed)` for an uncounted wait.
#[must_use]
pub fn plain_line(
    label: &str,
    unit: &str,
    pos: u64,
    total: Option<u64>,
    state: &str,
    elapsed: Duration,
) -> String {
    let mut line = format!("{label}:");
    let count = match total {
        Some(total) => Some(format!(" {pos}/{total} {unit}")),
        None => (!unit.is_empty()).then(|| format!(" {pos} {unit}")),
    };
    if let Some(count) = count {
        line.push_str(&count);
        if !state.is_empty() {
            line.push(',');
        }
    }
    if !state.is_empty() {
        line.push(' ');
        line.push_str(state);
    }
    line.push_str(&format!(" ({}", human_duration(elapsed)));
    if let Some(left) = total.and_then(|t| eta(elapsed, pos, t)) {
        line.push_str(&format!(", ETA {}", human_duration(left)));
    }
    line.push(')');
    line
}

enum Draw {
    Bar(ProgressBar),
    Plain(PlainRate),
    Hidden,
}

/// The progress of one piece of long work (see the module docs).
pub struct Progress {
    label: String,
    unit: String,
    total: Option<u64>,
    pos: u64,
    state: String,
    started: Instant,
    draw: Draw,
    /// The last plain line printed, so that the final line does not
    /// repeat it.
    last_line: String,
}

impl Progress {
    /// Counted work: `total` things of `unit` (`nodes ready`,
    /// `submissions finalized`).
    #[must_use]
    pub fn counter(label: &str, unit: &str, total: u64, mode: Mode) -> Self {
        Self::new(label, unit, Some(total), mode)
    }

    /// Counted work of unknown size (records read from stdin): the count
    /// of `unit` so far and the elapsed time.
    #[must_use]
    pub fn open_count(label: &str, unit: &str, mode: Mode) -> Self {
        Self::new(label, unit, None, mode)
    }

    /// An uncounted wait (a submission's status): the state and the
    /// elapsed time.
    #[must_use]
    pub fn waiting(label: &str, mode: Mode) -> Self {
        Self::new(label, "", None, mode)
    }

    fn new(label: &str, unit: &str, total: Option<u64>, mode: Mode) -> Self {
        let draw = match mode {
            Mode::Hidden => Draw::Hidden,
            Mode::Plain => Draw::Plain(PlainRate::default()),
            Mode::Bar => {
                let bar = match total {
                    Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr())
                        .with_style(
                            ProgressStyle::with_template(
                                "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ETA {eta})",
                            )
                            .expect("a valid template")
                            .progress_chars("#>-"),
                        ),
                    None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                        .with_style(
                            ProgressStyle::with_template(if unit.is_empty() {
                                "{spinner} {prefix}: {msg} ({elapsed})"
                            } else {
                                "{spinner} {prefix}: {pos} {msg} ({elapsed}, {per_sec})"
                            })
                            .expect("a valid template"),
                        ),
                };
                bar.set_prefix(label.to_owned());
                bar.set_message(unit.to_owned());
                bar.enable_steady_tick(Duration::from_millis(200));
                Draw::Bar(bar)
            }
        };
        Self {
            label: label.to_owned(),
            unit: unit.to_owned(),
            total,
            pos: 0,
            state: String::new(),
            started: Instant::now(),
            draw,
            last_line: String::new(),
        }
    }

    /// Sets the count.
    pub fn set(&mut self, pos: u64) {
        self.pos = pos;
        self.update();
    }

    /// Adds `n` to the count.
    pub fn inc(&mut self, n: u64) {
        self.pos = self.pos.saturating_add(n);
        self.update();
    }

    /// Changes the total (a target that moves, such as the peers' height).
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
        if let Draw::Bar(bar) = &self.draw {
            bar.set_length(total);
        }
        self.update();
    }

    /// Sets the state shown after the count (`height 12`, `status
    /// received`).
    pub fn set_state(&mut self, state: impl Into<String>) {
        self.state = state.into();
        self.update();
    }

    /// Sets the count, the total (if `Some`) and the state at once (one
    /// line, not three).
    pub fn show(&mut self, pos: u64, total: Option<u64>, state: impl Into<String>) {
        self.pos = pos;
        self.state = state.into();
        if let Some(total) = total {
            self.total = Some(total);
            if let Draw::Bar(bar) = &self.draw {
                bar.set_length(total);
            }
        }
        self.update();
    }

    /// Prints `line` on stderr above the bar (or as a line of its own).
    pub fn println(&self, line: &str) {
        match &self.draw {
            Draw::Bar(bar) => bar.println(line),
            Draw::Plain(_) => eprintln!("{line}"),
            Draw::Hidden => {}
        }
    }

    fn state_text(&self) -> String {
        match (self.unit.is_empty(), self.state.is_empty()) {
            (true, _) => self.state.clone(),
            (false, true) => self.unit.clone(),
            (false, false) => format!("{}, {}", self.unit, self.state),
        }
    }

    fn update(&mut self) {
        let state = self.state_text();
        match &mut self.draw {
            Draw::Bar(bar) => {
                bar.set_position(self.pos);
                bar.set_message(state);
            }
            Draw::Plain(rate) => {
                if rate.due(Instant::now(), self.pos, self.total, &self.state) {
                    self.last_line = plain_line(
                        &self.label,
                        &self.unit,
                        self.pos,
                        self.total,
                        &self.state,
                        self.started.elapsed(),
                    );
                    eprintln!("{}", self.last_line);
                }
            }
            Draw::Hidden => {}
        }
    }

    /// Ends the work: clears the bar and prints the final line (the count
    /// and the elapsed time, then `outcome` if not empty), unless the last
    /// plain line said the same.
    pub fn finish(self, outcome: &str) {
        let mut line = plain_line(
            &self.label,
            &self.unit,
            self.pos,
            self.total,
            outcome,
            self.started.elapsed(),
        );
        if outcome.is_empty() && self.total.is_none() && self.unit.is_empty() {
            line = format!(
                "{}: done ({})",
                self.label,
                human_duration(self.started.elapsed())
            );
        }
        match &self.draw {
            Draw::Bar(bar) => {
                bar.finish_and_clear();
                eprintln!("{line}");
            }
            Draw::Plain(_) if line != self.last_line => eprintln!("{line}"),
            Draw::Plain(_) | Draw::Hidden => {}
        }
    }

    /// Ends the work that failed: clears the bar, prints nothing more (the
    /// error says why).
    pub fn abandon(self) {
        if let Draw::Bar(bar) = &self.draw {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_work_prints_a_line_per_tenth() {
        let mut rate = PlainRate::default();
        let t0 = Instant::now();
        let printed: Vec<u64> = (0..=1000u64)
            .filter(|&i| rate.due(t0 + Duration::from_millis(i), i, Some(1000), ""))
            .collect();
        // The first update, then each tenth: 11 lines for 1001 updates
        // within one second.
        assert_eq!(printed, (0..=10).map(|t| t * 100).collect::<Vec<_>>());
    }

    #[test]
    fn silence_is_broken_every_few_seconds() {
        let mut rate = PlainRate::default();
        let t0 = Instant::now();
        assert!(rate.due(t0, 1, Some(1000), ""));
        // No new tenth: nothing until PLAIN_EVERY has passed.
        assert!(!rate.due(t0 + Duration::from_secs(1), 2, Some(1000), ""));
        assert!(!rate.due(
            t0 + PLAIN_EVERY - Duration::from_millis(1),
            3,
            Some(1000),
            ""
        ));
        assert!(rate.due(t0 + PLAIN_EVERY, 4, Some(1000), ""));
        assert!(!rate.due(t0 + PLAIN_EVERY + Duration::from_secs(1), 5, Some(1000), ""));
    }

    #[test]
    fn a_changed_state_is_shown_but_not_faster_than_the_minimum_gap() {
        let mut rate = PlainRate::default();
        let t0 = Instant::now();
        assert!(rate.due(t0, 0, None, "status received"));
        assert!(!rate.due(t0 + Duration::from_millis(100), 0, None, "status received"));
        // Changed, but too soon after the last line.
        assert!(!rate.due(t0 + Duration::from_millis(200), 0, None, "status finalized"));
        assert!(rate.due(t0 + PLAIN_MIN_GAP, 0, None, "status finalized"));
        assert!(!rate.due(t0 + PLAIN_MIN_GAP * 2, 0, None, "status finalized"));
    }

    #[test]
    fn a_line_of_updates_per_millisecond_stays_short() {
        // A minute of updates every millisecond of a wait whose state
        // never changes: one line per PLAIN_EVERY, plus the first.
        let mut rate = PlainRate::default();
        let t0 = Instant::now();
        let lines = (0..60_000u64)
            .filter(|&ms| rate.due(t0 + Duration::from_millis(ms), 0, None, "waiting"))
            .count();
        assert_eq!(lines, 12);
    }

    #[test]
    fn an_empty_total_is_complete() {
        assert_eq!(tenth(0, 0), 10);
        assert_eq!(tenth(5, 4), 10);
        assert_eq!(tenth(u64::MAX, u64::MAX), 10);
        assert_eq!(tenth(u64::MAX / 2, u64::MAX), 4);
    }

    #[test]
    fn plain_lines_read_as_sentences() {
        let e = Duration::from_secs(12);
        assert_eq!(
            plain_line("testnet up", "nodes ready", 3, Some(4), "", e),
            "testnet up: 3/4 nodes ready (12 s, ETA 4 s)"
        );
        assert_eq!(
            plain_line("testnet up", "nodes ready", 4, Some(4), "height 7", e),
            "testnet up: 4/4 nodes ready, height 7 (12 s)"
        );
        assert_eq!(
            plain_line("waiting for finalized", "", 0, None, "status received", e),
            "waiting for finalized: status received (12 s)"
        );
        assert_eq!(
            plain_line("records append", "records sealed", 1200, None, "", e),
            "records append: 1200 records sealed (12 s)"
        );
        assert_eq!(human_duration(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(human_duration(Duration::from_secs(3720)), "1 h 02 min");
        assert_eq!(eta(e, 0, 4), None);
    }
}
