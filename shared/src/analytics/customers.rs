//! Customers as sales figures: new against returning, repeat purchases, and first-order cohorts (the retention and
//! cumulative revenue per customer table). Pure functions over the counting orders handed in.
//!
//! - A customer's **first order** is their earliest counting order ever (ties broken by order id). A customer is
//!   **new** in a range when that first order falls in it, **returning** when it came before.
//! - An order's revenue is its line totals net of refunds (the sales rule of [`super`]). **New** orders and revenue
//!   are those of first orders; every later order of a customer is **returning**. Guest checkouts (no customer) are
//!   counted apart.
//! - The **repeat-purchase rate** is the share of the range's customers with two or more orders in it.
//! - A **cohort** is the customers whose first order fell in one calendar month of the range; its month `k` holds
//!   the customers of the cohort who ordered in the `k`-th month after (0: the first month itself) and what they
//!   spent, up to the month holding the range's last day.

use std::collections::BTreeMap;

use super::*;

/// One counting order as the figures need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSale {
    /// The order's id (breaks ties between orders placed at the same instant).
    pub order: Uuid,
    /// The platform's id of its customer; `None` for a guest checkout.
    pub customer: Option<String>,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Line totals net of refunds, minor units.
    pub revenue_minor: i64,
}

/// Customers, orders and revenue of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Segment {
    /// Distinct customers (0 for guests).
    pub customers: i64,
    /// Orders.
    pub orders: i64,
    /// Revenue, minor units.
    pub revenue_minor: i64,
}

/// One month of a cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CohortMonth {
    /// Months after the cohort's first month.
    pub offset: u32,
    /// Customers of the cohort who ordered that month.
    pub customers: i64,
    /// What the cohort spent that month, minor units.
    pub revenue_minor: i64,
    /// What it spent from its first month to this one, minor units.
    pub cumulative_revenue_minor: i64,
}

/// The customers whose first order fell in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    /// The month's first day.
    pub month: NaiveDate,
    /// Customers in the cohort.
    pub customers: i64,
    /// Its months, from the first to the one holding the range's last day.
    pub months: Vec<CohortMonth>,
}

/// The figures of a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFigures {
    /// Distinct customers who ordered in the range.
    pub customers: i64,
    /// Of them, those with two or more orders in it.
    pub repeat_customers: i64,
    /// New customers, first orders.
    pub new: Segment,
    /// Returning customers, later orders.
    pub returning: Segment,
    /// Guest checkouts.
    pub guest: Segment,
    /// One cohort per month of the range that saw a first order, oldest first.
    pub cohorts: Vec<Cohort>,
}

/// The range's figures from every counting order placed up to its end (earlier ones decide who is new).
pub fn customer_figures(sales: &[CustomerSale], range: DateRange, zone: Tz) -> CustomerFigures {
    let mut figures = CustomerFigures::default();
    let mut by_customer: BTreeMap<&str, Vec<&CustomerSale>> = BTreeMap::new();
    for sale in sales {
        let day = local_day(sale.placed_at, zone);
        match &sale.customer {
            Some(customer) if day <= range.to() => by_customer.entry(customer).or_default().push(sale),
            None if range.contains(day) => {
                figures.guest.orders += 1;
                figures.guest.revenue_minor += sale.revenue_minor;
            }
            _ => {}
        }
    }
    let last_month = month_start(range.to());
    let mut cohorts: BTreeMap<NaiveDate, CohortTally> = BTreeMap::new();
    for orders in by_customer.values_mut() {
        orders.sort_by_key(|sale| (sale.placed_at, sale.order));
        let first_day = local_day(orders[0].placed_at, zone);
        let in_range: Vec<(usize, &&CustomerSale)> =
            orders.iter().enumerate().filter(|(_, sale)| range.contains(local_day(sale.placed_at, zone))).collect();
        if in_range.is_empty() {
            continue;
        }
        figures.customers += 1;
        figures.repeat_customers += i64::from(in_range.len() >= 2);
        let is_new = range.contains(first_day);
        if is_new {
            figures.new.customers += 1;
        } else {
            figures.returning.customers += 1;
        }
        for (index, sale) in &in_range {
            let segment = if *index == 0 { &mut figures.new } else { &mut figures.returning };
            segment.orders += 1;
            segment.revenue_minor += sale.revenue_minor;
        }
        if is_new {
            let month = month_start(first_day);
            let tally = cohorts.entry(month).or_default();
            tally.customers += 1;
            let mut active = std::collections::BTreeSet::new();
            for sale in orders.iter() {
                let offset = months_between(month, month_start(local_day(sale.placed_at, zone)));
                let spent = tally.months.entry(offset).or_default();
                spent.revenue_minor += sale.revenue_minor;
                if active.insert(offset) {
                    spent.customers += 1;
                }
            }
        }
    }
    figures.cohorts = cohorts
        .into_iter()
        .map(|(month, tally)| {
            let mut cumulative = 0;
            let months = (0..=months_between(month, last_month))
                .map(|offset| {
                    let spent = tally.months.get(&offset).copied().unwrap_or_default();
                    cumulative += spent.revenue_minor;
                    CohortMonth {
                        offset,
                        customers: spent.customers,
                        revenue_minor: spent.revenue_minor,
                        cumulative_revenue_minor: cumulative,
                    }
                })
                .collect();
            Cohort { month, customers: tally.customers, months }
        })
        .collect();
    figures
}

