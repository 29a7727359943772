//! The mapping from Superstore lines to our catalogue, orders and analytics events. Pure and deterministic: the same
//! lines and the same end date give the same plan, byte for byte, which is what makes loading idempotent.
//!
//! Choices, each made so that the figures stay exactly those of the dataset:
//! - **Products** are the distinct (`Product ID`, `Product Name`) pairs: 1,894 of them. The file reuses 32 product
//!   ids for two unrelated items each (`OFF-PA-10002377` is both "Xerox 1916" and an Adams message book, at
//!   different prices); merging them would give one title and one price to lines of two things. The name with more
//!   lines keeps the bare id as its external id, the other gets `<id>-2`.
//! - **Price** is the product's most common unit list price, `Sales / Quantity / (1 − Discount)`, and **cost** its
//!   most common `(Sales − Profit) / Quantity` (the dataset's cost is constant per product), both rounded half-up
//!   to cents in integer arithmetic. A cost above the price is dropped rather than stored.
//! - **Orders** keep their `Order ID` and line order; a line's total is its `Sales` rounded half-up to cents and
//!   the order's total is the sum of its lines, so every revenue figure is a sum of the file's rounded lines.
//! - **Dates** move by one offset for the whole file, `history_ends − 2017-12-30`, so the last order falls on
//!   `history_ends` (yesterday at first load). The offset is rarely a multiple of seven: ending exactly on
//!   yesterday matters more to a demo than keeping the file's (synthetic) weekday pattern.
//! - **Inventory** and **events** are derived from the last [`RECENT_DAYS`] of orders, with variety drawn from a
//!   stable hash of the product's external id (never from a random generator).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::superstore::SuperstoreLine;
use crate::catalogue::{ProductInput, ProductStatus, VariantInput};

/// The window that inventory velocity and analytics events are derived from, ending with the last order day.
pub const RECENT_DAYS: u32 = 90;

/// Everything the demo writes, with products referenced by external id.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoPlan {
    /// The last day of the history (the day of the last order).
    pub history_ends: NaiveDate,
    /// Days added to every date of the file.
    pub shift_days: i64,
    /// The catalogue, one variant per product, sorted by external id.
    pub products: Vec<ProductInput>,
    /// Orders, sorted by placement time then id.
    pub orders: Vec<DemoOrder>,
    /// Storefront events of the last [`RECENT_DAYS`], each with a stable client id.
    pub events: Vec<DemoEvent>,
}

/// An order of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOrder {
    /// The file's `Order ID`.
    pub external_id: String,
    /// When it was placed: the re-dated order day at a time of day derived from the order id.
    pub placed_at: DateTime<Utc>,
    /// The file's `Customer ID`.
    pub customer: String,
    /// Its lines in file order.
    pub lines: Vec<DemoOrderLine>,
}

impl DemoOrder {
    /// The sum of the lines, minor units.
    pub fn total_minor(&self) -> i64 {
        self.lines.iter().map(|l| l.total_minor).sum()
    }
}

/// An order line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOrderLine {
    /// The product's (and its only variant's) external id.
    pub product: String,
    /// Units.
    pub quantity: i64,
    /// `Sales` rounded half-up to cents.
    pub total_minor: i64,
}

/// What a shopper did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DemoEventKind {
    /// Looked at a product page.
    View,
    /// Put a product in the cart.
    AddToCart,
    /// Checked out (one per order line naming the product, at the order's time).
    Purchase,
}

/// A storefront event of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoEvent {
    /// `demo-<kind>-<product>-<n>`: the same on every load, so a re-run inserts nothing new.
    pub client_id: String,
    /// What happened.
    pub kind: DemoEventKind,
    /// The product's external id.
    pub product: String,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

