// Stores: each connected store's sync state (progress while a pass runs, the last run, the next one), its run
// history, "Sync now" and "Disconnect"; the ways to connect one (store-connect.js), for admins; and, back from a
// platform's approval page, whether the store it was for is connected now.
import { api, ApiProblem, query } from "../api.js";
import { h, replace } from "../dom.js";
import * as format from "../format.js";
import { announce, badge, button, card, emptyState, pageHeader, problemBanner, progress } from "../ui.js";
import { connectPanel, sameAddress, takePendingInstall } from "./store-connect.js";

const PLATFORM = { shopify: "Shopify", woocommerce: "WooCommerce", demo: "Sample data" };
const STATUS_TONE = { enabled: "good", disabled: "bad", not_connected: "neutral" };
const JOB_TONE = { succeeded: "good", partial: "warn", failed: "bad", running: "accent", interrupted: "bad" };

function jobsTable(jobs) {
  if (!jobs.length) return h("p", { class: "muted" }, "No sync has run yet.");
  return h("div", { class: "table-scroll" }, h("table", { class: "data-table jobs" },
    h("caption", { class: "visually-hidden" }, "Sync history"),
    h("thead", {}, h("tr", {}, ["Started", "Trigger", "Result", "Duration", "Pages", "New", "Updated", "Unchanged", "Failed"].map((t, i) => h("th", { scope: "col", class: i >= 3 ? "num" : "" }, t)))),
    h("tbody", {}, jobs.map((j) => h("tr", { dataset: { jobStatus: j.status } },
      h("td", {}, format.instant(j.started_at)),
      h("td", {}, j.trigger),
      h("td", {}, badge(j.status, JOB_TONE[j.status] ?? "neutral"), j.error ? h("span", { class: "sub" }, j.error) : null),
      h("td", { class: "num" }, format.duration(j.duration_ms)),
      ...[j.pages, j.created, j.updated, j.unchanged, j.failed].map((n) => h("td", { class: "num" }, format.count(n))))))));
}

function storeCard(store, { admin, onChanged }) {
  const detail = h("div", { class: "store-detail" });
  const history = h("div", {});
  const actions = h("div", { class: "row" });
  const message = h("div", { role: "alert" });
  let polling = null;

  const draw = (s) => {
    const sync = s.sync;
    const parts = [];
    if (sync) {
      if (sync.running || sync.progress) {
        const bar = progress("Sync progress");
        const p = sync.progress;
        bar.set(p?.pages_done ?? 0, p?.total_pages ?? 0, p ? `Reading ${p.listing}: page ${p.pages_done}${p.total_pages ? ` of ${p.total_pages}` : ""}` : "Syncing…");
        parts.push(bar);
      }
      parts.push(h("dl", { class: "facts compact" },
        h("div", {}, h("dt", {}, "Last complete sync"), h("dd", {}, format.instant(sync.last_completed_at))),
        h("div", {}, h("dt", {}, "Next sync"), h("dd", {}, sync.running ? "running now" : format.instant(sync.next_sync_at))),
        sync.last_job ? h("div", {}, h("dt", {}, "Last run"), h("dd", { dataset: { lastJob: sync.last_job.status } }, badge(sync.last_job.status, JOB_TONE[sync.last_job.status] ?? "neutral"))) : null,
        sync.consecutive_failures ? h("div", {}, h("dt", {}, "Failures in a row"), h("dd", {}, String(sync.consecutive_failures))) : null));
    }
    if (s.totals) {
      parts.push(h("dl", { class: "facts compact" },
        h("div", {}, h("dt", {}, "Products"), h("dd", { dataset: { totalProducts: s.totals.products } }, format.count(s.totals.products))),
        h("div", {}, h("dt", {}, "Units in stock"), h("dd", {}, format.count(s.totals.inventory))),
        h("div", {}, h("dt", {}, "Orders"), h("dd", {}, format.count(s.totals.orders))),
        h("div", {}, h("dt", {}, "Order total"), h("dd", {}, format.money(s.totals.order_total, s.totals.currency)))));
    }
    if (s.disabled_reason) parts.push(h("p", { class: "muted" }, `Disconnected: ${s.disabled_reason}`));
    replace(detail, ...parts);
  };

  const refresh = async () => {
    const [s, jobs] = await Promise.all([
      api(`/api/v1/stores/${store.id}`),
      store.status === "not_connected" ? Promise.resolve({ items: [] }) : api(`/api/v1/stores/${store.id}/sync-jobs${query({ limit: 10 })}`),
    ]);
    draw(s);
    replace(history, jobsTable(jobs.items));
    return s;
  };

  const poll = (on) => {
    clearInterval(polling);
    polling = on ? setInterval(() => (element.isConnected ? refresh().catch(() => {}) : clearInterval(polling)), 1000) : null;
  };

  if (admin && store.status === "enabled") {
    const sync = button("Sync now", {
      kind: "primary",
      onClick: async () => {
        sync.disabled = true;
        replace(message);
        poll(true);
        try {
          const job = await api(`/api/v1/stores/${store.id}/sync`, { method: "POST" });
          announce(job.status === "succeeded" ? "Sync completed." : job.status === "partial" ? "Sync paused; the timer carries on from where it stopped." : `Sync ${job.status}.`);
        } catch (problem) {
          if (!(problem instanceof ApiProblem)) throw problem;
          replace(message, problemBanner(problem));
        } finally {
          poll(false);
          sync.disabled = false;
          await refresh().catch(() => {});
        }
      },
    });
    const disconnect = button("Disconnect", {
      kind: "danger",
      onClick: async () => {
        if (!window.confirm(`Disconnect ${store.name}? Syncing stops and its credentials are deleted; products and orders stay.`)) return;
        try {
          await api(`/api/v1/stores/${store.id}`, { method: "DELETE" });
          announce(`${store.name} disconnected.`);
          onChanged();
        } catch (problem) {
          if (!(problem instanceof ApiProblem)) throw problem;
          replace(message, problemBanner(problem));
        }
      },
    });
    replace(actions, sync, disconnect);
  }

  const element = h("article", { class: "card store", dataset: { storeId: store.id, platform: store.platform } },
    h("header", { class: "store-head" },
      h("div", {}, h("h2", { class: "card-title" }, store.name), h("p", { class: "muted" }, [PLATFORM[store.platform] ?? store.platform, store.address].filter(Boolean).join(" · "))),
      badge(store.status === "not_connected" ? "sample data" : store.status, STATUS_TONE[store.status] ?? "neutral")),
    detail, actions, message,
    store.status === "not_connected" ? null : h("details", { class: "history", open: true }, h("summary", {}, "Sync history"), history));
  draw(store);
  refresh().then((s) => poll(Boolean(s.sync?.running))).catch((problem) => replace(message, problemBanner(problem)));
  return element;
}

