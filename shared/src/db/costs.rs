//! Storage of unit cost histories (see [`crate::costs`] for the rules): appending entries when a cost changes, and
//! reading the histories an order write resolves its lines' costs from.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    DbError,
    tx::{WriteTx, on_tx},
};
use crate::costs::{CostEntry, CostHistory};

/// Ids per `IN (…)` list and rows per multi-row INSERT: well under both backends' parameter limits.
const CHUNK: usize = 500;

/// A cost that changed: the product, the variant (`None` for the merchant's cost of the whole product) and the new
/// unit cost (`None`: cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CostChange {
    pub product: Uuid,
    pub variant: Option<Uuid>,
    pub cost_minor: Option<i64>,
}

/// The cost histories of those of `products` that have one.
pub(super) async fn load_histories(
    tx: &mut WriteTx,
    organization: Uuid,
    products: &HashSet<Uuid>,
) -> Result<HashMap<Uuid, CostHistory>, DbError> {
    type Row = (Uuid, Option<Uuid>, DateTime<Utc>, Option<i64>);
    let products: Vec<Uuid> = products.iter().copied().collect();
    let mut entries: HashMap<Uuid, Vec<CostEntry>> = HashMap::new();
    for chunk in products.chunks(CHUNK) {
        let rows: Vec<Row> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT product_id, variant_id, effective_from, cost_minor FROM unit_costs WHERE organization_id = ",
            );
            qb.push_bind(organization).push(" AND product_id IN (");
            let mut ids = qb.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            qb.push(") ORDER BY effective_from");
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        for (product, variant, effective_from, cost_minor) in rows {
            entries.entry(product).or_default().push(CostEntry { variant, effective_from, cost_minor });
        }
    }
    Ok(entries.into_iter().map(|(product, entries)| (product, CostHistory::new(entries))).collect())
}

/// Appends `changes` to the histories as effective from `at`. Costs the caller did not change must not be passed:
/// every entry is a change in the history.
pub(super) async fn append_cost_entries(
    tx: &mut WriteTx,
    organization: Uuid,
    changes: &[CostChange],
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    for chunk in changes.chunks(CHUNK) {
        on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO unit_costs (organization_id, product_id, variant_id, effective_from, cost_minor) ",
            );
            qb.push_values(chunk, |mut row, change| {
                row.push_bind(organization)
                    .push_bind(change.product)
                    .push_bind(change.variant)
                    .push_bind(at)
                    .push_bind(change.cost_minor);
            });
            qb.build().execute(&mut **conn).await?;
        });
    }
    Ok(())
}
