//! Product rankings this instance has computed, kept while the organization's sales version stands.
//!
//! A ranking aggregates every product with sales in two periods: tens of thousands of rollup rows for a large
//! catalogue, far too much to repeat on every dashboard load. Its figures change only when sales do, and every
//! write to sales figures increases the organization's version in the same transaction
//! ([`shared::db::Database::sales_version`]), so a ranking computed at the version a request reads is exactly what a
//! recomputation would give. Titles are not kept: they are read afresh with every answer.
//!
//! Requests that miss together for the same ranking compute it once: the others wait for it rather than each
//! running the same aggregation (a dashboard's first load, or many instances of one).

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    sync::{Arc, Mutex},
};

use chrono::NaiveDate;
use shared::analytics::{ProductSales, RankBy};
use uuid::Uuid;

/// Rankings kept per instance (each at most [`shared::analytics::MAX_TOP_PRODUCTS`] rows): under a megabyte.
const CAPACITY: usize = 128;

/// What a ranking was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RankingKey {
    /// Whose.
    pub organization: Uuid,
    /// By what.
    pub by: RankBy,
    /// The range's first day.
    pub from: NaiveDate,
    /// The range's last day.
    pub to: NaiveDate,
    /// How many products.
    pub limit: u32,
}

/// A ranking and the sales version it was computed at.
type Entry = (i64, Arc<Vec<ProductSales>>);

/// Rankings by key, the oldest evicted first.
#[derive(Debug, Default)]
pub struct RankingCache {
    entries: Mutex<(HashMap<RankingKey, Entry>, VecDeque<RankingKey>)>,
    /// One turn per ranking being computed.
    computing: Mutex<HashMap<RankingKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl RankingCache {
    /// The ranking for `key` at `version`: kept, or computed by `compute` (once, however many ask at the same time).
    pub async fn get_or_compute<E, F>(
        &self,
        key: RankingKey,
        version: i64,
        compute: impl FnOnce() -> F,
    ) -> Result<Arc<Vec<ProductSales>>, E>
    where
        F: Future<Output = Result<Vec<ProductSales>, E>>,
    {
        if let Some(kept) = self.get(&key, version) {
            return Ok(kept);
        }
        let turn = {
            let mut computing = self.computing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(computing.entry(key).or_default())
        };
        let guard = turn.lock().await;
        // Whoever had the turn before may have computed it.
        let result = match self.get(&key, version) {
            Some(kept) => Ok(kept),
            None => compute().await.map(|ranking| {
                let ranking = Arc::new(ranking);
                self.put(key, version, Arc::clone(&ranking));
                ranking
            }),
        };
        drop(guard);
        let mut computing = self.computing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Nobody else holds or waits for the turn (the map and this request hold the only handles).
        if Arc::strong_count(&turn) <= 2 {
            computing.remove(&key);
        }
        result
    }

    /// The ranking for `key` if one was computed at `version`.
    pub fn get(&self, key: &RankingKey, version: i64) -> Option<Arc<Vec<ProductSales>>> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.0.get(key).filter(|(at, _)| *at == version).map(|(_, ranking)| Arc::clone(ranking))
    }

    /// Keeps `ranking` for `key`, computed at `version`.
    pub fn put(&self, key: RankingKey, version: i64, ranking: Arc<Vec<ProductSales>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (map, order) = &mut *entries;
        if map.insert(key, (version, ranking)).is_none() {
            order.push_back(key);
            while order.len() > CAPACITY {
                if let Some(oldest) = order.pop_front() {
                    map.remove(&oldest);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(limit: u32) -> RankingKey {
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");
        RankingKey { organization: Uuid::from_u128(1), by: RankBy::Revenue, from: day, to: day, limit }
    }

    #[test]
    fn a_ranking_is_served_only_at_the_version_it_was_computed_at() {
        let cache = RankingCache::default();
        cache.put(key(10), 7, Arc::new(Vec::new()));

        assert!(cache.get(&key(10), 7).is_some());
        assert!(cache.get(&key(10), 8).is_none(), "a newer sales version makes it stale");
        assert!(cache.get(&key(11), 7).is_none(), "another limit is another ranking");
    }

    #[tokio::test]
    async fn concurrent_misses_compute_a_ranking_once() {
        let cache = Arc::new(RankingCache::default());
        let computed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, computed) = (Arc::clone(&cache), Arc::clone(&computed));
                tokio::spawn(async move {
                    cache
                        .get_or_compute(key(10), 3, || async {
                            computed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            Ok::<_, ()>(Vec::new())
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.expect("task").is_ok());
        }

        assert_eq!(computed.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(cache.computing.lock().expect("lock").is_empty(), "no turn is left behind");
    }

    #[test]
    fn the_oldest_rankings_make_room_for_new_ones() {
        let cache = RankingCache::default();
        for limit in 0..=CAPACITY as u32 {
            cache.put(key(limit), 1, Arc::new(Vec::new()));
        }

        assert!(cache.get(&key(0), 1).is_none(), "the first one was evicted");
        assert!(cache.get(&key(CAPACITY as u32), 1).is_some());
        assert_eq!(cache.entries.lock().expect("lock").0.len(), CAPACITY);
    }
}
