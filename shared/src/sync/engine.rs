//! The sync engine: a tick claims the due stores for the queue, one message each; a message's run leases its store
//! and syncs it (queued refreshes, then products, then orders), page by page, within its time budget. While a page is written, the next one
//! is already being fetched, so a run waits on the platform or on the database, not on both in turn.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::{sync::mpsc, time::Instant};
use uuid::Uuid;

use super::{Checkpoint, JobProgress, JobStatus, JobTrigger, LeasedStore, ORDER_REFRESH, Pass};
use crate::{
    catalogue::UpsertCounts,
    db::{
        Database, DbError, now_micros,
        sync::{Durability, LeaseAttempt, LeaseWhen, QueuedStore, RunEnd},
    },
    egress::EgressError,
    platforms::{
        Credentials, Page, PlatformError, PlatformOrder, PlatformProduct, Platforms, Resource,
        address::StoreAddress,
        shopify::{self, ShopifyConnector},
        woocommerce::WooConnector,
    },
    secrets::Secrets,
};

/// A new pass asks for records changed since the last watermark minus this, so a record committed on the
/// platform a little after it was stamped is not missed; re-reading a few records is harmless.
const WATERMARK_OVERLAP: TimeDelta = TimeDelta::minutes(2);
/// A listing whose last complete pass ended longer ago than this is read whole again (through a platform's bulk
/// export, of what changed since its watermark) rather than page by page.
const WHOLE_READ_AFTER: TimeDelta = TimeDelta::days(7);
/// How long a store stays claimed once its message is queued: enough for a long queue to reach it. A message that
/// never arrives (a local queue lost with its process) delays the store by this much at most.
const QUEUE_CLAIM: TimeDelta = TimeDelta::minutes(15);
/// The most messages one tick enqueues; the rest wait for the next tick.
const MAX_QUEUED_PER_TICK: u32 = 10_000;
/// Pages a fetcher may read ahead of the writer: enough to keep both busy, few enough to bound memory.
const PAGES_AHEAD: usize = 8;
/// The most records one write groups (pages that queued up while the previous write ran).
const RECORDS_PER_WRITE: usize = 1_000;
/// Queued refreshes handled per run.
const REFRESHES_PER_RUN: u32 = 250;
/// Webhook deliveries are remembered this long (platforms stop retrying within hours).
const DELIVERY_MEMORY: TimeDelta = TimeDelta::days(7);
/// The longest a failing store waits before its next attempt.
const MAX_BACKOFF: TimeDelta = TimeDelta::hours(1);

/// Runs syncs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SyncEngine {
    db: Database,
    secrets: Arc<dyn Secrets>,
    platforms: Platforms,
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The organization.
    pub organization: Uuid,
    /// The store.
    pub store: Uuid,
    /// Its job.
    pub job: Uuid,
    /// How it ended.
    pub status: JobStatus,
    /// Its counts.
    pub progress: JobProgress,
    /// What went wrong.
    pub error: Option<String>,
}

/// What a queued message's run came to.
#[derive(Debug, Clone)]
pub enum QueuedRun {
    /// The store was synced; a [`JobStatus::Partial`] run wants its message queued again to go on.
    Ran(RunReport),
    /// Synced since the message was sent (a duplicate delivery, a manual sync): nothing to do.
    NotDue,
    /// Another worker holds the store; its run covers this message.
    Busy,
    /// Disconnected, disabled or deleted since.
    Unavailable,
}

/// Why "sync now" could not start.
#[derive(Debug, thiserror::Error)]
pub enum SyncNowError {
    /// Another instance is syncing the store.
    #[error("a sync of this store is already running")]
    Busy,
    /// The store is not connected (or not the organization's).
    #[error("the store is not connected")]
    NotConnected,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Why a run stopped early.
#[derive(Debug)]
enum RunError {
    Platform(PlatformError),
    Db(DbError),
    LeaseLost,
}

impl From<PlatformError> for RunError {
    fn from(error: PlatformError) -> Self {
        Self::Platform(error)
    }
}

impl From<DbError> for RunError {
    fn from(error: DbError) -> Self {
        Self::Db(error)
    }
}

/// How a listing pass ended.
enum PassEnd {
    Done,
    OutOfTime,
}

/// Where a pass reads a listing: changed since when, whether whole through a bulk export, and after which page.
#[derive(Clone, Copy)]
struct Listing<'a> {
    since: Option<DateTime<Utc>>,
    bulk: bool,
    after: Option<&'a str>,
}

