// Advice: the briefing, an "Ask" box, and every recommendation grouped by kind with its evidence (the figures, the
// period and the formula that produced it); each can be dismissed, snoozed or marked done.
import { api, ApiProblem, query } from "../api.js";
import { h, replace } from "../dom.js";
import * as format from "../format.js";
import { setParams } from "../router.js";
import { announce, badge, button, card, clearProblem, emptyState, field, loading, pageHeader, problemBanner, showProblem } from "../ui.js";

export const KINDS = {
  restock: "Restock",
  dead_stock: "Dead stock",
  slow_mover: "Slow movers",
  top_mover: "Top movers",
  decliner: "Decliners",
  conversion_gap: "Conversion gaps",
  revenue_anomaly: "Revenue anomalies",
  price_suggestion: "Price suggestions",
  video_fitness: "Video fitness",
};

const STATUSES = [
  { value: "open", label: "Open" },
  { value: "snoozed", label: "Snoozed" },
  { value: "dismissed", label: "Dismissed" },
  { value: "done", label: "Done" },
];

function evidence(item) {
  const e = item.evidence;
  return h("details", { class: "evidence" },
    h("summary", {}, "Evidence"),
    e.period ? h("p", { class: "muted" }, `Period: ${format.day(e.period.from)} – ${format.day(e.period.to)} (${e.period.days} days)`) : null,
    h("dl", { class: "figures" }, e.figures.map((f) => h("div", {}, h("dt", {}, f.label), h("dd", {}, f.display)))),
    h("p", { class: "formula" }, h("span", { class: "muted" }, "Formula: "), h("code", {}, e.formula)),
    e.notes.length ? h("ul", { class: "notes" }, e.notes.map((n) => h("li", {}, n))) : null);
}

/** One recommendation with its actions; `onChange(updated)` after a status change. */
export function adviceItem(item, onChange) {
  const error = h("p", { class: "field-error", role: "alert", hidden: true });
  const act = async (control, path, body, done) => {
    control.disabled = true;
    error.hidden = true;
    try {
      const updated = await api(`/api/v1/advice/${item.id}/${path}`, { method: "POST", body });
      announce(done);
      onChange(updated);
    } catch (problem) {
      if (!(problem instanceof ApiProblem)) throw problem;
      error.hidden = false;
      replace(error, problem.detail);
    } finally {
      control.disabled = false;
    }
  };
  const snoozeFor = h("select", { "aria-label": `Snooze “${item.title}” for` },
    h("option", { value: "1" }, "1 day"), h("option", { value: "7", selected: true }, "1 week"), h("option", { value: "30" }, "30 days"));
  const actions = item.status === "open" && !item.snoozed_until
    ? [
      button("Dismiss", { onClick: (e) => act(e.currentTarget, "status", { status: "dismissed" }, "Dismissed. It stays hidden until its figures change.") }),
      h("span", { class: "snooze" }, snoozeFor, button("Snooze", { onClick: (e) => act(e.currentTarget, "snooze", { days: Number(snoozeFor.value) }, "Snoozed.") })),
      button("Mark done", { kind: "ghost", onClick: (e) => act(e.currentTarget, "status", { status: "done" }, "Marked done.") }),
    ]
    : [button("Reopen", { onClick: (e) => act(e.currentTarget, "status", { status: "open" }, "Reopened.") })];
  const subject = item.subject.type === "product"
    ? h("a", { href: `#/products/${item.subject.id}` }, item.subject.title)
    : null;
  return h("article", { class: "advice-item", dataset: { adviceId: item.id, kind: item.kind } },
    h("header", {},
      h("h3", {}, item.title),
      item.impact ? badge(`${format.money(item.impact.amount, item.impact.currency)} at stake`, "accent") : null),
    h("p", { class: "action" }, item.action),
    subject ? h("p", { class: "muted" }, "About ", subject) : null,
    item.snoozed_until ? h("p", { class: "muted" }, `Snoozed until ${format.instant(item.snoozed_until)}`) : null,
    evidence(item),
    h("div", { class: "row actions" }, ...actions),
    error);
}

