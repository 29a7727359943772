//! The facts the rules read: set-based queries over the daily rollups, streamed row by row.

use super::*;

/// The most videos read for fitness advice (the latest ones).
pub(super) const MAX_VIDEOS: i64 = 500;

/// The windows the product facts are summed over, as local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactWindows {
    /// Today (excluded: not complete).
    pub today: NaiveDate,
}

impl FactWindows {
    pub(super) fn ago(&self, days: u64) -> NaiveDate {
        self.today.checked_sub_days(chrono::Days::new(days)).unwrap_or(self.today)
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ProductRow {
    pub(super) id: Uuid,
    pub(super) title: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) inventory: i64,
    pub(super) price_minor: Option<i64>,
    pub(super) unit_cost_minor: Option<i64>,
    pub(super) cost_units: Option<i64>,
    pub(super) cost_total: Option<i64>,
    pub(super) lead_time_days: Option<i32>,
    pub(super) target_cover_days: Option<i32>,
    pub(super) units_7: i64,
    pub(super) units_28: i64,
    pub(super) units_90: i64,
    pub(super) revenue_28: i64,
    pub(super) revenue_prev_28: i64,
    pub(super) revenue_90: i64,
    pub(super) orders_28: i64,
    pub(super) orders_prev_28: i64,
    pub(super) orders_90: i64,
    pub(super) views_90: i64,
    pub(super) first_day: Option<NaiveDate>,
    pub(super) last_sale: Option<NaiveDate>,
}

impl ProductRow {
    pub(super) fn into_facts(self, zone: Tz) -> ProductFacts {
        let unit_cost = match (self.unit_cost_minor, self.cost_units, self.cost_total) {
            (Some(cost), ..) => Some((cost, CostSource::Merchant)),
            (None, Some(units), Some(total)) if units > 0 => Some(((total + units / 2) / units, CostSource::Variants)),
            _ => None,
        };
        let days = |d: Option<i32>| d.and_then(|d| u32::try_from(d).ok());
        ProductFacts {
            id: self.id,
            title: self.title,
            created_on: local_day(self.created_at, zone),
            inventory: self.inventory,
            price_minor: self.price_minor,
            unit_cost,
            lead_time_days: days(self.lead_time_days),
            target_cover_days: days(self.target_cover_days),
            units_7: self.units_7,
            units_28: self.units_28,
            units_90: self.units_90,
            revenue_28: self.revenue_28,
            revenue_prev_28: self.revenue_prev_28,
            revenue_90: self.revenue_90,
            orders_28: self.orders_28,
            orders_prev_28: self.orders_prev_28,
            orders_90: self.orders_90,
            views_90: self.views_90,
            first_activity: self.first_day,
            last_sale: self.last_sale,
        }
    }
}

/// One product-day of the price lookback.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PriceDay {
    /// The product.
    pub product_id: Uuid,
    /// Its title.
    pub title: String,
    /// Its unit cost (the merchant's, else the mean of its variants' costs).
    pub unit_cost_minor: Option<i64>,
    /// Its list price.
    pub price_minor: Option<i64>,
    /// The day.
    pub day: NaiveDate,
    /// Units sold that day.
    pub units: i64,
    /// Revenue that day.
    pub revenue_minor: i64,
}

