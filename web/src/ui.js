// Building blocks every page shares: cards, empty states, form fields that show the API's field errors beside
// themselves, problem banners and a polite status region.
import { ApiProblem } from "./api.js";
import { h, replace, uid } from "./dom.js";

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", { class: "card-title" }, title) : null, ...children);
}

export function pageHeader(title, subtitle, ...actions) {
  return h("header", { class: "page-header" },
    h("div", {}, h("h1", { tabindex: "-1", class: "page-title" }, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    actions.length ? h("div", { class: "page-actions" }, ...actions) : null);
}

export function emptyState(title, body, ...actions) {
  return h("div", { class: "empty" }, h("h3", {}, title), h("p", {}, body), actions.length ? h("div", { class: "empty-actions" }, ...actions) : null);
}

export function badge(text, tone = "neutral") {
  return h("span", { class: `badge badge-${tone}` }, text);
}

export function button(label, { kind = "secondary", type = "button", onClick, ...props } = {}) {
  return h("button", { type, class: `btn btn-${kind}`, on: onClick ? { click: onClick } : undefined, ...props }, label);
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

/** A problem as a message block; `retry` adds a button. */
export function problemBanner(problem, retry) {
  return h("div", { class: "banner banner-error", role: "alert" },
    h("strong", {}, problem.title || "Something went wrong"),
    h("p", {}, problem.detail || problem.message),
    retry ? button("Try again", { onClick: retry }) : null);
}

/**
 * A labelled form control. `control`: "input" (default), "select" (with `options` [{value, label}]) or "textarea".
 * Returns the wrapper; `.input` is the control, `.setError(text)` shows or clears its message.
 */
export function field({ label, name, control = "input", options = [], hint, ...attributes }) {
  const id = uid(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  let input;
  if (control === "select") {
    input = h("select", { id, name, ...attributes }, options.map((o) => h("option", { value: o.value, selected: o.value === attributes.value }, o.label)));
  } else if (control === "textarea") {
    input = h("textarea", { id, name, ...attributes });
  } else {
    input = h("input", { id, name, type: "text", ...attributes });
  }
  input.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const wrapper = h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null, error);
  wrapper.input = input;
  wrapper.setError = (text) => {
    error.hidden = !text;
    replace(error, text || "");
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };
  return wrapper;
}

/**
 * Shows a problem on a form: each field error beside its field (by `data-field`), anything else in the form's banner
 * slot. Returns true when at least one field took its message. Nothing typed is cleared.
 */
export function showProblem(form, problem) {
  form.querySelectorAll(".field").forEach((f) => f.setError?.(""));
  const slot = form.querySelector(".form-problem");
  let placed = false;
  const unplaced = [];
  for (const error of problem.errors || []) {
    const target = form.querySelector(`.field[data-field="${CSS.escape(error.field)}"]`);
    if (target?.setError) {
      target.setError(error.message);
      placed = true;
    } else {
      unplaced.push(`${error.field}: ${error.message}`);
    }
  }
  if (!placed && problem.detail) {
    // A detail like "site_url: does not resolve" names its field even without `errors`.
    const match = /^([a-z_]+): (.*)$/.exec(problem.detail);
    const target = match && form.querySelector(`.field[data-field="${CSS.escape(match[1])}"]`);
    if (target?.setError) {
      target.setError(match[2]);
      placed = true;
    }
  }
  if (slot) {
    if (placed && unplaced.length === 0) replace(slot);
    else replace(slot, problemBanner({ title: problem.title, detail: unplaced.length ? unplaced.join("; ") : problem.detail }));
  }
  const first = form.querySelector("[aria-invalid=true]");
  if (first) first.focus();
  return placed;
}

/**
 * Runs `action()` on each submit of `form`, with `submit` disabled meanwhile; a problem from the API shows on the form
 * (beside the fields it names; nothing typed is cleared). Anything else is a bug and propagates.
 */
export function onSubmit(form, submit, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblem(form);
    submit.disabled = true;
    try {
      await action();
    } catch (problem) {
      if (!(problem instanceof ApiProblem)) throw problem;
      showProblem(form, problem);
    } finally {
      submit.disabled = false;
    }
  });
}

export function clearProblem(form) {
  form.querySelectorAll(".field").forEach((f) => f.setError?.(""));
  const slot = form.querySelector(".form-problem");
  if (slot) replace(slot);
}

let statusRegion = null;

/** Announces a short message (and shows it briefly). */
export function announce(text) {
  if (!statusRegion) {
    statusRegion = h("div", { class: "toast", role: "status", "aria-live": "polite" });
    document.body.append(statusRegion);
  }
  replace(statusRegion, text);
  statusRegion.classList.add("visible");
  clearTimeout(statusRegion.timer);
  statusRegion.timer = setTimeout(() => statusRegion.classList.remove("visible"), 3500);
}

/** A progress bar with a text label; `.set(done, total)` updates it. */
export function progress(label) {
  const bar = h("progress", { max: "100", value: "0", "aria-label": label });
  const text = h("span", { class: "progress-text" }, "");
  const wrapper = h("div", { class: "progress" }, bar, text);
  wrapper.set = (done, total, caption) => {
    if (total) {
      bar.max = total;
      bar.value = done;
    } else {
      bar.removeAttribute("value");
    }
    replace(text, caption ?? (total ? `${Math.round((100 * done) / total)}%` : ""));
  };
  return wrapper;
}
