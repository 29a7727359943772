// Connecting a store, kept in this one module: today a form for the API's `POST /api/v1/stores` (a Shopify shop
// domain and access token, or a WooCommerce site URL and REST keys). The platforms' own approval flows (Shopify
// OAuth, WooCommerce key approval) replace this form here without touching the rest of the Stores page.
import { api, ApiProblem } from "../api.js";
import { h, replace } from "../dom.js";
import { button, clearProblem, field, showProblem } from "../ui.js";

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

/** The connect form; `onConnected(store)` with the API's answer (which shows a generated webhook secret once). */
export function connectForm(onConnected) {
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
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblem(form);
    const body = { platform };
    for (const f of fields) body[f.dataset.field] = f.input.value.trim();
    if (name.input.value.trim()) body.name = name.input.value.trim();
    submit.disabled = true;
    try {
      const store = await api("/api/v1/stores", { method: "POST", body });
      for (const f of fields) f.input.value = "";
      name.input.value = "";
      onConnected(store);
    } catch (problem) {
      if (!(problem instanceof ApiProblem)) throw problem;
      showProblem(form, problem);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