/// Every active product with its windowed sales. One aggregate over the organization's product rollups up to
/// yesterday (first and last activity need the whole history; the sums use CASE windows), joined to stock and
/// costs. `$2..$5` are the window starts (7, 28, 90 and 56 days ago), `$6` yesterday.
pub(super) const PRODUCT_FACTS: &str = "SELECT p.id, p.title, p.created_at, p.inventory, p.price_minor, p.unit_cost_minor, \
     v.cost_units, v.cost_total, p.lead_time_days, p.target_cover_days, \
     CAST(coalesce(a.units_7, 0) AS BIGINT) AS units_7, CAST(coalesce(a.units_28, 0) AS BIGINT) AS units_28, \
     CAST(coalesce(a.units_90, 0) AS BIGINT) AS units_90, CAST(coalesce(a.revenue_28, 0) AS BIGINT) AS revenue_28, \
     CAST(coalesce(a.revenue_prev_28, 0) AS BIGINT) AS revenue_prev_28, \
     CAST(coalesce(a.revenue_90, 0) AS BIGINT) AS revenue_90, CAST(coalesce(a.orders_28, 0) AS BIGINT) AS orders_28, \
     CAST(coalesce(a.orders_prev_28, 0) AS BIGINT) AS orders_prev_28, \
     CAST(coalesce(a.orders_90, 0) AS BIGINT) AS orders_90, CAST(coalesce(a.views_90, 0) AS BIGINT) AS views_90, \
     a.first_day, a.last_sale \
     FROM products p \
     LEFT JOIN (SELECT product_id, \
         CAST(sum(CASE WHEN day >= $2 THEN units ELSE 0 END) AS BIGINT) AS units_7, \
         CAST(sum(CASE WHEN day >= $3 THEN units ELSE 0 END) AS BIGINT) AS units_28, \
         CAST(sum(CASE WHEN day >= $4 THEN units ELSE 0 END) AS BIGINT) AS units_90, \
         CAST(sum(CASE WHEN day >= $3 THEN revenue_minor ELSE 0 END) AS BIGINT) AS revenue_28, \
         CAST(sum(CASE WHEN day >= $5 AND day < $3 THEN revenue_minor ELSE 0 END) AS BIGINT) AS revenue_prev_28, \
         CAST(sum(CASE WHEN day >= $4 THEN revenue_minor ELSE 0 END) AS BIGINT) AS revenue_90, \
         CAST(sum(CASE WHEN day >= $3 THEN orders ELSE 0 END) AS BIGINT) AS orders_28, \
         CAST(sum(CASE WHEN day >= $5 AND day < $3 THEN orders ELSE 0 END) AS BIGINT) AS orders_prev_28, \
         CAST(sum(CASE WHEN day >= $4 THEN orders ELSE 0 END) AS BIGINT) AS orders_90, \
         CAST(sum(CASE WHEN day >= $4 THEN views ELSE 0 END) AS BIGINT) AS views_90, \
         min(day) AS first_day, max(CASE WHEN units > 0 THEN day END) AS last_sale \
         FROM daily_product_totals WHERE organization_id = $1 AND day <= $6 GROUP BY product_id) a \
       ON a.product_id = p.id \
     LEFT JOIN (SELECT product_id, CAST(sum(inventory) AS BIGINT) AS cost_units, \
         CAST(sum(inventory * cost_minor) AS BIGINT) AS cost_total \
         FROM variants WHERE organization_id = $1 AND cost_minor IS NOT NULL AND inventory > 0 \
         GROUP BY product_id) v \
       ON v.product_id = p.id \
     WHERE p.organization_id = $1 AND p.status = 'active'";

/// Product-days of the price lookback, for the products whose history could support a price estimate (enough
/// sale days and distinct daily average prices, prices at least 5% apart), in product then day order.
pub(super) const PRICE_DAYS: &str = "SELECT t.product_id, p.title, \
     coalesce(p.unit_cost_minor, (SELECT CAST(sum(c.cost_minor) / count(c.cost_minor) AS BIGINT) FROM variants c \
         WHERE c.organization_id = p.organization_id AND c.product_id = p.id)) AS unit_cost_minor, \
     p.price_minor, t.day, t.units, t.revenue_minor \
     FROM daily_product_totals t \
     JOIN products p ON p.organization_id = t.organization_id AND p.id = t.product_id \
     WHERE t.organization_id = $1 AND t.day >= $2 AND t.day <= $3 AND t.units > 0 AND p.status = 'active' \
       AND t.product_id IN (SELECT product_id FROM daily_product_totals \
         WHERE organization_id = $1 AND day >= $2 AND day <= $3 AND units > 0 AND revenue_minor > 0 \
         GROUP BY product_id \
         HAVING count(*) >= $4 AND count(DISTINCT revenue_minor / units) >= $5 \
            AND max(revenue_minor / units) * 100 >= min(revenue_minor / units) * 105) \
     ORDER BY t.product_id, t.day";

