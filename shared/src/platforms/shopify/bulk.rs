//! Bulk operations: how a first import (and a resync after a long gap) reads a whole shop without paying the
//! calculated cost of every page. `bulkOperationRunQuery` (10 points) starts a query over the whole connection;
//! Shopify runs it on its side; `bulkOperation(id:)` (1 point) says when it is done; the result is a JSONL file
//! (one object per line, each child after its parent with `__parentId`) read as a stream, so memory holds one
//! record at a time whatever the shop's size.
//!
//! A listing read this way pages through the result with a cursor `bulk:{operation id}:{records handed out}`: the
//! first page is empty and only records the operation's id, so a run cut off while Shopify works picks the same
//! operation up again instead of starting another; a run cut off while reading downloads the result again and skips
//! what was already written. A failed, cancelled or expired operation is started again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{PlatformError, excerpt, updated_since};

/// Records (parents with their children) a page of a bulk result holds at most.
pub(super) const BULK_PAGE: usize = 250;
/// The wait before asking about a running operation again: at first, and at most (it doubles in between).
const FIRST_POLL: Duration = Duration::from_millis(200);
const LONGEST_POLL: Duration = Duration::from_secs(5);

pub(super) const RUN_QUERY: &str = "mutation BulkOperationRunQuery($query: String!) { \
     bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message } } }";

pub(super) const OPERATION_QUERY: &str = "query BulkOperation($id: ID!) { bulkOperation(id: $id) { \
     id status errorCode objectCount url partialDataUrl createdAt } }";

/// What a bulk operation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BulkKind {
    /// Products with their variants and inventory items.
    Products,
    /// Orders with their line items.
    Orders,
}

impl BulkKind {
    /// The bulk query: the same fields as the paged queries, whole connections in `edges { node }` form, changed
    /// after `since` when given.
    pub(super) fn query(self, since: Option<DateTime<Utc>>) -> String {
        let filter = since.map(|since| format!("(query: \"{}\")", updated_since(since))).unwrap_or_default();
        match self {
            Self::Products => format!(
                "{{ products{filter} {{ edges {{ node {{ id title description vendor productType status updatedAt \
                 variants {{ edges {{ node {{ id sku title price inventoryQuantity \
                 inventoryItem {{ unitCost {{ amount currencyCode }} }} }} }} }} }} }} }} }}"
            ),
            Self::Orders => format!(
                "{{ orders{filter} {{ edges {{ node {{ id createdAt processedAt updatedAt cancelledAt \
                 displayFinancialStatus displayFulfillmentStatus totalPriceSet {{ shopMoney {{ amount currencyCode }} }} \
                 customer {{ id }} lineItems {{ edges {{ node {{ id quantity currentQuantity product {{ id }} \
                 variant {{ id }} discountedTotalSet {{ shopMoney {{ amount currencyCode }} }} }} }} }} }} }} }} }}"
            ),
        }
    }

    /// The connection the children of a record fill, as the paged queries name it.
    fn children(self) -> &'static str {
        match self {
            Self::Products => "variants",
            Self::Orders => "lineItems",
        }
    }
}

/// Where a listing read through a bulk operation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BulkCursor {
    /// The operation's id.
    pub(super) operation: String,
    /// Records of its result handed out so far.
    pub(super) read: u64,
}

impl BulkCursor {
    const PREFIX: &str = "bulk:";

    /// A cursor this module wrote; `None` for any other (a paged listing's).
    pub(super) fn parse(text: &str) -> Option<Self> {
        let (operation, read) = text.strip_prefix(Self::PREFIX)?.rsplit_once(':')?;
        Some(Self { operation: operation.to_owned(), read: read.parse().ok()? })
    }