/// A store's platform connector.
enum Connector {
    Shopify(Box<ShopifyConnector>),
    Woo(Box<WooConnector>),
}

/// One fetched page of either listing.
enum Fetched {
    Products(Page<PlatformProduct>),
    Orders(Page<PlatformOrder>),
}

impl Fetched {
    /// Records on a fetched page (0 for a failure).
    fn len_of(page: &Result<Self, PlatformError>) -> usize {
        page.as_ref().map_or(0, Self::len)
    }

    /// Records on the page.
    fn len(&self) -> usize {
        match self {
            Self::Products(page) => page.items.len(),
            Self::Orders(page) => page.items.len(),
        }
    }

    /// Consecutive pages of one listing as one.
    fn merge(pages: Vec<Self>) -> Self {
        let mut pages = pages.into_iter();
        let Some(mut merged) = pages.next() else {
            return Self::Products(Page { items: Vec::new(), next: None, total_pages: None, watermark: None });
        };
        for page in pages {
            match (&mut merged, page) {
                (Self::Products(into), Self::Products(page)) => {
                    into.items.extend(page.items);
                    into.next = page.next;
                    into.watermark = page.watermark;
                }
                (Self::Orders(into), Self::Orders(page)) => {
                    into.items.extend(page.items);
                    into.next = page.next;
                    into.watermark = page.watermark;
                }
                // One pass reads one listing.
                _ => {}
            }
        }
        merged
    }

    fn next(&self) -> Option<String> {
        match self {
            Self::Products(page) => page.next.clone(),
            Self::Orders(page) => page.next.clone(),
        }
    }

    fn total_pages(&self) -> Option<u64> {
        match self {
            Self::Products(page) => page.total_pages,
            Self::Orders(page) => page.total_pages,
        }
    }

    fn watermark(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Products(page) => page.watermark,
            Self::Orders(page) => page.watermark,
        }
    }

    fn newest(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Products(page) => page.items.iter().map(|p| p.updated_at).max(),
            Self::Orders(page) => page.items.iter().map(|o| o.updated_at).max(),
        }
    }
}

impl Connector {
    async fn fetch(
        &mut self,
        resource: Resource,
        at: Listing<'_>,
        deadline: Instant,
    ) -> Result<Fetched, PlatformError> {
        let Listing { since, bulk, after } = at;
        Ok(match (self, resource) {
            (Self::Shopify(c), Resource::Products) => {
                Fetched::Products(c.products_page(since, bulk, after, deadline).await?)
            }
            (Self::Shopify(c), Resource::Orders) => Fetched::Orders(c.orders_page(since, bulk, after, deadline).await?),
            // WooCommerce has no bulk export: every pass pages.
            (Self::Woo(c), Resource::Products) => Fetched::Products(c.products_page(since, after, deadline).await?),
            (Self::Woo(c), Resource::Orders) => Fetched::Orders(c.orders_page(since, after, deadline).await?),
        })
    }

    async fn refresh(&mut self, ids: &[String], deadline: Instant) -> Result<Vec<PlatformProduct>, PlatformError> {
        match self {
            Self::Shopify(c) => c.refresh_products(ids, deadline).await,
            Self::Woo(c) => c.refresh_products(ids, deadline).await,
        }
    }

    async fn refresh_orders(&mut self, ids: &[String], deadline: Instant) -> Result<Vec<PlatformOrder>, PlatformError> {
        match self {
            Self::Woo(c) => c.refresh_orders(ids, deadline).await,
            // Shopify's order webhooks carry what the sync reads (`current_quantity` included): none is queued.
            Self::Shopify(_) => Err(PlatformError::Rejected("Shopify orders are not queued for a refresh".into())),
        }
    }

    fn log_stats(&self) {
        if let Self::Shopify(c) = self
            && c.stats.throttled + u32::from(!c.stats.waited.is_zero()) > 0
        {
            tracing::info!(throttled = c.stats.throttled, waited = ?c.stats.waited, "Shopify rate limiting");
        }
    }
}

/// Everything a run needs about its store.
struct RunContext<'a> {
    lease: &'a LeasedStore,
    job: Uuid,
}

impl RunContext<'_> {
    fn organization(&self) -> Uuid {
        self.lease.connection.organization_id
    }

    fn store(&self) -> Uuid {
        self.lease.connection.store_id
    }
}