/// Builds the plan for a history ending on `history_ends`, with times of day in `timezone`.
pub fn plan(lines: &[SuperstoreLine], history_ends: NaiveDate, timezone: Tz) -> DemoPlan {
    let Some(last_day) = lines.iter().map(|l| l.order_date).max() else {
        return DemoPlan { history_ends, shift_days: 0, products: Vec::new(), orders: Vec::new(), events: Vec::new() };
    };
    let shift_days = (history_ends - last_day).num_days();
    let shift = |day: NaiveDate| day + chrono::Duration::days(shift_days);
    let window_starts = last_day - Days::new(u64::from(RECENT_DAYS - 1));
    let external_ids = external_ids(lines);
    let external_id =
        |line: &SuperstoreLine| external_ids[&(line.product_id.as_str(), line.product_name.as_str())].clone();

    // Products, with the facts the inventory and events are derived from.
    let mut facts: BTreeMap<String, ProductFacts> = BTreeMap::new();
    for line in lines {
        let entry = facts.entry(external_id(line)).or_insert_with(|| ProductFacts::new(line));
        *entry.prices.entry(unit_list_price(line)).or_default() += 1;
        *entry.costs.entry(unit_cost(line)).or_default() += 1;
        if line.order_date >= window_starts {
            entry.recent_units += line.quantity;
        }
    }

    // Orders, in file order within each.
    let mut orders: BTreeMap<&str, DemoOrder> = BTreeMap::new();
    for line in lines {
        let order = orders.entry(line.order_id.as_str()).or_insert_with(|| DemoOrder {
            external_id: line.order_id.clone(),
            placed_at: at_local_time(timezone, shift(line.order_date), order_time_of_day(&line.order_id)),
            customer: line.customer_id.clone(),
            lines: Vec::new(),
        });
        let product = external_id(line);
        if line.order_date >= window_starts
            && let Some(facts) = facts.get_mut(&product)
        {
            facts.recent_purchases.push(order.placed_at);
        }
        order.lines.push(DemoOrderLine {
            product,
            quantity: line.quantity,
            total_minor: round_half_up(line.sales, 100),
        });
    }
    let mut orders: Vec<DemoOrder> = orders.into_values().collect();
    orders.sort_by(|a, b| (a.placed_at, &a.external_id).cmp(&(b.placed_at, &b.external_id)));

    let window = (shift(window_starts), history_ends);
    let mut products = Vec::with_capacity(facts.len());
    let mut events = Vec::new();
    for (external_id, facts) in &facts {
        products.push(facts.product(external_id));
        facts.events(external_id, window, timezone, &mut events);
    }
    DemoPlan { history_ends, shift_days, products, orders, events }
}

/// The external id of each (`Product ID`, `Product Name`) pair: the bare id for the name with the most lines (ties
/// to the name that sorts first), `<id>-2`, `<id>-3`… for the others.
fn external_ids(lines: &[SuperstoreLine]) -> HashMap<(&str, &str), String> {
    let mut names: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for line in lines {
        *names.entry(&line.product_id).or_default().entry(&line.product_name).or_default() += 1;
    }
    let mut ids = HashMap::new();
    for (product_id, counts) in names {
        let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (rank, (name, _)) in ranked.into_iter().enumerate() {
            let id = if rank == 0 { product_id.to_owned() } else { format!("{product_id}-{}", rank + 1) };
            ids.insert((product_id, name), id);
        }
    }
    ids
}

/// What the lines say about one product.
struct ProductFacts {
    title: String,
    category: String,
    sub_category: String,
    /// Unit list price (cents) → lines at it.
    prices: BTreeMap<i64, usize>,
    /// Unit cost (cents) → lines at it.
    costs: BTreeMap<i64, usize>,
    /// Units sold in the last [`RECENT_DAYS`].
    recent_units: i64,
    /// When each of its lines of the last [`RECENT_DAYS`] was ordered.
    recent_purchases: Vec<DateTime<Utc>>,
}

impl ProductFacts {
    fn new(line: &SuperstoreLine) -> Self {
        Self {
            // A few published names end in a space.
            title: line.product_name.trim().to_owned(),
            category: line.category.clone(),
            sub_category: line.sub_category.clone(),
            prices: BTreeMap::new(),
            costs: BTreeMap::new(),
            recent_units: 0,
            recent_purchases: Vec::new(),
        }
    }

    fn product(&self, external_id: &str) -> ProductInput {
        let price_minor = most_common(&self.prices);
        let cost_minor = Some(most_common(&self.costs)).filter(|cost| (0..=price_minor).contains(cost));
        ProductInput {
            external_id: external_id.to_owned(),
            title: self.title.clone(),
            description: format!("{} / {}", self.category, self.sub_category),
            vendor: vendor_of(&self.title),
            category: self.sub_category.clone(),
            status: ProductStatus::Active,
            variants: vec![VariantInput {
                external_id: external_id.to_owned(),
                sku: external_id.to_owned(),
                title: "Default".to_owned(),
                price_minor,
                cost_minor,
                inventory: self.inventory(external_id),
            }],
        }
    }