impl Database {
    /// Every active product's facts for a refresh on `windows.today`, streamed.
    pub fn advice_product_facts(
        &self,
        organization: Uuid,
        windows: FactWindows,
        zone: Tz,
    ) -> BoxStream<'_, Result<ProductFacts, DbError>> {
        let stream = on_pool!(self, |pool| sqlx::query_as::<_, ProductRow>(PRODUCT_FACTS)
            .bind(organization)
            .bind(windows.ago(7))
            .bind(windows.ago(28))
            .bind(windows.ago(90))
            .bind(windows.ago(56))
            .bind(windows.ago(1))
            .fetch(pool)
            .boxed());
        stream.map_ok(move |row| row.into_facts(zone)).map_err(DbError::from).boxed()
    }

    /// The product-days of `from..=to` of the products whose price history may support a suggestion, streamed in
    /// product then day order.
    pub fn advice_price_days(
        &self,
        organization: Uuid,
        from: NaiveDate,
        to: NaiveDate,
        min_sale_days: i64,
        min_distinct_prices: i64,
    ) -> BoxStream<'_, Result<PriceDay, DbError>> {
        let stream = on_pool!(self, |pool| sqlx::query_as::<_, PriceDay>(PRICE_DAYS)
            .bind(organization)
            .bind(from)
            .bind(to)
            .bind(min_sale_days)
            .bind(min_distinct_prices)
            .fetch(pool)
            .boxed());
        stream.map_err(DbError::from).boxed()
    }

    /// The organization's daily revenue in `from..=to` (days without a row are absent), and its first day of data.
    pub async fn advice_daily_revenue(
        &self,
        organization: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Option<NaiveDate>, Vec<(NaiveDate, i64)>), DbError> {
        const FIRST: &str = "SELECT min(day) FROM daily_totals WHERE organization_id = $1";
        const DAYS: &str = "SELECT day, revenue_minor FROM daily_totals \
             WHERE organization_id = $1 AND day >= $2 AND day <= $3 ORDER BY day";
        let first: Option<NaiveDate> =
            on_pool!(self, |pool| sqlx::query_scalar(FIRST).bind(organization).fetch_one(pool).await?);
        let days: Vec<(NaiveDate, i64)> =
            on_pool!(self, |pool| sqlx::query_as(DAYS).bind(organization).bind(from).bind(to).fetch_all(pool).await?);
        Ok((first, days))
    }

    /// The organization's analysed videos (the latest [`MAX_VIDEOS`]) with the product each shows.
    pub async fn advice_videos(&self, organization: Uuid) -> Result<Vec<VideoFacts>, DbError> {
        const SQL: &str = "SELECT v.id, v.file_name, v.product_id, p.title, v.probe FROM videos v \
             LEFT JOIN products p ON p.organization_id = v.organization_id AND p.id = v.product_id \
             WHERE v.organization_id = $1 AND v.status = 'ready' AND v.probe IS NOT NULL \
             ORDER BY v.created_at DESC, v.id DESC LIMIT $2";
        type Row = (Uuid, String, Option<Uuid>, Option<String>, String);
        let rows: Vec<Row> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(organization).bind(MAX_VIDEOS).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .filter_map(|(id, file_name, product_id, title, probe)| {
                // A probe written by an older version that no longer parses gives no advice rather than an error.
                let probe: VideoProbe = serde_json::from_str(&probe).ok()?;
                let product = product_id.zip(title);
                Some(VideoFacts { id, file_name, product, probe })
            })
            .collect())
    }
}