fn add_counts(progress: &mut JobProgress, counts: &UpsertCounts) {
    progress.created += counts.created;
    progress.updated += counts.updated;
    progress.unchanged += counts.unchanged;
}

/// A failing store's wait before its next attempt: a minute, doubling per failure, at most an hour.
fn failure_backoff(failures: i32) -> TimeDelta {
    let doublings = failures.clamp(1, 7) - 1;
    (TimeDelta::minutes(1) * (1 << doublings)).min(MAX_BACKOFF)
}

impl SyncEngine {
    /// An engine over these adapters.
    pub fn new(db: Database, secrets: Arc<dyn Secrets>, platforms: Platforms) -> Self {
        Self { db, secrets, platforms }
    }

    /// The database it writes to.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The secrets port it reads credentials from.
    pub fn secrets(&self) -> &dyn Secrets {
        self.secrets.as_ref()
    }

    /// The platform clients and settings.
    pub fn platforms(&self) -> &Platforms {
        &self.platforms
    }

    fn lease_until(&self) -> DateTime<Utc> {
        now_micros() + TimeDelta::from_std(self.platforms.sync.lease).unwrap_or(TimeDelta::minutes(2))
    }

    /// One timer tick: forgets old webhook deliveries and claims the due stores, one queue message each.
    #[tracing::instrument(name = "running a sync tick", skip(self))]
    pub async fn tick(&self) -> Result<Vec<QueuedStore>, DbError> {
        let pruned = self.db.prune_deliveries(now_micros() - DELIVERY_MEMORY).await?;
        if pruned > 0 {
            tracing::debug!(pruned, "forgot old webhook deliveries");
        }
        let now = now_micros();
        self.db.claim_due_stores(now, now + QUEUE_CLAIM, MAX_QUEUED_PER_TICK).await
    }

    /// Syncs the store a queue message names, within `budget`, if it is still due and free. Only a database
    /// failure is an error (the message is then delivered again).
    pub async fn sync_queued(&self, queued: QueuedStore, budget: Duration) -> Result<QueuedRun, DbError> {
        let deadline = Instant::now() + budget;
        let lease = self
            .db
            .lease_store(queued.organization, queued.store, Uuid::new_v4(), LeaseWhen::Due, self.lease_until())
            .await?;
        Ok(match lease {
            LeaseAttempt::Leased(lease) => QueuedRun::Ran(self.run(*lease, JobTrigger::Timer, deadline).await?),
            LeaseAttempt::NotDue => QueuedRun::NotDue,
            LeaseAttempt::Busy => QueuedRun::Busy,
            LeaseAttempt::Unavailable => QueuedRun::Unavailable,
        })
    }

    /// Syncs one store now (`POST …/sync`), within `budget`.
    pub async fn sync_now(&self, organization: Uuid, store: Uuid, budget: Duration) -> Result<RunReport, SyncNowError> {
        let deadline = Instant::now() + budget;
        match self.db.lease_store(organization, store, Uuid::new_v4(), LeaseWhen::Now, self.lease_until()).await? {
            LeaseAttempt::Leased(lease) => Ok(self.run(*lease, JobTrigger::Manual, deadline).await?),
            LeaseAttempt::Busy => Err(SyncNowError::Busy),
            LeaseAttempt::Unavailable | LeaseAttempt::NotDue => Err(SyncNowError::NotConnected),
        }
    }

