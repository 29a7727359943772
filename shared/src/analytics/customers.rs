//! Customers as sales figures: new against returning, repeat purchases, and first-order cohorts (the retention and
//! cumulative revenue per customer table), read from two rollups kept in step with every order write.
//!
//! - A **customer** is a platform's customer id within one store (WooCommerce numbers customers per store, so the
//!   same id in two stores is two people). Nothing else about them is kept.
//! - A customer's **first order** is their earliest counting order ever (ties broken by order id). A customer is
//!   **new** in a range when that first order falls in it, **returning** when it came before.
//! - An order's revenue is its line totals net of refunds (the sales rule of [`super`]). **New** orders and revenue
//!   are those of first orders; every later order of a customer is **returning**. Guest checkouts (no customer) are
//!   counted apart.
//! - The **repeat-purchase rate** is the share of the range's customers with two or more orders in it.
//! - A **cohort** is the customers whose first order fell in one calendar month of the range; its month `k` holds
//!   the customers of the cohort who ordered in the `k`-th month after (0: the first month itself) and what they
//!   spent, up to the month holding the range's last day.
//!
//! # The rollups
//! [`CustomerDays`] holds per customer and local day their counting orders and revenue; [`FirstOrder`] per customer
//! the first order. A range's figures read the range's customer days with each customer's first order: O(customer
//! days in the range), never the orders or their lines.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// A customer: the platform's id within one store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Customer {
    /// The store the id belongs to.
    pub store: Uuid,
    /// The platform's customer id.
    pub key: String,
}

/// Counting orders and their revenue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spend {
    /// Orders.
    pub orders: i64,
    /// Line totals net of refunds, minor units.
    pub revenue_minor: i64,
}

impl Spend {
    /// What one counting order adds.
    pub fn of_order(facts: &SaleFacts<'_>) -> Self {
        Self { orders: 1, revenue_minor: facts.lines.iter().map(|line| line.total_minor).sum() }
    }

    fn plus(self, other: Self) -> Self {
        Self { orders: self.orders + other.orders, revenue_minor: self.revenue_minor + other.revenue_minor }
    }

    fn negated(self) -> Self {
        Self { orders: -self.orders, revenue_minor: -self.revenue_minor }
    }

    /// Nothing at all (a stored row at zero is deleted).
    pub fn is_zero(&self) -> bool {
        self.orders == 0 && self.revenue_minor == 0
    }
}

/// Counting orders per customer and local day: stored rows, or the change an order write makes to them (rows that
/// come to nothing are dropped, so two equal maps mean equal tables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerDays(BTreeMap<(Customer, NaiveDate), Spend>);

impl CustomerDays {
    /// No rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `spend` to the customer's day.
    pub fn add(&mut self, customer: Customer, day: NaiveDate, spend: Spend) {
        let key = (customer, day);
        let sum = self.0.get(&key).copied().unwrap_or_default().plus(spend);
        if sum.is_zero() {
            self.0.remove(&key);
        } else {
            self.0.insert(key, sum);
        }
    }

    /// Records what an order of `customer` contributes (nothing for a guest, or unless its status counts).
    pub fn add_order(&mut self, customer: Option<&Customer>, facts: &SaleFacts<'_>, zone: Tz) {
        if let Some(customer) = customer
            && facts.status.counts_as_sale()
        {
            self.add(customer.clone(), local_day(facts.placed_at, zone), Spend::of_order(facts));
        }
    }

    /// Adds every row of `other`.
    pub fn add_all(&mut self, other: &Self) {
        for ((customer, day), spend) in other.iter() {
            self.add(customer.clone(), *day, *spend);
        }
    }

    /// Takes out every row of `other`.
    pub fn subtract_all(&mut self, other: &Self) {
        for ((customer, day), spend) in other.iter() {
            self.add(customer.clone(), *day, spend.negated());
        }
    }

    /// The rows, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&(Customer, NaiveDate), &Spend)> {
        self.0.iter()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<((Customer, NaiveDate), Spend)> for CustomerDays {
    fn from_iter<I: IntoIterator<Item = ((Customer, NaiveDate), Spend)>>(rows: I) -> Self {
        let mut days = Self::new();
        for ((customer, day), spend) in rows {
            days.add(customer, day, spend);
        }
        days
    }
}

/// A customer's first counting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstOrder {
    /// The order's id.
    pub order: Uuid,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Its local day.
    pub day: NaiveDate,
    /// Its revenue, minor units.
    pub revenue_minor: i64,
}

