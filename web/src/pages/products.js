// Products: search as you type (the API matches the last word as a prefix), a category filter, and a table sorted
// by any column, with the unit cost editable in place. A failed save keeps what was typed and says why beside it.
// "Export CSV" takes the whole filtered list (every page), not only the rows loaded.
import { api, ApiProblem, query } from "../api.js";
import { h, replace } from "../dom.js";
import { exportButton } from "../exports.js";
import * as format from "../format.js";
import { setParams } from "../router.js";
import { announce, button, card, emptyState, pageHeader, problemBanner } from "../ui.js";

/** Wait after a keystroke before searching: short enough to feel instant, long enough to skip mid-word requests. */
const DEBOUNCE_MS = 30;
const PAGE = 50;

const COLUMNS = [
  { key: "title", label: "Product", value: (p) => p.title.toLocaleLowerCase(), numeric: false },
  { key: "category", label: "Category", value: (p) => p.category.toLocaleLowerCase(), numeric: false },
  { key: "price", label: "Price", value: (p) => (p.price === null ? null : Number(p.price)), numeric: true },
  { key: "inventory", label: "Stock", value: (p) => p.inventory, numeric: true },
  { key: "unit_cost", label: "Unit cost", value: (p) => (p.unit_cost === null ? null : Number(p.unit_cost)), numeric: true },
  { key: "revenue_30d", label: "Revenue, 30 days", value: (p) => Number(p.revenue_30d), numeric: true },
];

function sortRows(rows, sort) {
  if (!sort.key) return rows;
  const column = COLUMNS.find((c) => c.key === sort.key);
  const direction = sort.direction === "asc" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = column.value(a), y = column.value(b);
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return (x < y ? -1 : 1) * direction;
  });
}

/** The unit cost cell: saves on change; on failure keeps the typed text and shows the API's message. */
function unitCostInput(product, onSaved) {
  const id = `cost-${product.id}`;
  const error = h("span", { class: "cell-error", id: `${id}-error`, role: "alert" });
  const input = h("input", {
    id,
    class: "cell-input",
    inputmode: "decimal",
    autocomplete: "off",
    value: product.unit_cost ?? "",
    placeholder: "—",
    "aria-label": `Unit cost of ${product.title}`,
    "aria-describedby": `${id}-error`,
  });
  let saved = product.unit_cost ?? "";
  const save = async () => {
    const typed = input.value.trim();
    if (typed === saved) return;
    input.classList.add("saving");
    replace(error);
    try {
      const updated = await api(`/api/v1/products/${product.id}`, { method: "PATCH", body: { unit_cost: typed === "" ? null : typed } });
      saved = updated.unit_cost ?? "";
      input.value = saved;
      input.removeAttribute("aria-invalid");
      onSaved(updated.unit_cost);
      announce(`Unit cost of ${product.title} saved.`);
    } catch (problem) {
      if (!(problem instanceof ApiProblem)) throw problem;
      input.setAttribute("aria-invalid", "true");
      replace(error, problem.field("unit_cost") || problem.detail);
    } finally {
      input.classList.remove("saving");
    }
  };
  input.addEventListener("change", save);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      save();
    }
    if (event.key === "Escape") {
      input.value = saved;
      input.removeAttribute("aria-invalid");
      replace(error);
    }
  });
  return h("div", { class: "cell-edit" }, input, error);
}