    /// Units in stock: a number of days of recent sales velocity, drawn per product so that the advisor has
    /// something to find. Of products that sold lately, 10% have 0-5 days of cover left (some none), 10% have
    /// 150-299 days (overstock) and the rest 3-8 weeks. Of those that did not, 30% are out of stock and the rest hold
    /// 2-40 units that are not moving (dead stock).
    fn inventory(&self, external_id: &str) -> i64 {
        let draw = stable_hash(&["stock", external_id]);
        let bucket = draw % 100;
        let spread = (draw >> 32) as i64;
        if self.recent_units == 0 {
            return if bucket < 30 { 0 } else { 2 + spread % 39 };
        }
        let cover_days = match bucket {
            0..10 => return self.recent_units * (spread % 6) / i64::from(RECENT_DAYS),
            10..20 => 150 + spread % 150,
            _ => 21 + spread % 36,
        };
        // Rounded up: a product that sells keeps at least one unit.
        (self.recent_units * cover_days + i64::from(RECENT_DAYS) - 1) / i64::from(RECENT_DAYS)
    }

    /// Views, add-to-carts and purchases of the last [`RECENT_DAYS`] (`window`, re-dated, inclusive). Products that
    /// sold lately get views at a 3-8% purchase conversion, except 5% of them that convert at 1% (many views, few
    /// purchases); 10% of the others draw 10-79 views with no purchase; the rest 0-2 views. Add-to-carts are
    /// 7-12% of views and never fewer than the purchases: each purchased line has one, minutes before its order,
    /// and a purchase event at the order's time.
    fn events(&self, external_id: &str, window: (NaiveDate, NaiveDate), timezone: Tz, out: &mut Vec<DemoEvent>) {
        let draw = stable_hash(&["events", external_id]);
        let bucket = draw % 100;
        let spread = draw >> 32;
        let purchases = self.recent_purchases.len() as u64;
        let views = match (purchases, bucket) {
            (0, 0..10) => 10 + spread % 70,
            (0, _) => bucket % 3,
            (_, 0..5) => (purchases * 100).min(600),
            (_, _) => (purchases * 1_000).div_ceil(30 + spread % 51),
        };
        let add_to_carts = (views * (70 + (spread >> 8) % 51) / 1_000).max(purchases);
        let days = (window.1 - window.0).num_days().max(0) as u64 + 1;
        let random_moment = |kind: &str, n: u64| {
            let draw = stable_hash(&[kind, external_id, &n.to_string()]);
            let day = window.0 + Days::new(draw % days);
            // Between 07:00 and 23:00 local time.
            at_local_time(timezone, day, 7 * 3_600 + ((draw >> 32) % (16 * 3_600)) as u32)
        };
        for n in 0..views {
            out.push(DemoEvent {
                client_id: format!("demo-view-{external_id}-{n}"),
                kind: DemoEventKind::View,
                product: external_id.to_owned(),
                occurred_at: random_moment("view", n),
            });
        }
        for (n, ordered) in self.recent_purchases.iter().enumerate() {
            out.push(DemoEvent {
                client_id: format!("demo-purchase-{external_id}-{n}"),
                kind: DemoEventKind::Purchase,
                product: external_id.to_owned(),
                occurred_at: *ordered,
            });
        }
        for n in 0..add_to_carts {
            let occurred_at = match self.recent_purchases.get(n as usize) {
                Some(ordered) => {
                    *ordered - chrono::Duration::minutes(3 + (stable_hash(&["cart", external_id]) % 20) as i64)
                }
                None => random_moment("add_to_cart", n),
            };
            out.push(DemoEvent {
                client_id: format!("demo-add_to_cart-{external_id}-{n}"),
                kind: DemoEventKind::AddToCart,
                product: external_id.to_owned(),
                occurred_at,
            });
        }
    }
}

/// The unit price before discount, cents, rounded half-up: `Sales / Quantity / (1 − Discount)`. Sales are in
/// ten-thousandths of a dollar (hundredths of a cent) and the discount in percent, so this is
/// `sales / (quantity × (100 − percent))` cents.
pub fn unit_list_price(line: &SuperstoreLine) -> i64 {
    round_half_up(line.sales, line.quantity * (100 - line.discount_percent))
}

/// The unit cost, cents, rounded half-up: `(Sales − Profit) / Quantity`.
pub fn unit_cost(line: &SuperstoreLine) -> i64 {
    round_half_up(line.sales - line.profit, 100 * line.quantity)
}

