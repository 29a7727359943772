//! Product rankings this instance has computed, kept while the organization's sales version stands.
//!
//! A ranking aggregates every product with sales in two periods: tens of thousands of rollup rows for a large
//! catalogue, far too much to repeat on every dashboard load. Its figures change only when sales do, and every
//! write to sales figures increases the organization's version in the same transaction
//! ([`shared::db::Database::sales_version`]), so a ranking computed at the version a request reads is exactly what a
//! recomputation would give. Titles are not kept: they are read afresh with every answer.

use std::{
    collections::{HashMap, VecDeque},
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
}

impl RankingCache {
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
