// Connecting a store, kept in this one module: the platforms' own approval flows (a Shopify app install,
// WooCommerce key approval), each a form that asks the API for the platform's approval URL and sends the browser
// there, and, folded away, the form that pastes credentials (`POST /api/v1/stores`) for custom apps. Before
// leaving, the install is remembered in sessionStorage, so the Stores page can say on return whether it worked.
import { api, ApiProblem, query } from "../api.js";
import { h, replace } from "../dom.js";
import { button, clearProblem, field, onSubmit, showProblem } from "../ui.js";

const PENDING_KEY = "raa.pendingInstall";

const PLATFORMS = {
  shopify: {
    label: "Shopify",
    fields: () => [
      field({ label: "Shop domain", name: "shop_domain", placeholder: "your-shop.myshopify.com", autocomplete: "off", required: true }),
      field({ label: "Admin API access token", name: "access_token", type: "password", autocomplete: "off", required: true, hint: "From a custom app with read access to products, inventory and orders." }),
    ],
  },
  woocommerce: {
    label: "WooCommerce",
    fields: () => [
      field({ label: "Site URL", name: "site_url", type: "url", placeholder: "https://shop.example.com", autocomplete: "url", required: true }),
      field({ label: "Consumer key", name: "consumer_key", autocomplete: "off", placeholder: "ck_…", required: true }),
      field({ label: "Consumer secret", name: "consumer_secret", type: "password", autocomplete: "off", placeholder: "cs_…", required: true, hint: "WooCommerce → Settings → Advanced → REST API, with Read access." }),
    ],
  },
};

/** A shop as the install takes it: a bare name becomes `<name>.myshopify.com`. */
function shopDomain(text) {
  const shop = text.trim().toLowerCase();
  return shop && !shop.includes(".") ? `${shop}.myshopify.com` : shop;
}

/** An address compared loosely: no scheme, no trailing slash, lower case. */
export function sameAddress(a, b) {
  const plain = (s) => String(s || "").trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  return plain(a) !== "" && plain(a) === plain(b);
}

/** The install this tab started and left for, if any, taken back once. */
export function takePendingInstall() {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  try {
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

/**
 * One approval flow's form: `ask(value)` calls the API for `{authorize_url}`; on success the install is remembered
 * and the browser goes to the platform. Problems show beside the field (`name` is the query parameter the API names).
 */
function approvalForm({ title, description, control, submitLabel, platform, address, ask }) {
  const submit = button(submitLabel, { kind: "primary", type: "submit" });
  const form = h("form", { class: "stack connect", "aria-label": title },
    h("h3", { class: "connect-title" }, title), h("p", { class: "muted" }, description),
    h("div", { class: "form-problem" }), control, h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblem(form);
    const value = address(control.input.value);
    submit.disabled = true;
    try {
      const { authorize_url: url } = await ask(value);
      sessionStorage.setItem(PENDING_KEY, JSON.stringify({ platform, address: value }));
      window.location.assign(url);
    } catch (problem) {
      if (!(problem instanceof ApiProblem)) throw problem;
      showProblem(form, problem);
      submit.disabled = false;
    }
  });
  return form;
}

function shopifyInstallForm() {
  return approvalForm({
    title: "Install on Shopify",
    description: "Approve the app on Shopify; you come back here when it is connected.",
    control: field({ label: "Shop name", name: "shop", placeholder: "your-shop or your-shop.myshopify.com", autocomplete: "off", required: true, autocapitalize: "none", spellcheck: "false" }),
    submitLabel: "Install on Shopify",
    platform: "shopify",
    address: shopDomain,
    // The answer sets the cookie that ties the install to this browser: it must be kept.
    ask: (shop) => api(`/api/v1/shopify/install${query({ shop })}`, { credentials: "same-origin" }),
  });
}

function wooCommerceConnectForm() {
  return approvalForm({
    title: "Connect WooCommerce",
    description: "Approve read access on your site; WooCommerce sends you back here.",
    control: field({ label: "Site URL", name: "site_url", type: "url", placeholder: "https://shop.example.com", autocomplete: "url", required: true }),
    submitLabel: "Connect WooCommerce",
    platform: "woocommerce",
    address: (text) => text.trim(),
    ask: (siteUrl) => api(`/api/v1/woocommerce/connect${query({ site_url: siteUrl })}`),
  });
}

/** The paste-credentials form; `onConnected(store)` with the API's answer (which shows a generated webhook secret once). */
function pasteForm(onConnected) {
  let platform = "shopify";
  const slot = h("div", { class: "stack" });
  const name = field({ label: "Name (optional)", name: "name", placeholder: "Shown in the dashboard", autocomplete: "off" });
  const submit = button("Connect store", { kind: "primary", type: "submit" });
  const choices = h("fieldset", { class: "platforms" }, h("legend", {}, "Platform"),
    Object.entries(PLATFORMS).map(([value, p]) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "platform", value, checked: value === platform, on: { change: () => { platform = value; draw(); } } }), p.label)));
  let fields = [];
  const draw = () => {
    fields = PLATFORMS[platform].fields();
    replace(slot, ...fields);
  };
  draw();
  const form = h("form", { class: "stack connect", "aria-label": "Connect a store" }, h("div", { class: "form-problem" }), choices, slot, name, h("div", { class: "row" }, submit));
  onSubmit(form, submit, async () => {
    const body = { platform };
    for (const f of fields) body[f.dataset.field] = f.input.value.trim();
    if (name.input.value.trim()) body.name = name.input.value.trim();
    const store = await api("/api/v1/stores", { method: "POST", body });
    for (const f of fields) f.input.value = "";
    name.input.value = "";
    onConnected(store);
  });
  return form;
}

/** Everything an admin connects a store with: both approval flows, and pasting credentials folded away. */
export function connectPanel(onConnected) {
  return h("div", { class: "stack" },
    h("div", { class: "connect-grid" }, shopifyInstallForm(), wooCommerceConnectForm()),
    h("details", { class: "advanced" },
      h("summary", {}, "Advanced: paste credentials"),
      h("p", { class: "muted" }, "For a Shopify custom app's access token, or WooCommerce REST keys made by hand."),
      pasteForm(onConnected)));
}