impl FirstOrder {
    /// Whether this order comes before `other` (earlier, or at the same instant with a lower id).
    pub fn precedes(&self, other: &Self) -> bool {
        (self.placed_at, self.order) < (other.placed_at, other.order)
    }
}

/// Both customer rollups of an organization, as a recomputation from its orders builds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerRollups {
    /// Counting orders per customer and day.
    pub days: CustomerDays,
    /// Each customer's first order.
    pub first_orders: BTreeMap<Customer, FirstOrder>,
}

impl CustomerRollups {
    /// Records an order of `customer`.
    pub fn add_order(&mut self, order: Uuid, customer: Option<&Customer>, facts: &SaleFacts<'_>, zone: Tz) {
        let Some(customer) = customer.filter(|_| facts.status.counts_as_sale()) else { return };
        self.days.add_order(Some(customer), facts, zone);
        let first = FirstOrder {
            order,
            placed_at: facts.placed_at,
            day: local_day(facts.placed_at, zone),
            revenue_minor: Spend::of_order(facts).revenue_minor,
        };
        match self.first_orders.get(customer) {
            Some(known) if !first.precedes(known) => {}
            _ => {
                self.first_orders.insert(customer.clone(), first);
            }
        }
    }
}

/// One customer day of a range, with the customer's first order: what [`customer_figures`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerDay {
    /// The customer.
    pub customer: Customer,
    /// The local day of their first order.
    pub first_day: NaiveDate,
    /// Their first order's revenue, minor units.
    pub first_order_revenue_minor: i64,
    /// The day.
    pub day: NaiveDate,
    /// Their counting orders that day.
    pub spend: Spend,
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