/// `numerator / denominator` rounded to the nearest integer, halves away from zero; `denominator` > 0.
pub fn round_half_up(numerator: i64, denominator: i64) -> i64 {
    let (n, d) = (i128::from(numerator), i128::from(denominator));
    let rounded = if n >= 0 { (2 * n + d) / (2 * d) } else { -((-2 * n + d) / (2 * d)) };
    rounded as i64
}

/// The most frequent key; ties go to the largest (a list price, not a rounding artefact below it).
fn most_common(counts: &BTreeMap<i64, usize>) -> i64 {
    counts.iter().max_by_key(|(value, count)| (**count, **value)).map_or(0, |(value, _)| *value)
}

/// The brand, taken as the name's first word when it starts with a letter ("Xerox 1916" → "Xerox"); names that
/// start with a size or a number ("#10 Self-Seal Envelopes") get none. Approximate by design: the file has no
/// vendor column.
fn vendor_of(title: &str) -> String {
    title.split_whitespace().next().filter(|w| w.starts_with(char::is_alphabetic)).unwrap_or_default().to_owned()
}

/// An order's time of day: 08:00 to 21:59 local, from its id, in seconds after midnight.
fn order_time_of_day(order_id: &str) -> u32 {
    8 * 3_600 + (stable_hash(&["order", order_id]) % (14 * 60)) as u32 * 60
}

/// `day` at `seconds` after local midnight in `timezone`, as UTC. Times that fall in a daylight-saving gap move
/// forward an hour; ambiguous ones take the earlier instant.
fn at_local_time(timezone: Tz, day: NaiveDate, seconds: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds % 86_400, 0).unwrap_or_default();
    let local = day.and_time(time);
    let resolved = timezone
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| timezone.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest());
    resolved.map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

