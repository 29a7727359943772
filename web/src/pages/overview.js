// Overview: revenue, orders, average order value and conversion against the previous period, the revenue series
// with the previous period laid over it, and the advisor's headline with its top priorities. The figures and both
// series come from one call (`/api/v1/analytics/overview`); the briefing and the customers' figures
// (`/api/v1/analytics/customers`: new vs returning, repeat purchases, first-order cohorts) fill in when ready.
import { api, query } from "../api.js";
import { seriesChart } from "../chart.js";
import { h, replace } from "../dom.js";
import * as format from "../format.js";
import { badge, card, emptyState, loading, pageHeader, problemBanner } from "../ui.js";

const PRESETS = [
  { value: "7", label: "Last 7 days" },
  { value: "30", label: "Last 30 days" },
  { value: "90", label: "Last 90 days" },
  { value: "365", label: "Last 12 months" },
  { value: "custom", label: "Custom range" },
];

const FIGURES = {
  revenue: { label: "Revenue", show: (v, c) => format.money(v, c) },
  orders: { label: "Orders", show: (v) => format.count(v) },
  aov: { label: "Average order value", show: (v, c) => format.money(v, c) },
  conversion_rate: { label: "Conversion rate", show: (v) => format.percent(v) },
};

function go(params) {
  const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  location.replace(`#/overview${search ? `?${search}` : ""}`);
}

function rangeControls(overview, params) {
  const bucket = overview.bucket;
  const days = Math.round((Date.parse(overview.to) - Date.parse(overview.from)) / 86_400_000) + 1;
  const preset = params.get("preset") || (params.get("from") ? "custom" : String(days));
  const fromInput = h("input", { type: "date", id: "range-from", value: overview.from, max: overview.to, "aria-label": "From" });
  const toInput = h("input", { type: "date", id: "range-to", value: overview.to, "aria-label": "To" });
  const presetSelect = h("select", { id: "range-preset", "aria-label": "Date range" },
    PRESETS.map((p) => h("option", { value: p.value, selected: p.value === preset }, p.label)));
  const apply = (changes) => go({ bucket, from: fromInput.value, to: toInput.value, ...changes });
  presetSelect.addEventListener("change", () => {
    if (presetSelect.value === "custom") {
      fromInput.focus();
      return;
    }
    const length = Number(presetSelect.value);
    apply({ preset: presetSelect.value, from: format.addDays(overview.to, 1 - length), to: overview.to, bucket: length > 120 && bucket === "day" ? "week" : bucket });
  });
  for (const input of [fromInput, toInput]) {
    input.addEventListener("change", () => {
      if (fromInput.value && toInput.value && fromInput.value <= toInput.value) apply({ preset: "custom" });
    });
  }
  const buckets = h("div", { class: "segmented", role: "radiogroup", "aria-label": "Group by" },
    ["day", "week", "month"].map((b) => h("button", {
      type: "button",
      role: "radio",
      "aria-checked": b === bucket ? "true" : "false",
      class: b === bucket ? "active" : "",
      on: { click: () => apply({ bucket: b, preset }) },
    }, b[0].toUpperCase() + b.slice(1))));
  return h("div", { class: "range" }, presetSelect, h("div", { class: "dates" }, fromInput, h("span", { "aria-hidden": "true" }, "–"), toInput), buckets);
}

function tile(figure, currency, previousLabel) {
  const spec = FIGURES[figure.metric];
  const tone = figure.change === null ? "neutral" : figure.change >= 0 ? "good" : "bad";
  const arrow = figure.change === null ? "" : figure.change >= 0 ? "▲ " : "▼ ";
  return h("div", { class: "tile", dataset: { metric: figure.metric } },
    h("p", { class: "tile-label" }, spec.label),
    h("p", { class: "tile-value", dataset: { value: figure.value ?? "" } }, spec.show(figure.value, currency)),
    h("p", { class: "tile-change" },
      badge(`${arrow}${format.change(figure.change)}`, tone),
      h("span", { class: "muted" }, ` vs ${spec.show(figure.previous, currency)} ${previousLabel}`)));
}

function adviceCard(summary) {
  const body = summary.priorities?.length
    ? h("ol", { class: "priorities" }, summary.priorities.map((p) => h("li", {}, h("a", { href: `#/advice?focus=${encodeURIComponent(p.recommendation_id)}` }, p.text))))
    : h("p", { class: "muted" }, "Nothing needs your attention right now.");
  return [
    h("p", { class: "headline" }, summary.headline),
    body,
    h("p", { class: "card-foot" }, h("a", { href: "#/advice" }, "See all advice →")),
  ];
}

/** Months shown after a cohort's first: a year. */
const COHORT_MONTHS = 12;

