//! `throttle N per D`: at most N requests start in any window of length D; callers above the
//! rate wait their turn, in arrival order.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A sliding-window rate limiter with fair (FIFO) waiting.
#[derive(Debug)]
pub struct Throttle {
    limit: usize,
    per: Duration,
    /// Start times of the requests in the current window. The async mutex is fair, so waiters
    /// are served in the order they arrived; the one at the head sleeps while holding it.
    starts: Mutex<VecDeque<Instant>>,
}

impl Throttle {
    /// At most `limit` (at least 1) starts per `per`.
    pub fn new(limit: usize, per: Duration) -> Self {
        let limit = limit.max(1);
        Throttle { limit, per, starts: Mutex::new(VecDeque::with_capacity(limit.min(1024))) }
    }

    /// The limit and period.
    pub fn rate(&self) -> (usize, Duration) {
        (self.limit, self.per)
    }

    /// Waits until a request may start, and counts it.
    pub async fn acquire(&self) {
        let mut starts = self.starts.lock().await;
        let now = Instant::now();
        while starts.front().is_some_and(|&t| now.duration_since(t) >= self.per) {
            starts.pop_front();
        }
        if starts.len() >= self.limit {
            if let Some(&oldest) = starts.front() {
                tokio::time::sleep_until(oldest + self.per).await;
                starts.pop_front();
            }
        }
        starts.push_back(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_spread_over_windows_in_order() {
        let t = Arc::new(Throttle::new(3, Duration::from_secs(1)));
        let start = Instant::now();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (t, order) = (t.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                t.acquire().await;
                order.lock().unwrap().push((i, start.elapsed()));
            }));
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        let ids: Vec<_> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, (0..10).collect::<Vec<_>>());
        let secs: Vec<_> = order.iter().map(|(_, d)| d.as_secs()).collect();
        assert_eq!(secs, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
    }
}