/// FNV-1a over the parts (each followed by a separator byte), finished with the SplitMix64 mixer so that low bits
/// are as good as high ones. Stable across Rust versions and platforms, unlike `std`'s hasher.
fn stable_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::demo::superstore::bundled_lines;

    fn line(
        order: &str,
        day: &str,
        product: &str,
        name: &str,
        sales: i64,
        quantity: i64,
        discount: i64,
    ) -> SuperstoreLine {
        SuperstoreLine {
            order_id: order.into(),
            order_date: day.parse().expect("date"),
            customer_id: format!("C-{order}"),
            product_id: product.into(),
            category: "Office Supplies".into(),
            sub_category: "Paper".into(),
            product_name: name.into(),
            sales,
            quantity,
            discount_percent: discount,
            profit: sales / 4,
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn rounding_is_half_up_in_integers() {
        for (numerator, denominator, expected) in
            [(2_619_600, 100, 26_196), (223_680, 100, 2_237), (9_575_775, 100, 95_758), (50, 100, 1), (49, 100, 0)]
        {
            assert_eq!(round_half_up(numerator, denominator), expected, "{numerator}/{denominator}");
        }
        assert_eq!(round_half_up(-3_830_310, 100), -38_303);
        assert_eq!(round_half_up(-50, 100), -1, "halves go away from zero");
    }

    #[test]
    fn list_price_undoes_the_discount_exactly() {
        // 957.5775 for 5 units at 45% off: 957.5775 / 5 / 0.55 = 348.21.
        let table = line("O-1", "2015-10-11", "P", "Table", 9_575_775, 5, 45);
        assert_eq!(unit_list_price(&table), 34_821);
        // 22.368 for 2 units at 20% off: 13.98 each.
        let labels = line("O-2", "2016-06-12", "P", "Labels", 223_680, 2, 20);
        assert_eq!(unit_list_price(&labels), 1_398);
        // Profit is a quarter of sales here: cost = 22.368 × 0.75 / 2 = 8.388 → 8.39.
        assert_eq!(unit_cost(&labels), 839);
    }

    #[test]
    fn reused_product_ids_become_separate_products() {
        let lines = [
            line("O-1", "2017-01-01", "P-1", "Xerox 1916", 1_000_000, 1, 0),
            line("O-2", "2017-01-02", "P-1", "Adams Message Book", 500_000, 1, 0),
            line("O-3", "2017-01-03", "P-1", "Adams Message Book", 500_000, 1, 0),
        ];
        let plan = plan(&lines, day("2026-11-26"), chrono_tz::America::New_York);
        let products: Vec<(&str, &str, i64)> = plan
            .products
            .iter()
            .map(|p| (p.external_id.as_str(), p.title.as_str(), p.variants[0].price_minor))
            .collect();
        assert_eq!(products, [("P-1", "Adams Message Book", 5_000), ("P-1-2", "Xerox 1916", 10_000)]);
        assert_eq!(plan.orders[0].lines[0].product, "P-1-2");
    }

    #[test]
    fn the_history_is_shifted_to_end_on_the_given_day_at_local_daytime() {
        let lines = [
            line("O-1", "2017-12-30", "P-1", "Xerox 1", 1_000_000, 1, 0),
            line("O-2", "2017-06-30", "P-1", "Xerox 1", 1_000_000, 1, 0),
        ];
        let timezone = chrono_tz::America::New_York;
        let plan = plan(&lines, day("2026-11-26"), timezone);
        assert_eq!(plan.shift_days, (day("2026-11-26") - day("2017-12-30")).num_days());
        let last = plan.orders.iter().map(|o| o.placed_at).max().expect("orders");
        let local = last.with_timezone(&timezone);
        assert_eq!(local.date_naive(), day("2026-11-26"));
        assert!((8..22).contains(&chrono::Timelike::hour(&local)), "{local}");
        let first = plan.orders.iter().map(|o| o.placed_at.with_timezone(&timezone).date_naive()).min();
        assert_eq!(first, Some(day("2026-05-27")), "every date moves by the same number of days");
    }

    #[test]
    fn the_bundled_plan_is_deterministic_and_consistent() {
        let lines = bundled_lines().expect("bundled lines");
        let timezone = chrono_tz::America::New_York;
        let ends = day("2026-11-26");
        let first = plan(&lines, ends, timezone);
        assert_eq!(first, plan(&lines, ends, timezone), "same input, same plan");

        assert_eq!(first.products.len(), 1_894, "1,862 ids, 32 of them reused for a second item");
        assert_eq!(first.orders.len(), 5_009);
        assert_eq!(first.orders.iter().flat_map(|o| &o.lines).count(), 9_994);
        let revenue: i64 = first.orders.iter().map(DemoOrder::total_minor).sum();
        let expected: i64 = lines.iter().map(|l| round_half_up(l.sales, 100)).sum();
        assert_eq!(revenue, expected);

        let ids: HashSet<&str> = first.events.iter().map(|e| e.client_id.as_str()).collect();
        assert_eq!(ids.len(), first.events.len(), "client ids are unique");
        let window_starts = timezone
            .from_local_datetime(&(ends - Days::new(u64::from(RECENT_DAYS) - 1)).and_time(NaiveTime::MIN))
            .earliest()
            .expect("midnight exists");
        let before = |t: DateTime<Utc>| t.with_timezone(&timezone).date_naive() <= ends;
        assert!(first.events.iter().all(|e| e.occurred_at >= window_starts - chrono::Duration::hours(1)));
        assert!(first.events.iter().all(|e| before(e.occurred_at)));
        for product in &first.products {
            let variant = &product.variants[0];
            assert!(variant.price_minor > 0, "{} has a price", product.external_id);
            assert!(variant.inventory >= 0);
        }
    }

    #[test]
    fn the_bundled_plan_gives_the_advisor_something_to_find() {
        let lines = bundled_lines().expect("bundled lines");
        let plan = plan(&lines, day("2026-11-26"), chrono_tz::America::New_York);
        let count = |kind| plan.events.iter().filter(|e| e.kind == kind).count();
        let (views, carts, purchases) =
            (count(DemoEventKind::View), count(DemoEventKind::AddToCart), count(DemoEventKind::Purchase));
        assert!(purchases > 1_000 && purchases <= carts, "{purchases} purchases, {carts} add-to-carts");
        assert!((20_000..100_000).contains(&views), "{views} views");
        assert!(carts > views / 20 && carts < views / 5, "{carts} add-to-carts for {views} views");
        let out_of_stock = plan.products.iter().filter(|p| p.variants[0].inventory == 0).count();
        assert!(out_of_stock > 50 && out_of_stock < plan.products.len() / 2, "{out_of_stock} out of stock");
        let with_cost = plan.products.iter().filter(|p| p.variants[0].cost_minor.is_some()).count();
        assert!(with_cost > plan.products.len() * 9 / 10, "{with_cost} with a cost");
    }
}