export async function productsPage(params) {
  const state = {
    q: params.get("q") || "",
    category: params.get("category") || "",
    sort: { key: params.get("sort") || "", direction: params.get("dir") || "desc" },
    rows: [],
    next: null,
    currency: "USD",
  };
  const categories = await api("/api/v1/products/categories").catch(() => ({ items: [] }));

  const search = h("input", { type: "search", id: "product-search", value: state.q, placeholder: "Search by title, vendor or category", autocomplete: "off", "aria-controls": "product-table" });
  const category = h("select", { id: "product-category" },
    h("option", { value: "" }, "All categories"),
    categories.items.map((c) => h("option", { value: c.name, selected: c.name === state.category }, `${c.name} (${c.products})`)));
  const tbody = h("tbody");
  const head = h("tr");
  const table = h("table", { id: "product-table", class: "data-table" }, h("caption", { class: "visually-hidden" }, "Products"), h("thead", {}, head), tbody);
  const summary = h("p", { class: "muted", role: "status" });
  const more = h("div", { class: "table-more" });
  const body = h("div", {}, summary, h("div", { class: "table-scroll" }, table), more);

  const renderHead = () => {
    replace(head, COLUMNS.map((c) => {
      const sorted = state.sort.key === c.key;
      const ariaSort = sorted ? (state.sort.direction === "asc" ? "ascending" : "descending") : "none";
      return h("th", { scope: "col", "aria-sort": ariaSort, class: c.numeric ? "num" : "" },
        h("button", {
          type: "button",
          class: "sort",
          on: {
            click: () => {
              state.sort = { key: c.key, direction: sorted && state.sort.direction === "desc" ? "asc" : sorted ? "desc" : c.numeric ? "desc" : "asc" };
              remember();
              renderHead();
              renderRows();
            },
          },
        }, c.label, h("span", { class: "sort-mark", "aria-hidden": "true" }, sorted ? (state.sort.direction === "asc" ? " ↑" : " ↓") : "")));
    }));
  };

  const renderRows = () => {
    const rows = sortRows(state.rows, state.sort);
    replace(tbody, rows.map((p) => h("tr", { dataset: { product: p.id } },
      h("th", { scope: "row" }, h("a", { href: `#/products/${p.id}` }, p.title), p.vendor ? h("span", { class: "sub" }, p.vendor) : null),
      h("td", { dataset: { label: "Category" } }, p.category || "—"),
      h("td", { class: "num", dataset: { label: "Price" } }, format.money(p.price, p.currency)),
      h("td", { class: ["num", p.inventory <= 0 ? "warn" : ""], dataset: { label: "Stock" } }, format.count(p.inventory)),
      h("td", { class: "num", dataset: { label: "Unit cost" } }, unitCostInput(p, (cost) => { p.unit_cost = cost; })),
      h("td", { class: "num", dataset: { label: "Revenue, 30 days" } }, format.money(p.revenue_30d, p.currency)))));
    if (!rows.length) {
      replace(tbody, h("tr", {}, h("td", { colspan: String(COLUMNS.length) },
        state.q || state.category
          ? emptyState("No product matches", "Try fewer or shorter words, or another category.")
          : emptyState("No products yet", "Products appear once a store is connected and synced.", h("a", { class: "btn btn-primary", href: "#/stores" }, "Connect a store")))));
    }
    replace(summary, state.rows.length ? `${state.rows.length}${state.next ? "+" : ""} products${state.q ? ` matching “${state.q}”` : ""}` : "");
    table.dataset.query = state.q;
    replace(more, state.next ? button("Load more", { onClick: () => load(true) }) : null);
  };

  const remember = () => setParams({ q: state.q, category: state.category, sort: state.sort.key, dir: state.sort.key ? state.sort.direction : "" });

  let inflight = null;
  const load = async (append = false, typedAt = null) => {
    inflight?.abort();
    const controller = new AbortController();
    inflight = controller;
    const params = { q: state.q.trim(), category: state.category, limit: PAGE, cursor: append ? state.next : null };
    try {
      const page = await api(`/api/v1/products${query(params)}`, { signal: controller.signal });
      state.rows = append ? state.rows.concat(page.items) : page.items;
      state.next = page.next_cursor;
      renderRows();
      if (typedAt !== null) performance.measure("search: keystroke to table", { start: typedAt, end: performance.now() });
    } catch (problem) {
      if (problem.name === "AbortError") return;
      replace(tbody, h("tr", {}, h("td", { colspan: String(COLUMNS.length) }, problemBanner(problem))));
    }
  };

  let timer = null;
  search.addEventListener("input", () => {
    const typedAt = performance.now();
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.q = search.value;
      remember();
      load(false, typedAt);
    }, DEBOUNCE_MS);
  });
  category.addEventListener("change", () => {
    state.category = category.value;
    remember();
    load();
  });

  renderHead();
  await load();
  return h("div", { class: "page" },
    pageHeader("Products", "Search, compare and set the unit costs the advisor uses for margins and reorder advice."),
    card(null,
      h("div", { class: "filters" },
        h("div", { class: "filter grow" }, h("label", { for: "product-search" }, "Search"), search),
        h("div", { class: "filter" }, h("label", { for: "product-category" }, "Category"), category),
        exportButton("products", () => ({ q: state.q.trim(), category: state.category }))),
      body));
}