/** The banner for an install this tab left for: connected when its store is in the list, a clear message otherwise. */
function returnBanner(pending, stores, params) {
  const platform = PLATFORM[pending.platform] ?? pending.platform;
  const store = stores.find((s) => s.platform === pending.platform && sameAddress(s.address, pending.address) && s.status === "enabled");
  if (store) {
    return h("div", { class: "banner banner-info", role: "status", dataset: { installResult: "connected" } },
      h("strong", {}, "Store connected"),
      h("p", {}, `${store.name} is connected through ${platform}. Its first sync has started; the figures follow once it completes.`));
  }
  // WooCommerce sends `success=0` when the merchant declines.
  const declined = params.get("success") === "0" || new URLSearchParams(location.search).get("success") === "0";
  return h("div", { class: "banner banner-error", role: "alert", dataset: { installResult: "missing" } },
    h("strong", {}, declined ? "The approval was declined" : "The store is not connected yet"),
    h("p", {}, declined
      ? `${pending.address} did not approve the app. Try again and choose “Approve” on ${platform}.`
      : `We could not find ${pending.address} among your stores. If you approved the app on ${platform}, reload this page in a moment; otherwise start the connection again.`));
}

export async function storesPage(params, app) {
  const admin = app.organization?.role === "admin";
  const list = h("div", { class: "stores" });
  const notice = h("div", { "aria-live": "polite" });
  const pending = takePendingInstall();
  const load = async () => {
    const page = await api("/api/v1/stores");
    if (pending && !notice.hasChildNodes()) replace(notice, returnBanner(pending, page.items, params));
    replace(list, page.items.length
      ? page.items.map((s) => storeCard(s, { admin, onChanged: load }))
      : card(null, emptyState("No store connected yet", admin
        ? "Connect your Shopify shop or WooCommerce site below; the first sync brings in your catalogue and orders."
        : "Ask an admin of your organization to connect the store.")));
  };
  await load();
  if (pending && location.search) history.replaceState(null, "", `${location.pathname}${location.hash}`);
  const connect = admin
    ? card("Connect a store", connectPanel((store) => {
      replace(notice, h("div", { class: "banner banner-info" },
        h("strong", {}, `${store.name} is connected.`),
        h("p", {}, "Press “Sync now” to bring its catalogue in, or wait for the next scheduled sync."),
        store.webhook?.secret ? h("p", {}, "Webhook signing secret (shown once): ", h("code", {}, store.webhook.secret)) : null,
        store.webhook ? h("p", { class: "muted" }, `Deliver webhooks to ${store.webhook.url} (topics: ${store.webhook.topics.join(", ")}).`) : null));
      load();
    }))
    : card("Connect a store", h("p", { class: "muted", dataset: { adminOnly: "" } }, "Only admins of your organization can connect stores. Ask one to connect your Shopify shop or WooCommerce site."));
  return h("div", { class: "page" }, pageHeader("Stores", "Where your catalogue and orders come from."), notice, list, connect);
}