/// The range's figures from its customer days (rows outside it are ignored) and its guest checkouts.
pub fn customer_figures(days: &[CustomerDay], guest: Segment, range: DateRange) -> CustomerFigures {
    let mut figures = CustomerFigures { guest, ..CustomerFigures::default() };
    let mut by_customer: BTreeMap<&Customer, Vec<&CustomerDay>> = BTreeMap::new();
    for day in days.iter().filter(|row| range.contains(row.day)) {
        by_customer.entry(&day.customer).or_default().push(day);
    }
    let last_month = month_start(range.to());
    let mut cohorts: BTreeMap<NaiveDate, CohortTally> = BTreeMap::new();
    for rows in by_customer.values() {
        let spent = rows.iter().fold(Spend::default(), |sum, row| sum.plus(row.spend));
        figures.customers += 1;
        figures.repeat_customers += i64::from(spent.orders >= 2);
        let (first_day, first_revenue) = (rows[0].first_day, rows[0].first_order_revenue_minor);
        if !range.contains(first_day) {
            figures.returning.customers += 1;
            figures.returning.orders += spent.orders;
            figures.returning.revenue_minor += spent.revenue_minor;
            continue;
        }
        figures.new.customers += 1;
        figures.new.orders += 1;
        figures.new.revenue_minor += first_revenue;
        figures.returning.orders += spent.orders - 1;
        figures.returning.revenue_minor += spent.revenue_minor - first_revenue;
        let month = month_start(first_day);
        let tally = cohorts.entry(month).or_default();
        tally.customers += 1;
        let mut active = BTreeSet::new();
        for row in rows {
            let offset = months_between(month, month_start(row.day));
            let spent = tally.months.entry(offset).or_default();
            spent.revenue_minor += row.spend.revenue_minor;
            if active.insert(offset) {
                spent.customers += 1;
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

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    fn customer(key: &str) -> Customer {
        Customer { store: Uuid::from_u128(1), key: key.into() }
    }

    /// The rollups of `orders` (`(id, customer, placed at, revenue)`, all counting) in `zone`.
    fn rollups(orders: &[(u128, &str, &str, i64)], zone: Tz) -> CustomerRollups {
        let mut rollups = CustomerRollups::default();
        for (id, key, at, revenue_minor) in orders {
            let lines = [SaleLine { product: None, quantity: 1, total_minor: *revenue_minor, unit_cost_minor: None }];
            let facts = SaleFacts { placed_at: at.parse().expect("time"), status: OrderStatus::Paid, lines: &lines };
            rollups.add_order(Uuid::from_u128(*id), Some(&customer(key)), &facts, zone);
        }
        rollups
    }

    /// The customer days of `range` joined with first orders, as the database reads them.
    fn days_of(rollups: &CustomerRollups, range: DateRange) -> Vec<CustomerDay> {
        rollups
            .days
            .iter()
            .filter(|((_, day), _)| range.contains(*day))
            .map(|((customer, day), spend)| {
                let first = rollups.first_orders[customer];
                CustomerDay {
                    customer: customer.clone(),
                    first_day: first.day,
                    first_order_revenue_minor: first.revenue_minor,
                    day: *day,
                    spend: *spend,
                }
            })
            .collect()
    }

    #[test]
    fn new_returning_guests_repeats_and_cohorts_follow_the_first_order() {
        let orders = [
            (1, "a", "2026-02-10T12:00:00Z", 1000),
            (2, "a", "2026-03-05T12:00:00Z", 2000),
            (3, "b", "2026-03-02T12:00:00Z", 3000),
            (4, "b", "2026-04-03T12:00:00Z", 1500),
            (5, "b", "2026-04-20T12:00:00Z", 500),
            (6, "c", "2026-04-10T12:00:00Z", 3000),
            // After the range: neither counted nor in the cohort table.
            (9, "b", "2026-05-02T12:00:00Z", 9999),
        ];
        let range = DateRange::new(day("2026-03-01"), day("2026-04-30")).expect("range");
        let rollups = rollups(&orders, Tz::UTC);
        let guest = Segment { customers: 0, orders: 1, revenue_minor: 700 };

        let figures = customer_figures(&days_of(&rollups, range), guest, range);

        assert_eq!((figures.customers, figures.repeat_customers), (3, 1));
        assert_eq!(figures.new, Segment { customers: 2, orders: 2, revenue_minor: 6000 });
        assert_eq!(figures.returning, Segment { customers: 1, orders: 3, revenue_minor: 4000 });
        assert_eq!(figures.guest, guest);
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
        let rollups = rollups(&[(2, "a", "2026-04-01T03:00:00Z", 100), (1, "a", "2026-04-01T03:00:00Z", 200)], zone);
        let range = DateRange::new(day("2026-03-01"), day("2026-04-30")).expect("range");
        let figures = customer_figures(&days_of(&rollups, range), Segment::default(), range);
        assert_eq!(figures.cohorts[0].month, day("2026-03-01"));
        assert_eq!(figures.new.revenue_minor, 200, "order 1 is the first");
        assert_eq!(figures.returning.revenue_minor, 100);
        assert_eq!(figures.cohorts[0].months[0].customers, 1, "one customer, however many orders");
    }

    #[test]
    fn the_same_id_in_two_stores_is_two_customers_and_a_change_taken_back_leaves_no_row() {
        let zone = Tz::UTC;
        let lines = [SaleLine { product: None, quantity: 1, total_minor: 500, unit_cost_minor: None }];
        let facts = SaleFacts {
            placed_at: "2026-03-02T12:00:00Z".parse().expect("time"),
            status: OrderStatus::Paid,
            lines: &lines,
        };
        let (one, two) = (customer("7"), Customer { store: Uuid::from_u128(2), key: "7".into() });
        let mut days = CustomerDays::new();
        days.add_order(Some(&one), &facts, zone);
        days.add_order(Some(&two), &facts, zone);
        assert_eq!(days.iter().count(), 2);
        let mut theirs = CustomerDays::new();
        theirs.add_order(Some(&two), &facts, zone);
        days.subtract_all(&theirs);
        days.add_order(None, &facts, zone);
        let cancelled = SaleFacts { status: OrderStatus::Cancelled, ..facts };
        days.add_order(Some(&two), &cancelled, zone);
        assert_eq!(
            days.iter().map(|((c, _), s)| (c.clone(), *s)).collect::<Vec<_>>(),
            [(one, Spend { orders: 1, revenue_minor: 500 })]
        );
    }
}