/// A cohort being counted: its size, and per month offset its active customers and revenue.
#[derive(Default)]
struct CohortTally {
    customers: i64,
    months: BTreeMap<u32, MonthTally>,
}

#[derive(Clone, Copy, Default)]
struct MonthTally {
    customers: i64,
    revenue_minor: i64,
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// Whole months from `from` to `to` (both first days of a month; 0 when `to` is not later).
fn months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    u32::try_from(months).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(order: u128, customer: Option<&str>, at: &str, revenue_minor: i64) -> CustomerSale {
        CustomerSale {
            order: Uuid::from_u128(order),
            customer: customer.map(str::to_owned),
            placed_at: at.parse().expect("time"),
            revenue_minor,
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn new_returning_guests_repeats_and_cohorts_follow_the_first_order() {
        let sales = [
            sale(1, Some("a"), "2026-02-10T12:00:00Z", 1000),
            sale(2, Some("a"), "2026-03-05T12:00:00Z", 2000),
            sale(3, Some("b"), "2026-03-02T12:00:00Z", 3000),
            sale(4, Some("b"), "2026-04-03T12:00:00Z", 1500),
            sale(5, Some("b"), "2026-04-20T12:00:00Z", 500),
            sale(6, Some("c"), "2026-04-10T12:00:00Z", 3000),
            sale(7, None, "2026-03-15T12:00:00Z", 700),
            sale(8, None, "2026-02-15T12:00:00Z", 900),
            // After the range: neither counted nor in the cohort table.
            sale(9, Some("b"), "2026-05-02T12:00:00Z", 9999),
        ];
        let range = DateRange::new(day("2026-03-01"), day("2026-04-30")).expect("range");

        let figures = customer_figures(&sales, range, Tz::UTC);

        assert_eq!((figures.customers, figures.repeat_customers), (3, 1));
        assert_eq!(figures.new, Segment { customers: 2, orders: 2, revenue_minor: 6000 });
        assert_eq!(figures.returning, Segment { customers: 1, orders: 3, revenue_minor: 4000 });
        assert_eq!(figures.guest, Segment { customers: 0, orders: 1, revenue_minor: 700 });
        let march = &figures.cohorts[0];
        assert_eq!((march.month, march.customers), (day("2026-03-01"), 1));
        assert_eq!(
            march.months,
            [
                CohortMonth { offset: 0, customers: 1, revenue_minor: 3000, cumulative_revenue_minor: 3000 },
                CohortMonth { offset: 1, customers: 1, revenue_minor: 2000, cumulative_revenue_minor: 5000 },
            ]
        );
        let april = &figures.cohorts[1];
        assert_eq!((april.month, april.customers, april.months.len()), (day("2026-04-01"), 1, 1));
        assert_eq!(figures.cohorts.len(), 2, "February's customer is returning, not a cohort of the range");
    }

    #[test]
    fn months_are_the_organizations_and_ties_go_to_the_lower_order_id() {
        // 03:00 UTC on 1 April is still 31 March in New York.
        let zone: Tz = "America/New_York".parse().expect("zone");
        let sales = [sale(2, Some("a"), "2026-04-01T03:00:00Z", 100), sale(1, Some("a"), "2026-04-01T03:00:00Z", 200)];
        let range = DateRange::new(day("2026-03-01"), day("2026-04-30")).expect("range");
        let figures = customer_figures(&sales, range, zone);
        assert_eq!(figures.cohorts[0].month, day("2026-03-01"));
        assert_eq!(figures.new.revenue_minor, 200, "order 1 is the first");
        assert_eq!(figures.returning.revenue_minor, 100);
        assert_eq!(figures.cohorts[0].months[0].customers, 1, "one customer, however many orders");
    }
}
