//! RFC 4180 CSV rows (the `csv` crate: CRLF line ends, fields quoted when they hold a comma, quote or line break,
//! quotes doubled), written into a buffer the caller drains after each page.
//!
//! Text that comes from outside — titles, vendors, categories, platform ids — is neutralised against CSV injection
//! (OWASP): a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be read by a spreadsheet as a
//! formula, so it gets a leading `'`. Values this app formats itself (decimals, dates, ids) are written as they are,
//! so a negative profit stays a number.

/// One cell.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// Text from outside: neutralised when it would start a formula.
    Text(&'a str),
    /// A value formatted here (a number, a date, an id): written as is.
    Value(&'a str),
}

/// Rows of CSV, buffered until taken.
pub struct Sheet {
    writer: csv::Writer<Vec<u8>>,
    rows: u64,
}

impl std::fmt::Debug for Sheet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sheet").field("rows", &self.rows).finish_non_exhaustive()
    }
}

impl Sheet {
    /// A sheet whose first row is `header`.
    pub fn new(header: &[&str]) -> Self {
        let mut sheet = Self { writer: writer(), rows: 0 };
        sheet.write(header.iter().map(|name| Cell::Value(name)));
        sheet.rows = 0;
        sheet
    }

    /// Appends a data row.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        self.write(cells);
        self.rows += 1;
    }

    fn write<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        let record = cells.into_iter().map(|cell| match cell {
            Cell::Text(text) if starts_a_formula(text) => std::borrow::Cow::Owned(format!("'{text}")),
            Cell::Text(text) | Cell::Value(text) => std::borrow::Cow::Borrowed(text),
        });
        // Writing into a `Vec` cannot fail: the only errors are I/O errors of the sink.
        #[allow(clippy::expect_used)]
        self.writer.write_record(record.map(|cell| cell.into_owned())).expect("writing CSV into memory");
    }

    /// Data rows so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The bytes written since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        // Flushing into a `Vec` cannot fail, so neither can taking it.
        std::mem::replace(&mut self.writer, writer()).into_inner().unwrap_or_default()
    }
}

/// A writer of RFC 4180 records into memory.
fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::with_capacity(64 * 1024))
}

/// Whether a spreadsheet would read a cell starting so as a formula (OWASP's list).
fn starts_a_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(rows: &[&[Cell<'_>]]) -> String {
        let mut sheet = Sheet::new(&["a", "b"]);
        for row in rows {
            sheet.row(row.iter().copied());
        }
        String::from_utf8(sheet.take()).expect("UTF-8")
    }

    #[test]
    fn fields_are_quoted_as_rfc_4180_says_with_crlf_line_ends() {
        let text = csv(&[
            &[Cell::Text("plain"), Cell::Text("with, comma")],
            &[Cell::Text("say \"hi\""), Cell::Text("two\nlines")],
        ]);
        assert_eq!(text, "a,b\r\nplain,\"with, comma\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
    }

    #[test]
    fn text_that_would_start_a_formula_is_neutralised_and_values_are_not() {
        let text = csv(&[
            &[Cell::Text("=HYPERLINK(\"http://x\")"), Cell::Text("+1")],
            &[Cell::Text("-2"), Cell::Text("@SUM(A1)")],
            &[Cell::Text("\tx"), Cell::Text("\rx")],
            &[Cell::Value("-12.50"), Cell::Text("a=b")],
        ]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"http://x\"\")\",'+1");
        assert_eq!(lines[2], "'-2,'@SUM(A1)");
        assert_eq!(lines[3], "'\tx,\"'\rx\"");
        assert_eq!(lines[4], "-12.50,a=b");
    }

    #[test]
    fn taking_drains_the_buffer_and_rows_count_data_only() {
        let mut sheet = Sheet::new(&["a"]);
        assert_eq!(sheet.take(), b"a\r\n");
        sheet.row([Cell::Value("1")]);
        sheet.row([Cell::Text("é")]);
        assert_eq!((sheet.take(), sheet.rows()), ("1\r\né\r\n".as_bytes().to_vec(), 2));
        assert!(sheet.take().is_empty());
    }
}
