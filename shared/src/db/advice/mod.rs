//! Storage of the advisor: the facts the rules read, the recommendations they produce, and the runs that say when
//! each organization was last computed.
//!
//! - **Facts** are set-based queries over the daily rollups: one `GROUP BY` gives every product's windowed sums
//!   (7/28/90 days, the 28 before, first and last activity), joined to its stock, costs and settings, and streamed
//!   row by row, so memory stays bounded by what the rules keep, not by the catalogue or the order history.
//! - **Recommendations** are written as a difference: unchanged ones are not touched, changed ones are updated in
//!   place (the merchant's status survives unless the fingerprint of the facts changed), vanished ones are marked
//!   resolved and hidden. The status decision is taken by the upsert itself, so a merchant's dismissal that lands
//!   during a refresh is never overwritten by a stale read.
//! - **Runs** record when each organization was computed, for which local day and up to which write, and lease an
//!   organization to one refreshing instance at a time.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    Database, DbError, on_pool,
    tenants::Organization,
    tx::{WriteTx, on_tx},
};
use crate::{
    advisor::{
        evidence::{Kind, Recommendation, content_hash},
        rules::{CostSource, KindTotal, ProductFacts, VideoFacts},
    },
    analytics::{Tz, local_day},
    domain::TimeZoneName,
    video::VideoProbe,
};

mod facts;
mod recommendations;
mod runs;

pub use facts::*;
pub use recommendations::*;
pub use runs::*;
