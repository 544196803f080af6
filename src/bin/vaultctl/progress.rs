//! The progress line `vaultctl encrypt` and `decrypt` draw on stderr for large inputs.

use std::{
    io::{self, IsTerminal, Write},
    time::{Duration, Instant},
};

/// Inputs larger than this show progress (on a terminal); so do inputs of unknown size that take
/// longer than [`PROGRESS_AFTER`].
const PROGRESS_MIN_LEN: u64 = 64 << 20;
const PROGRESS_AFTER: Duration = Duration::from_secs(1);
/// The progress line is redrawn at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A progress line on stderr, redrawn in place; cleared on drop.
pub struct Progress {
    verb: &'static str,
    total: Option<u64>,
    enabled: bool,
    started: Instant,
    last_drawn: Option<Instant>,
    /// The length of the line on screen, to clear it.
    width: usize,
}

impl Progress {
    /// Shown only when stderr is a terminal and not `--no-progress`.
    pub fn new(verb: &'static str, total: Option<u64>, no_progress: bool) -> Self {
        Self {
            verb,
            total,
            enabled: !no_progress && io::stderr().is_terminal(),
            started: Instant::now(),
            last_drawn: None,
            width: 0,
        }
    }

    pub fn update(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.started);
        let due = match self.total {
            Some(total) => total > PROGRESS_MIN_LEN,
            None => elapsed >= PROGRESS_AFTER,
        };
        if !due
            || self
                .last_drawn
                .is_some_and(|last| now.duration_since(last) < PROGRESS_EVERY)
        {
            return;
        }
        self.last_drawn = Some(now);
        let rate = (done as f64 / elapsed.as_secs_f64().max(0.001)) as u64;
        let line = match self.total {
            Some(total) => format!(
                "vaultctl: {} {:>3}%  {} / {}  {}/s",
                self.verb,
                (done.saturating_mul(100) / total.max(1)).min(100),
                bytes(done),
                bytes(total),
                bytes(rate)
            ),
            None => format!("vaultctl: {} {}  {}/s", self.verb, bytes(done), bytes(rate)),
        };
        let pad = self.width.saturating_sub(line.len());
        let mut stderr = io::stderr().lock();
        let _ = write!(stderr, "\r{line}{:pad$}", "");
        let _ = stderr.flush();
        self.width = line.len();
    }

    pub fn clear(&mut self) {
        if self.width > 0 {
            let _ = write!(io::stderr().lock(), "\r{:width$}\r", "", width = self.width);
            self.width = 0;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A size in MiB, or GiB from 1 GiB.
fn bytes(n: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    const GIB: f64 = (1u64 << 30) as f64;
    if n >= 1 << 30 {
        format!("{:.2} GiB", n as f64 / GIB)
    } else {
        format!("{:.1} MiB", n as f64 / MIB)
    }
}
