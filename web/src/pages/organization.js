// The first run: a signed-in user who belongs to no organization creates one.
import { api, ApiProblem } from "../api.js";
import { h } from "../dom.js";
import { button, clearProblem, field, showProblem } from "../ui.js";

const CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "DKK", "NZD", "INR", "BRL", "MXN", "ZAR"];

export function createOrganizationPage({ devSignIn, onCreated, onSignOut }) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [zone];
  if (!zones.includes(zone)) zones.unshift(zone);
  const name = field({ label: "Shop or company name", name: "name", required: true, autocomplete: "organization", maxlength: "200" });
  const timezone = field({ label: "Time zone", name: "timezone", control: "select", value: zone, options: zones.map((z) => ({ value: z, label: z.replaceAll("_", " ") })), hint: "Days, weeks and months of every figure follow it." });
  const currency = field({ label: "Currency", name: "currency", control: "select", value: "USD", options: CURRENCIES.map((c) => ({ value: c, label: c })) });
  const submit = button("Create organization", { kind: "primary", type: "submit" });
  const form = h("form", {
    class: "stack",
    on: {
      submit: async (event) => {
        event.preventDefault();
        clearProblem(form);
        submit.disabled = true;
        try {
          await api("/api/v1/organizations", {
            method: "POST",
            organization: false,
            body: { name: name.input.value, timezone: timezone.input.value, currency: currency.input.value },
          });
          await onCreated();
        } catch (problem) {
          if (problem instanceof ApiProblem) showProblem(form, problem);
          else throw problem;
        } finally {
          submit.disabled = false;
        }
      },
    },
  }, h("div", { class: "form-problem" }), name, timezone, currency, h("div", { class: "row" }, submit, button("Sign out", { kind: "ghost", onClick: onSignOut })));
  return h("div", { class: "auth-screen" },
    h("main", { id: "main", class: "auth-card", tabindex: "-1" },
      h("div", { class: "brand brand-large" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Retail AI Advisor"),
      h("h1", { class: "page-title", tabindex: "-1" }, "Create your organization"),
      h("p", { class: "muted" }, "You are signed in but belong to no organization yet. Create one, then connect your store."),
      devSignIn ? h("p", { class: "hint" }, "To explore with sample data instead, restart with `handler dev --demo`.") : null,
      form));
}