function customersBody(figures, currency) {
  const segment = (label, s, extra) => h("div", { class: "tile", dataset: { segment: label.toLowerCase() } },
    h("p", { class: "tile-label" }, label),
    h("p", { class: "tile-value" }, format.money(s.revenue, currency)),
    h("p", { class: "muted" }, extra ?? `${format.count(s.customers)} customers · ${format.count(s.orders)} orders`));
  const tiles = h("div", { class: "tiles" },
    segment("New", figures.new),
    segment("Returning", figures.returning),
    segment("Guests", figures.guest, `${format.count(figures.guest.orders)} orders`),
    h("div", { class: "tile", dataset: { segment: "repeat" } },
      h("p", { class: "tile-label" }, "Repeat purchase rate"),
      h("p", { class: "tile-value" }, figures.repeat_purchase_rate === null ? "—" : format.percent(figures.repeat_purchase_rate, 1)),
      h("p", { class: "muted" }, `${format.count(figures.repeat_customers)} of ${format.count(figures.customers)} customers ordered twice or more`)));
  if (!figures.cohorts.length) return [tiles, h("p", { class: "muted" }, "No customer placed a first order in this range.")];
  const width = Math.min(COHORT_MONTHS, Math.max(...figures.cohorts.map((c) => c.months.length)));
  const offsets = Array.from({ length: width }, (_, i) => i);
  const table = h("table", { class: "data-table cohorts" },
    h("caption", { class: "visually-hidden" }, "Customers by first-order month: the share who ordered again each month after"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "First order"),
      h("th", { scope: "col", class: "num" }, "Customers"),
      offsets.map((o) => h("th", { scope: "col", class: "num" }, o === 0 ? "Month 0" : `+${o}`)),
      h("th", { scope: "col", class: "num" }, "Revenue per customer to date"))),
    h("tbody", {}, figures.cohorts.map((c) => h("tr", {},
      h("th", { scope: "row" }, format.day(`${c.month}-01`, { month: "short", year: "numeric" })),
      h("td", { class: "num" }, format.count(c.customers)),
      offsets.map((o) => {
        const month = c.months[o];
        return h("td", { class: "num", dataset: { label: o === 0 ? "Month 0" : `+${o}` } }, month ? format.percent(month.retention, 0) : "");
      }),
      h("td", { class: "num", dataset: { label: "Revenue per customer to date" } },
        format.money(c.months[c.months.length - 1].cumulative_revenue_per_customer, currency))))));
  return [tiles, h("div", { class: "table-scroll" }, table)];
}

export async function overviewPage(params) {
  const bucket = params.get("bucket") || "day";
  // Asked for at once, shown when ready: the briefing never holds up the figures.
  const briefing = api("/api/v1/advice/summary");
  briefing.catch(() => {});
  const [overview, stores] = await Promise.all([
    api(`/api/v1/analytics/overview${query({ bucket, from: params.get("from"), to: params.get("to") })}`),
    api("/api/v1/stores").catch(() => ({ items: [] })),
  ]);
  const currency = overview.currency;
  const previousLabel = `(${format.day(overview.previous_from, { month: "short", day: "numeric" })} – ${format.day(overview.previous_to)})`;
  const advice = h("div", { class: "advice-summary" }, loading("The advisor is reading your figures…"));
  const customers = h("div", { class: "customers" }, loading("Counting customers…"));
  api(`/api/v1/analytics/customers${query({ from: overview.from, to: overview.to })}`)
    .then((figures) => replace(customers, ...customersBody(figures, currency)))
    .catch((problem) => replace(customers, problemBanner(problem)));
  const content = [
    pageHeader("Overview", `${format.day(overview.from)} – ${format.day(overview.to)} · ${overview.timezone}`, rangeControls(overview, params)),
  ];
  if (!stores.items.length) {
    content.push(card(null, emptyState("Connect your store to see your figures",
      "Retail AI Advisor reads your catalogue and orders from Shopify or WooCommerce. On a development host, restart with `handler dev --demo` to explore sample data.",
      h("a", { class: "btn btn-primary", href: "#/stores" }, "Connect a store"))));
  }
  content.push(
    h("div", { class: "tiles" }, overview.figures.map((f) => tile(f, currency, previousLabel))),
    card("Revenue",
      h("p", { class: "muted chart-caption" }, `Per ${overview.bucket}; the dashed line is the previous period, ${previousLabel.slice(1, -1)}.`),
      seriesChart({
        points: overview.revenue,
        previous: overview.previous_revenue,
        label: "Revenue",
        previousLabel: "Previous period",
        formatValue: (v) => format.money(v, currency),
        formatAxis: (v) => format.compactMoney(v, currency),
        formatDay: (d) => format.day(d, { month: "short", day: "numeric" }),
      })),
    card("What the advisor says", advice),
    card("Customers", customers),
  );
  briefing
    .then((summary) => replace(advice, ...adviceCard(summary)))
    .catch((problem) => replace(advice, problemBanner(problem)));
  return h("div", { class: "page" }, ...content);
}
