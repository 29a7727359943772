// CSV exports from a list: asks the API for the file with the list's filters, follows it while the queue function
// writes it, then offers the short-lived download link. The button works again once the link is shown.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import * as format from "./format.js";
import { announce, button } from "./ui.js";

/** How often the export's status is read while it is written, and when the page stops waiting. */
const POLL_MS = 1000;
const GIVE_UP_MS = 10 * 60 * 1000;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An "Export CSV" button for `kind`; `filters()` gives the list's current filters (empty ones left out). */
export function exportButton(kind, filters) {
  const status = h("span", { class: "export-status", role: "status" });
  const trigger = button("Export CSV", {
    onClick: async () => {
      trigger.disabled = true;
      replace(status, "Preparing the CSV…");
      try {
        const given = Object.fromEntries(Object.entries(filters()).filter(([, value]) => value !== "" && value != null));
        let item = await api("/api/v1/exports", { method: "POST", body: { kind, filters: given } });
        const until = Date.now() + GIVE_UP_MS;
        while ((item.status === "queued" || item.status === "running") && Date.now() < until) {
          await pause(POLL_MS);
          item = await api(`/api/v1/exports/${item.id}`);
        }
        if (item.status === "ready") {
          const { url, file_name: name } = item.download;
          replace(status, h("a", { href: url, download: name, class: "export-link" }, `Download ${name}`),
            h("span", { class: "muted" }, ` ${format.count(item.rows)} rows`));
          announce(`${name} is ready to download.`);
        } else {
          replace(status, item.error || "The export is taking longer than usual; it will be listed when it is written.");
        }
      } catch (problem) {
        replace(status, problem.detail || problem.message);
      } finally {
        trigger.disabled = false;
      }
    },
  });
  return h("div", { class: "export" }, trigger, status);
}
