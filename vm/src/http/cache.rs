//! Data source results cached per (data source, argument values) for the declared time to live.
//! Only successes are stored; concurrent identical misses wait for one request ("single flight").

use crate::value::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A cache key: the data source's name and its arguments as JSON text.
pub type CacheKey = (String, String);

/// The key for `name` called with `args`.
pub fn cache_key(name: &str, args: &[Value]) -> CacheKey {
    let json = serde_json::Value::Array(args.iter().map(Value::to_json).collect());
    (name.to_string(), json.to_string())
}

/// Cached results with expiry, plus per-key locks that let one miss fetch while the others wait.
#[derive(Debug, Default)]
pub struct ResponseCache {
    entries: Mutex<HashMap<CacheKey, (Value, Instant)>>,
    flights: Mutex<HashMap<CacheKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl ResponseCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The live cached value for `key`.
    pub fn get(&self, key: &CacheKey) -> Option<Value> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((v, expires)) if Instant::now() < *expires => Some(v.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` for `ttl`.
    pub fn insert(&self, key: CacheKey, value: Value, ttl: Duration) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= 1024 && entries.len().is_power_of_two() {
            entries.retain(|_, (_, expires)| now < *expires);
        }
        entries.insert(key, (value, now + ttl));
    }

    /// The number of stored entries (expired ones included until they are next looked at).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `fetch` for a miss on `key`, one at a time per key: a caller that waited finds the
    /// value the one before it stored. Returns the cached value or `fetch`'s result.
    pub async fn get_or_fetch<T, F, Fut>(&self, key: &CacheKey, fetch: F) -> Result<Value, T>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Value, Duration), T>>,
    {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            flights.entry(key.clone()).or_default().clone()
        };
        let result = {
            let _turn = flight.lock().await;
            match self.get(key) {
                Some(v) => Ok(v),
                None => match fetch().await {
                    Ok((v, ttl)) => {
                        self.insert(key.clone(), v.clone(), ttl);
                        Ok(v)
                    }
                    Err(e) => Err(e),
                },
            }
        };
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map and this caller hold it: nobody is waiting, drop the lock.
        if Arc::strong_count(&flight) == 2 {
            flights.remove(key);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn hit_then_expiry() {
        let cache = ResponseCache::new();
        let key = cache_key("Loyalty", &[Value::from("m1")]);
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>((Value::Int(7), Duration::from_secs(60)))
        };
        assert_eq!(cache.get_or_fetch(&key, fetch).await, Ok(Value::Int(7)));
        assert_eq!(cache.get_or_fetch(&key, fetch).await, Ok(Value::Int(7)));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(cache.get_or_fetch(&key, fetch).await, Ok(Value::Int(7)));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        let other = cache_key("Loyalty", &[Value::from("m2")]);
        assert!(cache.get(&other).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn errors_are_not_cached_and_misses_share_a_flight() {
        let cache = Arc::new(ResponseCache::new());
        let key = cache_key("D", &[]);
        let r: Result<Value, &str> = cache.get_or_fetch(&key, || async { Err("down") }).await;
        assert_eq!(r, Err("down"));
        assert!(cache.get(&key).is_none());
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let (cache, key, fetches) = (cache.clone(), key.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_fetch(&key, || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok::<_, ()>((Value::Bool(true), Duration::from_secs(1)))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(Value::Bool(true)));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert!(cache.flights.lock().unwrap().is_empty());
    }
}