function askBox() {
  const question = field({ label: "Ask the advisor", name: "question", control: "textarea", rows: "2", maxlength: "500", placeholder: "What should I reorder this week?" });
  const answer = h("div", { class: "answer", "aria-live": "polite" });
  const submit = button("Ask", { kind: "primary", type: "submit" });
  const form = h("form", { class: "stack ask" }, h("div", { class: "form-problem" }), question, h("div", { class: "row" }, submit), answer);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblem(form);
    submit.disabled = true;
    replace(answer, loading("Thinking…"));
    try {
      const reply = await api("/api/v1/advice/ask", { method: "POST", body: { question: question.input.value } });
      replace(answer, h("p", {}, reply.answer), h("p", { class: "muted small" }, reply.source === "azure_openai" ? `Written by Azure OpenAI from your figures (${reply.numbers_checked} numbers checked).` : "Answered from your figures by the rules engine."));
    } catch (problem) {
      replace(answer);
      if (!(problem instanceof ApiProblem)) throw problem;
      showProblem(form, problem);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function summaryCard(summary) {
  return [
    h("p", { class: "headline" }, summary.headline),
    summary.paragraphs.map((p) => h("p", {}, p)),
    h("p", { class: "muted small" }, summary.source === "azure_openai"
      ? `Written by Azure OpenAI from your figures; ${summary.numbers_checked} numbers checked against them.`
      : "Written from your figures by the rules engine."),
  ];
}

const PER_KIND = 6;

/** One kind's recommendations, a page at a time. */
function kindGroup(kind, status, first, onEmpty) {
  const items = [...first.items];
  let next = first.next_cursor;
  const list = h("div", { class: "advice-list" });
  const more = h("div", { class: "group-more" });
  const count = h("span", { class: "count" });
  const section = h("section", { class: "advice-group", "aria-labelledby": `kind-${kind}`, dataset: { kind } },
    h("h2", { id: `kind-${kind}`, class: "group-title" }, KINDS[kind], count), list, more);
  const draw = () => {
    if (!items.length) return onEmpty(section);
    replace(count, `${items.length}${next ? "+" : ""}`);
    replace(list, items.map((item) => adviceItem(item, (updated) => {
      const index = items.findIndex((i) => i.id === updated.id);
      if (index >= 0) items.splice(index, 1);
      draw();
    })));
    replace(more, next ? button(`Show more ${KINDS[kind].toLowerCase()}`, {
      onClick: async (event) => {
        event.currentTarget.disabled = true;
        const page = await api(`/api/v1/advice${query({ kind, status, limit: 24, cursor: next })}`);
        items.push(...page.items);
        next = page.next_cursor;
        draw();
      },
    }) : null);
  };
  draw();
  return section;
}

export async function advicePage(params) {
  const status = STATUSES.some((s) => s.value === params.get("status")) ? params.get("status") : "open";
  const focus = params.get("focus");
  const kinds = Object.keys(KINDS);
  const pages = await Promise.all(kinds.map((kind) => api(`/api/v1/advice${query({ kind, status, limit: PER_KIND })}`)));
  const summary = h("div", { class: "summary-text" }, loading());
  if (status === "open") {
    api("/api/v1/advice/summary").then((s) => replace(summary, ...summaryCard(s))).catch((problem) => replace(summary, problemBanner(problem)));
  }
  const groups = h("div", { class: "advice-groups" });
  const empty = () => card(null, emptyState(
    status === "open" ? "Nothing to act on" : `No ${status} advice`,
    status === "open" ? "The advisor finds restocks, slow movers, price and video issues as your data comes in. Connect a store if you have not yet." : "Advice you set aside appears here.",
    status === "open" ? h("a", { class: "btn", href: "#/stores" }, "Stores") : null));
  const sections = kinds.flatMap((kind, i) => (pages[i].items.length ? [kindGroup(kind, status, pages[i], (section) => {
    section.remove();
    if (!groups.children.length) replace(groups, empty());
  })] : []));
  replace(groups, ...(sections.length ? sections : [empty()]));
  const tabs = h("nav", { class: "segmented", "aria-label": "Advice by status" },
    STATUSES.map((s) => h("a", { href: `#/advice?status=${s.value}`, class: s.value === status ? "active" : "", "aria-current": s.value === status ? "page" : false }, s.label)));
  const view = h("div", { class: "page" },
    pageHeader("Advice", "Every recommendation shows the figures and formula behind it.", tabs),
    status === "open" ? h("div", { class: "columns" },
      h("div", { class: "column-main" }, card("Summary", summary)),
      h("div", { class: "column-side" }, card(null, askBox()))) : null,
    groups);
  if (focus) {
    const target = () => view.querySelector(`[data-advice-id="${CSS.escape(focus)}"]`);
    const reveal = async () => {
      if (!target()) {
        try {
          const item = await api(`/api/v1/advice/${encodeURIComponent(focus)}`);
          groups.prepend(h("section", { class: "advice-group" }, h("h2", { class: "group-title" }, "Selected"), h("div", { class: "advice-list" }, adviceItem(item, () => {}))));
        } catch {
          return;
        }
      }
      const found = target();
      found.classList.add("focused");
      found.querySelector("details").open = true;
      found.scrollIntoView({ block: "center" });
    };
    requestAnimationFrame(() => {
      reveal();
      setParams({ status: status === "open" ? "" : status });
    });
  }
  return view;
}