    pub(super) fn encode(&self) -> String {
        format!("{}{}:{}", Self::PREFIX, self.operation, self.read)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RunData {
    bulk_operation_run_query: RunPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunPayload {
    bulk_operation: Option<OperationId>,
    #[serde(default)]
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
struct OperationId {
    id: String,
}

#[derive(Deserialize)]
struct UserError {
    message: String,
}

impl RunData {
    /// The started operation's id, or the reason Shopify gave for not starting it.
    pub(super) fn started(self) -> Result<String, PlatformError> {
        let payload = self.bulk_operation_run_query;
        match payload.bulk_operation {
            Some(operation) if payload.user_errors.is_empty() => Ok(operation.id),
            _ => {
                let reasons: Vec<String> = payload.user_errors.into_iter().map(|e| e.message).collect();
                Err(PlatformError::Rejected(format!("the bulk operation did not start: {}", reasons.join("; "))))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OperationData {
    pub(super) bulk_operation: Option<OperationNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OperationNode {
    status: String,
    error_code: Option<String>,
    url: Option<String>,
    created_at: DateTime<Utc>,
}

/// What became of an operation that no longer runs.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Finished {
    /// Done: its result (`None`: nothing matched) and when it started.
    Completed { url: Option<String>, created_at: DateTime<Utc> },
    /// Failed, cancelled, expired or unknown: start another.
    Lost(String),
}

impl OperationData {
    /// `None` while the operation is queued or running.
    pub(super) fn finished(self) -> Option<Finished> {
        let Some(node) = self.bulk_operation else { return Some(Finished::Lost("the operation is unknown".into())) };
        Some(match node.status.as_str() {
            "CREATED" | "RUNNING" => return None,
            "COMPLETED" => Finished::Completed { url: node.url, created_at: node.created_at },
            status => Finished::Lost(match node.error_code {
                Some(code) => format!("{status} ({code})"),
                None => status.to_owned(),
            }),
        })
    }
}

/// The waits between questions about a running operation: 200 ms, doubling, at most 5 s.
pub(super) fn poll_waits() -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(FIRST_POLL), |wait| Some((*wait * 2).min(LONGEST_POLL)))
}

/// A result being read: the response, what of it is buffered, and the record whose children are being read.
#[derive(Debug)]
pub(super) struct BulkDownload {
    /// The operation and the records handed out so far.
    pub(super) cursor: BulkCursor,
    /// When the operation started: the listing's watermark once the result is read.
    pub(super) created_at: DateTime<Utc>,
    kind: BulkKind,
    response: reqwest::Response,
    buffer: Vec<u8>,
    ended: bool,
    parent: Option<(Value, Vec<Value>)>,
}

impl BulkDownload {
    /// Opens the result at `url` for the cursor's operation (`read` records are then skipped).
    pub(super) async fn open(
        client: &reqwest::Client,
        url: reqwest::Url,
        kind: BulkKind,
        cursor: BulkCursor,
        created_at: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Self, PlatformError> {
        let response = tokio::time::timeout_at(deadline, client.get(url).send())
            .await
            .map_err(|_| PlatformError::OutOfTime)?
            .map_err(|e| PlatformError::Unavailable(format!("the bulk result cannot be fetched: {e}")))?;
        if !response.status().is_success() {
            return Err(PlatformError::Unavailable(format!("the bulk result answered HTTP {}", response.status())));
        }
        let skip = cursor.read;
        let mut download = Self { cursor, created_at, kind, response, buffer: Vec::new(), ended: false, parent: None };
        for _ in 0..skip {
            if download.next_record(deadline).await?.is_none() {
                return Err(PlatformError::Malformed(format!("the bulk result holds fewer than {skip} records")));
            }
        }
        Ok(download)
    }

    /// The next record with its children in the shape the paged queries answer (`None` at the end).
    pub(super) async fn next_record(&mut self, deadline: Instant) -> Result<Option<Value>, PlatformError> {
        loop {
            let Some(line) = self.next_line(deadline).await? else {
                return Ok(self.parent.take().map(|(parent, children)| self.assemble(parent, children)));
            };
            let mut object: Value = serde_json::from_slice(&line)
                .map_err(|e| PlatformError::Malformed(format!("bulk result line: {e} ({})", excerpt(&line))))?;
            let Some(parent_id) = object.as_object_mut().and_then(|o| o.remove("__parentId")) else {
                let finished = self.parent.replace((object, Vec::new()));
                if let Some((parent, children)) = finished {
                    return Ok(Some(self.assemble(parent, children)));
                }
                continue;
            };
            match &mut self.parent {
                Some((parent, children)) if parent.get("id") == Some(&parent_id) => children.push(object),
                _ => {
                    return Err(PlatformError::Malformed(format!(
                        "bulk result: a child of {parent_id} does not follow it"
                    )));
                }
            }
        }
    }

    /// The next non-empty line of the result.
    async fn next_line(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, PlatformError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).take(end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.ended {
                let rest = std::mem::take(&mut self.buffer);
                return Ok((!rest.iter().all(u8::is_ascii_whitespace)).then_some(rest));
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Err(PlatformError::OutOfTime),
                Ok(Err(e)) => return Err(PlatformError::Unavailable(format!("reading the bulk result: {e}"))),
                Ok(Ok(Some(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Ok(None)) => self.ended = true,
            }
        }
    }

    fn assemble(&self, mut parent: Value, children: Vec<Value>) -> Value {
        parent[self.kind.children()] =
            json!({ "pageInfo": { "hasNextPage": false, "endCursor": null }, "nodes": children });
        parent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_paged_cursors_are_not_bulk_ones() {
        let cursor = BulkCursor { operation: "gid://shopify/BulkOperation/42".into(), read: 750 };
        assert_eq!(cursor.encode(), "bulk:gid://shopify/BulkOperation/42:750");
        assert_eq!(BulkCursor::parse(&cursor.encode()), Some(cursor));
        assert_eq!(BulkCursor::parse("eyJsYXN0X2lkIjo0Mn0="), None);
        assert_eq!(BulkCursor::parse("bulk:gid://shopify/BulkOperation/42:many"), None);
    }

    #[test]
    fn bulk_queries_list_whole_connections_and_filter_with_the_quoted_date() {
        let since = DateTime::parse_from_rfc3339("2026-11-01T08:30:15Z").expect("date").with_timezone(&Utc);
        let query = BulkKind::Orders.query(Some(since));
        assert!(query.starts_with("{ orders(query: \"updated_at:>'2026-11-01T08:30:15Z'\") { edges { node {"));
        assert!(!BulkKind::Products.query(None).contains("first"), "bulk queries take no page sizes");
    }

    #[test]
    fn statuses_map_to_what_the_importer_does_next() {
        let node = |status: &str, code: Option<&str>| OperationData {
            bulk_operation: Some(OperationNode {
                status: status.into(),
                error_code: code.map(str::to_owned),
                url: None,
                created_at: DateTime::UNIX_EPOCH,
            }),
        };
        assert_eq!(node("RUNNING", None).finished(), None);
        assert_eq!(node("CREATED", None).finished(), None);
        assert_eq!(
            node("COMPLETED", None).finished(),
            Some(Finished::Completed { url: None, created_at: DateTime::UNIX_EPOCH })
        );
        assert_eq!(
            node("FAILED", Some("INTERNAL_SERVER_ERROR")).finished(),
            Some(Finished::Lost("FAILED (INTERNAL_SERVER_ERROR)".into()))
        );
        assert_eq!(node("EXPIRED", None).finished(), Some(Finished::Lost("EXPIRED".into())));
        assert_eq!(
            OperationData { bulk_operation: None }.finished(),
            Some(Finished::Lost("the operation is unknown".into()))
        );
        let waits: Vec<u128> = poll_waits().take(7).map(|w| w.as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 5000, 5000]);
    }
}
