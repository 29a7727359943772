//! Query costs by Shopify's published rules, and the page sizes that keep a query under the cap.

/// The most a single query may cost.
pub const MAX_QUERY_COST: u32 = 1000;
/// The largest `first` a connection accepts.
pub(super) const MAX_PAGE: u32 = 250;
/// Variants fetched with each product at most; more come from nested pages.
pub const VARIANTS_PER_PRODUCT: u32 = 20;
/// Variants fetched with each product at least.
pub(super) const MIN_VARIANTS_PER_PRODUCT: u32 = 4;
/// Lines fetched with each order on a first orders page; later pages fit what the store's orders hold
/// ([`fitted_lines`]), and lines past them come from nested pages.
pub const LINES_PER_ORDER: u32 = 5;
/// Lines fetched with each order at least and at most.
pub(super) const MIN_LINES_PER_ORDER: u32 = 1;
pub(super) const MAX_LINES_PER_ORDER: u32 = 16;

/// The requested cost of one variant node: the variant (1), its `inventoryItem` (1) and that item's `unitCost` (1).
pub(super) const VARIANT_NODE_COST: u32 = 3;

/// The requested cost of a products page: `products(first)` → product (1) + `variants(first)` connection.
pub fn products_cost(first: u32, variants: u32) -> u32 {
    2 + first * (1 + 2 + variants * VARIANT_NODE_COST)
}

/// The requested cost of an orders page: order (1) + `totalPriceSet { shopMoney }` (2) + `customer` (1) +
/// `lineItems(first)` whose nodes are a line (1) with `product` (1), `variant` (1) and
/// `discountedTotalSet { shopMoney }` (2).
pub fn orders_cost(first: u32, lines: u32) -> u32 {
    2 + first * (1 + 2 + 1 + 2 + lines * 5)
}

/// The requested cost of a nested variants page: `product` (1) + `variants(first)`.
pub fn variants_cost(first: u32) -> u32 {
    1 + 2 + first * VARIANT_NODE_COST
}

/// The requested cost of a nested line-items page: `order` (1) + `lineItems(first)`.
pub fn line_items_cost(first: u32) -> u32 {
    1 + 2 + first * 5
}

/// The requested cost of refetching `ids` nodes: the dearer fragment (an inventory item's variant's product).
pub fn refresh_cost(ids: u32, variants: u32) -> u32 {
    ids * (3 + 1 + 2 + variants * VARIANT_NODE_COST)
}

/// The requested cost of a mutation, as Shopify documents it.
pub const MUTATION_COST: u32 = 10;

/// The requested cost of a page of webhook subscriptions: a connection (2) of objects (1) with scalar fields.
pub fn subscriptions_cost(first: u32) -> u32 {
    2 + first
}

/// The nested `lineItems(first:)` for the next orders page: what 9 in 10 orders of the last page needed (lines
/// shown, plus one where more followed), rounded up to a power of two, within
/// [`MIN_LINES_PER_ORDER`]..=[`MAX_LINES_PER_ORDER`]. Sizing for the largest order would make every order pay for
/// the rare large one; that one follows its lines with a nested page instead.
pub(super) fn fitted_lines(mut needed: Vec<u32>) -> u32 {
    if needed.is_empty() {
        return LINES_PER_ORDER;
    }
    needed.sort_unstable();
    let ninth_decile = needed[(needed.len() * 9).div_ceil(10) - 1];
    ninth_decile.next_power_of_two().clamp(MIN_LINES_PER_ORDER, MAX_LINES_PER_ORDER)
}

/// The largest `first` whose cost stays under `cap`.
pub(super) fn page_size(cap: u32, cost: impl Fn(u32) -> u32) -> u32 {
    let mut first = MAX_PAGE;
    while first > 1 && cost(first) > cap {
        first -= 1;
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_stay_under_the_cost_cap() {
        let products = page_size(MAX_QUERY_COST, |n| products_cost(n, VARIANTS_PER_PRODUCT));
        let orders = page_size(MAX_QUERY_COST, |n| orders_cost(n, LINES_PER_ORDER));
        assert!(products_cost(products, VARIANTS_PER_PRODUCT) <= MAX_QUERY_COST);
        assert!(products_cost(products + 1, VARIANTS_PER_PRODUCT) > MAX_QUERY_COST);
        assert!(orders_cost(orders, LINES_PER_ORDER) <= MAX_QUERY_COST);
        assert_eq!(page_size(MAX_QUERY_COST, variants_cost), 250);
        assert_eq!(page_size(100, |n| products_cost(n, MIN_VARIANTS_PER_PRODUCT)), 6, "a small bucket shrinks pages");
    }

    #[test]
    fn order_pages_fit_the_lines_most_orders_have() {
        assert_eq!(fitted_lines(vec![1; 40]), 1, "single-line orders");
        assert_eq!(page_size(MAX_QUERY_COST, |n| orders_cost(n, 1)), 90, "against 32 at five lines each");
        let mut mixed = vec![1; 30];
        mixed.extend([2; 8]);
        mixed.extend([3, 40]);
        assert_eq!(fitted_lines(mixed), 2, "the one large order pages its lines itself");
        assert_eq!(fitted_lines(vec![3, 3, 3]), 4);
        assert_eq!(fitted_lines(vec![250; 5]), MAX_LINES_PER_ORDER);
        assert_eq!(fitted_lines(Vec::new()), LINES_PER_ORDER, "an empty page says nothing");
    }

    #[test]
    fn single_variant_stores_get_larger_pages() {
        // Each variant costs 3: the variant, its inventory item and that item's unit cost.
        assert_eq!(page_size(MAX_QUERY_COST, |n| products_cost(n, MIN_VARIANTS_PER_PRODUCT)), 66);
        assert_eq!(page_size(MAX_QUERY_COST, |n| products_cost(n, VARIANTS_PER_PRODUCT)), 15);
    }
}