    /// One run of one leased store, from its job's start to its end.
    #[tracing::instrument(
        name = "syncing a store",
        skip_all,
        fields(tenant = %lease.connection.organization_id, store = %lease.connection.store_id)
    )]
    async fn run(&self, lease: LeasedStore, trigger: JobTrigger, deadline: Instant) -> Result<RunReport, DbError> {
        let job = self.db.begin_sync_job(&lease, trigger).await?;
        let mut checkpoint = Checkpoint::parse(&lease.connection.checkpoint);
        let mut progress = JobProgress::default();
        let outcome = self.work(&lease, job, &mut checkpoint, &mut progress, deadline).await;
        let now = now_micros();
        let failures = lease.connection.consecutive_failures;
        // Any data from the platform proves the credentials; a refusal disables the store instead of retrying a
        // token that will never work (and that may never have been the organization's).
        let credentials_verified = progress.pages > 0 || matches!(outcome, Ok(PassEnd::Done));
        let disabled_reason = match &outcome {
            Err(RunError::Platform(error @ PlatformError::Unauthorized(_))) => {
                Some(format!("{error}; reconnect the store with valid credentials"))
            }
            _ => None,
        };
        let (status, error, next_sync_at, consecutive_failures) = match outcome {
            Ok(PassEnd::Done) => {
                let interval = TimeDelta::from_std(self.platforms.sync.min_interval).unwrap_or_default();
                (JobStatus::Succeeded, None, now + interval, 0)
            }
            Ok(PassEnd::OutOfTime) | Err(RunError::Platform(PlatformError::OutOfTime)) => {
                (JobStatus::Partial, None, now, 0)
            }
            Err(RunError::LeaseLost) => {
                (JobStatus::Interrupted, Some("another instance took the store over".to_owned()), now, failures)
            }
            Err(RunError::Platform(error)) => {
                if let PlatformError::InvalidRecords { count, .. } = &error {
                    progress.failed += count;
                }
                tracing::warn!(%error, "store sync failed");
                (JobStatus::Failed, Some(error.to_string()), now + failure_backoff(failures + 1), failures + 1)
            }
            Err(RunError::Db(error)) => {
                tracing::error!(%error, "store sync failed on the database");
                let detail = "a database error interrupted the sync; it will be retried".to_owned();
                (JobStatus::Failed, Some(detail), now + failure_backoff(failures + 1), failures + 1)
            }
        };
        let end = RunEnd {
            status,
            error: error.clone(),
            progress,
            next_sync_at,
            consecutive_failures,
            completed: status == JobStatus::Succeeded,
            checkpoint: checkpoint.to_json(),
            credentials_verified,
            disabled_reason: disabled_reason.clone(),
            // A scheduled run that ran out of time goes on from its message, queued again by the trigger.
            queued_until: (trigger == JobTrigger::Timer && status == JobStatus::Partial).then(|| now + QUEUE_CLAIM),
        };
        self.db.finish_sync(&lease, job, &end).await?;
        if let Some(reason) = &disabled_reason {
            tracing::warn!(target: "audit", event = "store_disabled", reason, "the platform refused the credentials");
        }
        tracing::info!(
            status = status.as_str(),
            pages = progress.pages,
            created = progress.created,
            updated = progress.updated,
            unchanged = progress.unchanged,
            failed = progress.failed,
            "store sync run ended"
        );
        Ok(RunReport {
            organization: lease.connection.organization_id,
            store: lease.connection.store_id,
            job,
            status,
            progress,
            error,
        })
    }

    /// The work of a run: connect, refresh what webhooks queued, then read products and orders.
    async fn work(
        &self,
        lease: &LeasedStore,
        job: Uuid,
        checkpoint: &mut Checkpoint,
        progress: &mut JobProgress,
        deadline: Instant,
    ) -> Result<PassEnd, RunError> {
        let connection = &lease.connection;
        let digits =
            self.db.organization_currency(connection.organization_id).await?.unwrap_or_default().minor_digits();
        let context = RunContext { lease, job };
        let mut connector = self.connect(lease, digits, deadline).await?;
        let result = async {
            self.refresh(&context, &mut connector, progress, deadline).await?;
            for resource in [Resource::Products, Resource::Orders] {
                if let PassEnd::OutOfTime =
                    self.pass(&context, &mut connector, resource, checkpoint, progress, deadline).await?
                {
                    return Ok(PassEnd::OutOfTime);
                }
            }
            Ok(PassEnd::Done)
        }
        .await;
        connector.log_stats();
        result
    }

    /// Reads the store's credentials (refreshing an expiring Shopify token) and checks its address again.
    async fn connect(&self, lease: &LeasedStore, digits: u32, deadline: Instant) -> Result<Connector, RunError> {
        let connection = &lease.connection;
        let credentials_problem = |detail: String| RunError::Platform(PlatformError::Credentials(detail));
        let name = &connection.credential_ref;
        let secret = self
            .secrets
            .get(name)
            .await
            .map_err(|e| credentials_problem(e.to_string()))?
            .ok_or_else(|| credentials_problem("no credentials are stored for this store".into()))?;
        let credentials = Credentials::from_secret(&secret)?;
        Ok(match &connection.address {
            StoreAddress::Shop(shop) => {
                let credentials = shopify::fresh_credentials(
                    &self.platforms,
                    shop,
                    credentials,
                    self.secrets.as_ref(),
                    name,
                    deadline,
                )
                .await?;
                Connector::Shopify(Box::new(ShopifyConnector::new(&self.platforms, shop, &credentials, digits)?))
            }
            StoreAddress::Site(site) => {
                // Checked again on every run: where a name points can change after the store was connected.
                self.platforms.sync.store_egress().check_url(site.url()).await.map_err(|error| {
                    RunError::Platform(match error {
                        EgressError::Refused(refused) => refused.into(),
                        EgressError::Unresolvable(host) => {
                            PlatformError::Unavailable(format!("{host} does not resolve"))
                        }
                    })
                })?;
                Connector::Woo(Box::new(WooConnector::new(&self.platforms, site, &credentials, digits)?))
            }
        })
    }

    /// Refetches what webhooks could not apply on their own.
    async fn refresh(
        &self,
        context: &RunContext<'_>,
        connector: &mut Connector,
        progress: &mut JobProgress,
        deadline: Instant,
    ) -> Result<(), RunError> {
        let queued = self.db.queued_refreshes(context.organization(), context.store(), REFRESHES_PER_RUN).await?;
        if queued.is_empty() {
            return Ok(());
        }
        let ids_of = |orders: bool| -> Vec<String> {
            queued.iter().filter(|(kind, _)| (kind == ORDER_REFRESH) == orders).map(|(_, id)| id.clone()).collect()
        };
        let (orders, products) = (ids_of(true), ids_of(false));
        if !products.is_empty() {
            let products = connector.refresh(&products, deadline).await?;
            add_counts(progress, &self.write_products(context, products).await?);
        }
        if !orders.is_empty() {
            let orders = connector.refresh_orders(&orders, deadline).await?;
            add_counts(progress, &self.write_orders(context, orders).await?);
        }
        self.db.dequeue_refreshes(context.organization(), context.store(), &queued).await?;
        Ok(())
    }

    /// Reads one listing from its checkpoint to the end (or the deadline). A fetcher reads pages ahead (at most
    /// [`PAGES_AHEAD`]) while the writer stores them; each write takes every page already fetched (up to
    /// [`RECORDS_PER_WRITE`] records, in order) and then checkpoints the cursor after the last of them, with the
    /// lease renewed. A fast database so writes and checkpoints page by page; a slower one groups the pages that
    /// queued up while it worked, which is what keeps throughput up when each commit costs the same.
    async fn pass(
        &self,
        context: &RunContext<'_>,
        connector: &mut Connector,
        resource: Resource,
        checkpoint: &mut Checkpoint,
        progress: &mut JobProgress,
        deadline: Instant,
    ) -> Result<PassEnd, RunError> {
        let listing = checkpoint.listing_mut(resource);
        if listing.pass.is_none() {
            let stale = listing.read_at.is_some_and(|read_at| Utc::now() - read_at > WHOLE_READ_AFTER);
            listing.pass = Some(Pass {
                since: listing.watermark.map(|w| w - WATERMARK_OVERLAP),
                bulk: listing.watermark.is_none() || stale,
                ..Pass::default()
            });
        }
        let (since, bulk, first_after) = {
            let pass = listing.pass.as_ref().expect("just set");
            (pass.since, pass.bulk, pass.after.clone())
        };
        let (pages, mut queue) = mpsc::channel::<Result<Fetched, PlatformError>>(PAGES_AHEAD);
        let fetcher = async move {
            let mut after = first_after;
            loop {
                let page = connector.fetch(resource, Listing { since, bulk, after: after.as_deref() }, deadline).await;
                let next = page.as_ref().ok().and_then(Fetched::next);
                let last = next.is_none();
                if pages.send(page).await.is_err() || last {
                    break;
                }
                after = next;
            }
            // The writer decides when the pass ends; this side only stops fetching.
            std::future::pending::<()>().await;
        };
        let writer = async move {
            loop {
                let Some(first) = queue.recv().await else { return Ok(PassEnd::OutOfTime) };
                let mut batch = vec![first];
                let mut records = batch.iter().map(Fetched::len_of).sum::<usize>();
                while records < RECORDS_PER_WRITE
                    && batch.last().is_some_and(|page| page.as_ref().is_ok_and(|p| p.next().is_some()))
                {
                    match queue.try_recv() {
                        Ok(page) => {
                            records += Fetched::len_of(&page);
                            batch.push(page);
                        }
                        Err(_) => break,
                    }
                }
                let failure = match batch.last() {
                    Some(Err(_)) => batch.pop().and_then(Result::err),
                    _ => None,
                };
                let fetched: Vec<Fetched> = batch.into_iter().filter_map(Result::ok).collect();
                if !fetched.is_empty() {
                    let ended = self.store_pages(context, resource, fetched, checkpoint, progress).await?;
                    if ended {
                        return Ok(PassEnd::Done);
                    }
                }
                match failure {
                    None => {}
                    Some(PlatformError::OutOfTime) => return Ok(PassEnd::OutOfTime),
                    Some(error) => return Err(RunError::Platform(error)),
                }
            }
        };
        tokio::select! {
            result = writer => result,
            () = fetcher => unreachable!("the fetcher never finishes on its own"),
        }
    }

    /// Writes consecutive pages of one listing and checkpoints the cursor after the last (products: in the same
    /// transaction; orders: right after theirs commits); `true` when that was the listing's last page. The run's
    /// checkpoint and counts change only once the write succeeded.
    async fn store_pages(
        &self,
        context: &RunContext<'_>,
        resource: Resource,
        pages: Vec<Fetched>,
        checkpoint: &mut Checkpoint,
        progress: &mut JobProgress,
    ) -> Result<bool, RunError> {
        let count = pages.len() as u64;
        tracing::debug!(pages = count, records = pages.iter().map(Fetched::len).sum::<usize>(), "writing pages");
        let next = pages.last().and_then(Fetched::next);
        let total_pages = pages.iter().rev().find_map(Fetched::total_pages);
        let newest = pages.iter().filter_map(Fetched::newest).max();
        let watermark = pages.last().and_then(Fetched::watermark);

        let mut after = checkpoint.clone();
        let listing = after.listing_mut(resource);
        let pass = listing.pass.get_or_insert_with(Pass::default);
        pass.after.clone_from(&next);
        pass.pages += count;
        pass.total_pages = total_pages.or(pass.total_pages);
        pass.newest = pass.newest.max(newest);
        if next.is_none() {
            let newest = watermark.or(pass.newest);
            listing.watermark = listing.watermark.max(newest);
            listing.read_at = Some(now_micros());
            listing.pass = None;
        }
        let mut counted = *progress;
        counted.pages += count;
        let written = match Fetched::merge(pages) {
            Fetched::Products(page) => self
                .db
                .store_products_checkpointed(
                    context.lease,
                    context.job,
                    page.items,
                    &after.to_json(),
                    &counted,
                    self.lease_until(),
                )
                .await?
                .ok_or(RunError::LeaseLost)?,
            Fetched::Orders(page) => {
                let written = self.write_orders(context, page.items).await?;
                let mut total = counted;
                add_counts(&mut total, &written);
                let held = self
                    .db
                    .save_checkpoint(context.lease, context.job, &after.to_json(), &total, self.lease_until())
                    .await?;
                if !held {
                    return Err(RunError::LeaseLost);
                }
                written
            }
        };
        add_counts(&mut counted, &written);
        *progress = counted;
        *checkpoint = after;
        Ok(next.is_none())
    }

    /// Stores products whose version is not older than the stored one.
    async fn write_products(
        &self,
        context: &RunContext<'_>,
        products: Vec<PlatformProduct>,
    ) -> Result<UpsertCounts, RunError> {
        let (organization, store) = (context.organization(), context.store());
        Ok(self.db.store_products(organization, store, products, Durability::Deferred).await?)
    }

    /// Stores orders whose version is not older than the stored one, their lines mapped to our products.
    async fn write_orders(
        &self,
        context: &RunContext<'_>,
        orders: Vec<PlatformOrder>,
    ) -> Result<UpsertCounts, RunError> {
        let (organization, store) = (context.organization(), context.store());
        Ok(self.db.store_orders(organization, store, orders, Durability::Deferred).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_stores_back_off_to_an_hour() {
        assert_eq!(failure_backoff(1), TimeDelta::minutes(1));
        assert_eq!(failure_backoff(2), TimeDelta::minutes(2));
        assert_eq!(failure_backoff(4), TimeDelta::minutes(8));
        assert_eq!(failure_backoff(50), TimeDelta::hours(1));
    }
}
