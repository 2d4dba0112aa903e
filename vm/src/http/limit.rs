//! Calls in flight: at most [`DEFAULT_PER_HOST`] requests at once to each host, shared by every
//! action and data source calling it, or at most N of one declaration's requests to each host when
//! it sets `concurrency N`. Requests over the limit wait their turn, in arrival order (a
//! `tokio::sync::Semaphore` is fair), so a storm of due calls never opens a connection per call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Requests in flight at once to one host when the declaration sets no `concurrency`.
pub const DEFAULT_PER_HOST: usize = 64;

/// Limits kept before idle ones are dropped (hosts may come from URL parameters).
const KEEP: usize = 1024;

/// One limit: its size and its permits.
type Limit = (usize, Arc<Semaphore>);

/// The limits on requests in flight, by origin (`scheme://host:port`) and, for a declaration
/// with `concurrency N`, by its name.
#[derive(Debug)]
pub struct InFlight {
    per_host: usize,
    limits: Mutex<HashMap<(String, Option<String>), Limit>>,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight::new(DEFAULT_PER_HOST)
    }
}

impl InFlight {
    /// Limits with `per_host` (at least 1) requests at once to each host by default.
    pub fn new(per_host: usize) -> Self {
        InFlight { per_host: per_host.max(1), limits: Mutex::new(HashMap::new()) }
    }

    /// Waits until a request to `origin` may start; it is in flight until the permit is dropped.
    /// `own` is the declaration's name and its `concurrency`, when it sets one.
    pub async fn acquire(&self, origin: &str, own: Option<(&str, usize)>) -> OwnedSemaphorePermit {
        let semaphore = self.limit(origin, own);
        // The semaphore is never closed: acquiring can only wait.
        semaphore.acquire_owned().await.expect("an in-flight limit is never closed")
    }

    fn limit(&self, origin: &str, own: Option<(&str, usize)>) -> Arc<Semaphore> {
        let (key, size) = match own {
            Some((name, n)) => ((origin.to_string(), Some(name.to_string())), n.max(1)),
            None => ((origin.to_string(), None), self.per_host),
        };
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        match limits.get(&key) {
            // A republished declaration may change its size: requests in flight keep the old
            // limit's permits, new ones take the new limit's.
            Some((n, s)) if *n == size => s.clone(),
            _ => {
                if limits.len() >= KEEP {
                    limits.retain(|_, (n, s)| Arc::strong_count(s) > 1 || s.available_permits() < *n);
                }
                let s = Arc::new(Semaphore::new(size));
                limits.insert(key, (size, s.clone()));
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Runs `calls` requests that each hold their permit for a while; the most in flight at once.
    async fn peak(limits: Arc<InFlight>, calls: Vec<(&'static str, Option<(&'static str, usize)>)>) -> usize {
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = calls
            .into_iter()
            .map(|(origin, own)| {
                let (limits, now, most) = (limits.clone(), now.clone(), most.clone());
                tokio::spawn(async move {
                    let _permit = limits.acquire(origin, own).await;
                    most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        most.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_to_one_host_is_held_to_the_default_limit() {
        let calls = vec![("http://a.example", None); 500];
        assert_eq!(peak(Arc::new(InFlight::default()), calls).await, DEFAULT_PER_HOST);
    }

    #[tokio::test(start_paused = true)]
    async fn each_host_has_a_limit_of_its_own() {
        let mut calls = vec![("http://a.example", None); 10];
        calls.extend(vec![("http://b.example", None); 10]);
        assert_eq!(peak(Arc::new(InFlight::new(3)), calls).await, 6);
    }

    #[tokio::test(start_paused = true)]
    async fn a_declared_concurrency_replaces_the_host_default() {
        let calls = vec![("http://a.example", Some(("Mail", 5))); 100];
        assert_eq!(peak(Arc::new(InFlight::default()), calls).await, 5);
        let calls = vec![("http://a.example", Some(("Mail", 200))); 300];
        assert_eq!(peak(Arc::new(InFlight::default()), calls).await, 200);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_requests_start_in_arrival_order() {
        let limits = Arc::new(InFlight::new(1));
        let first = limits.acquire("http://a.example", None).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (limits, order) = (limits.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _p = limits.acquire("http://a.example", None).await;
                order.lock().expect("lock").push(i);
            }));
            // Let it reach the queue before the next one arrives.
            tokio::task::yield_now().await;
        }
        drop(first);
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(*order.lock().expect("lock"), [0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn idle_limits_of_many_hosts_are_dropped() {
        let limits = InFlight::new(2);
        let held = limits.acquire("http://held.example", None).await;
        for i in 0..3 * KEEP {
            drop(limits.acquire(&format!("http://h{i}.example"), None).await);
        }
        let kept = limits.limits.lock().expect("lock").len();
        assert!(kept <= KEEP, "{kept} limits kept");
        assert!(limits.limits.lock().expect("lock").contains_key(&("http://held.example".to_string(), None)));
        drop(held);
    }
}
