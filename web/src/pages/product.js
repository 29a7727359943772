// One product: its figures and the merchant-owned fields the advisor uses (editable), its revenue over the last
// 90 days against the 90 before, the advice about it and its videos.
import { api, ApiProblem, query } from "../api.js";
import { seriesChart } from "../chart.js";
import { h, replace } from "../dom.js";
import * as format from "../format.js";
import { adviceItem } from "./advice.js";
import { videoCard } from "./videos.js";
import { announce, badge, button, card, clearProblem, emptyState, field, loading, pageHeader, problemBanner, showProblem } from "../ui.js";

function settingsForm(product, onSaved) {
  const unitCost = field({ label: `Unit cost (${product.currency})`, name: "unit_cost", inputmode: "decimal", value: product.unit_cost ?? "", hint: "What one unit costs you; gives margins and the value of stock." });
  const leadTime = field({ label: "Supplier lead time (days)", name: "lead_time_days", type: "number", min: "0", max: "365", value: product.lead_time_days ?? "", hint: "Blank: the organization's default." });
  const cover = field({ label: "Target stock cover (days)", name: "target_cover_days", type: "number", min: "1", max: "365", value: product.target_cover_days ?? "", hint: "How many days of sales a reorder should cover." });
  const save = button("Save", { kind: "primary", type: "submit" });
  const form = h("form", { class: "stack", novalidate: true }, h("div", { class: "form-problem" }), h("div", { class: "grid-3" }, unitCost, leadTime, cover), h("div", { class: "row" }, save));
  const number = (text) => (text.trim() === "" ? null : Number(text));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblem(form);
    save.disabled = true;
    try {
      const updated = await api(`/api/v1/products/${product.id}`, {
        method: "PATCH",
        body: {
          unit_cost: unitCost.input.value.trim() === "" ? null : unitCost.input.value.trim(),
          lead_time_days: number(leadTime.input.value),
          target_cover_days: number(cover.input.value),
        },
      });
      onSaved(updated);
      announce("Saved.");
    } catch (problem) {
      if (!(problem instanceof ApiProblem)) throw problem;
      showProblem(form, problem);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

export async function productPage(id) {
  const product = await api(`/api/v1/products/${encodeURIComponent(id)}`);
  const seriesSlot = h("div", {}, loading());
  const adviceSlot = h("div", {}, loading());
  const videoSlot = h("div", {}, loading());

  api(`/api/v1/analytics/timeseries${query({ metric: "revenue", product: product.id, compare: "previous_period", bucket: "week", from: format.addDays(format.isoDay(new Date()), -91), to: format.addDays(format.isoDay(new Date()), -1) })}`)
    .then((series) => replace(seriesSlot,
      h("p", { class: "muted chart-caption" }, `${format.money(series.total, series.currency)} from ${format.day(series.from)} to ${format.day(series.to)}, against ${format.money(series.previous.total, series.currency)} the 13 weeks before (dashed).`),
      seriesChart({
        points: series.items,
        previous: series.previous.items,
        label: "Revenue",
        previousLabel: "Previous period",
        formatValue: (v) => format.money(v, series.currency),
        formatAxis: (v) => format.compactMoney(v, series.currency),
        formatDay: (d) => format.day(d, { month: "short", day: "numeric" }),
        height: 220,
      })))
    .catch((problem) => replace(seriesSlot, problemBanner(problem)));

  api(`/api/v1/advice${query({ product: product.id, limit: 20 })}`)
    .then((page) => replace(adviceSlot, page.items.length
      ? h("div", { class: "advice-list" }, page.items.map((item) => adviceItem(item, () => {})))
      : h("p", { class: "muted" }, "No open advice about this product.")))
    .catch((problem) => replace(adviceSlot, problemBanner(problem)));

  api("/api/v1/videos?limit=100")
    .then((page) => {
      const mine = page.items.filter((v) => v.product_id === product.id);
      replace(videoSlot, mine.length
        ? h("div", { class: "video-list" }, mine.map((v) => videoCard(v)))
        : emptyState("No video for this product yet", "Upload one on the Videos page and pick this product.", h("a", { class: "btn", href: `#/videos?product=${product.id}` }, "Upload a video")));
    })
    .catch((problem) => replace(videoSlot, problemBanner(problem)));

  const facts = h("dl", { class: "facts" },
    h("div", {}, h("dt", {}, "Price"), h("dd", {}, format.money(product.price, product.currency))),
    h("div", {}, h("dt", {}, "Stock"), h("dd", {}, format.count(product.inventory))),
    h("div", {}, h("dt", {}, "Variants"), h("dd", {}, format.count(product.variants.length))),
    h("div", {}, h("dt", {}, "Updated"), h("dd", {}, format.instant(product.updated_at))));

  const variants = product.variants.length > 1
    ? card("Variants", h("div", { class: "table-scroll" }, h("table", { class: "data-table" },
      h("thead", {}, h("tr", {}, ["Variant", "SKU", "Price", "Cost", "Stock"].map((t, i) => h("th", { scope: "col", class: i >= 2 ? "num" : "" }, t)))),
      h("tbody", {}, product.variants.map((v) => h("tr", {},
        h("th", { scope: "row" }, v.title || "—"), h("td", {}, v.sku || "—"),
        h("td", { class: "num" }, format.money(v.price, product.currency)), h("td", { class: "num" }, format.money(v.cost, product.currency)),
        h("td", { class: "num" }, format.count(v.inventory))))))))
    : null;

  return h("div", { class: "page" },
    h("p", { class: "breadcrumb" }, h("a", { href: "#/products" }, "← Products")),
    pageHeader(product.title, [product.vendor, product.category].filter(Boolean).join(" · ") || null, badge(product.status, product.status === "active" ? "good" : "neutral")),
    h("div", { class: "columns" },
      h("div", { class: "column-main" },
        card("Revenue, last 13 weeks", seriesSlot),
        card("Advice", adviceSlot),
        card("Videos", videoSlot)),
      h("div", { class: "column-side" },
        card("Figures", facts),
        card("What the advisor uses", settingsForm(product, (updated) => Object.assign(product, updated))),
        variants)));
}
