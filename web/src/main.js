// The dashboard's entry point: reads how this instance signs in, restores or starts a session, picks the
// organization, and shows the section the URL fragment names (see router.js).
import { api, configure } from "./api.js";
import * as auth from "./auth.js";
import { h, replace } from "./dom.js";
import { currentRoute } from "./router.js";
import { problemBanner } from "./ui.js";
import { signInPage } from "./pages/signin.js";
import { createOrganizationPage } from "./pages/organization.js";
import { overviewPage } from "./pages/overview.js";
import { productsPage } from "./pages/products.js";
import { productPage } from "./pages/product.js";
import { advicePage } from "./pages/advice.js";
import { alertsPage } from "./pages/alerts.js";
import { storesPage } from "./pages/stores.js";
import { videosPage } from "./pages/videos.js";

const ORGANIZATION_KEY = "raa.organization";
const root = document.getElementById("app");

const state = { config: { supabase: null, dev_sign_in: false }, me: null, organization: null, signInMessage: null };

const sections = [
  { path: "overview", label: "Overview", render: overviewPage },
  { path: "products", label: "Products", render: (params, parts) => (parts[1] ? productPage(parts[1]) : productsPage(params)) },
  { path: "advice", label: "Advice", render: advicePage },
  { path: "alerts", label: "Alerts", render: (params) => alertsPage(params, state) },
  { path: "stores", label: "Stores", render: (params) => storesPage(params, state) },
  { path: "videos", label: "Videos", render: videosPage },
];

let navigation = null;

function renderShell() {
  const memberships = state.me.organizations;
  const switcher = memberships.length > 1
    ? h("div", { class: "org-switcher" },
      h("label", { for: "organization" }, "Organization"),
      h("select", { id: "organization", on: { change: (e) => chooseOrganization(e.target.value) } },
        memberships.map((m) => h("option", { value: m.organization_id, selected: m.organization_id === state.organization.organization_id }, m.name))))
    : h("div", { class: "org-switcher" }, h("span", { class: "muted" }, "Organization"), h("strong", { class: "org-name" }, state.organization.name));
  navigation = h("ul", { class: "nav-list" }, sections.map((s) => h("li", {}, h("a", { href: `#/${s.path}`, dataset: { section: s.path } }, s.label))));
  const user = auth.currentSession()?.user;
  replace(root,
    h("div", { class: "shell" },
      h("aside", { class: "sidebar" },
        h("a", { class: "brand", href: "#/overview" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Retail AI Advisor"),
        h("nav", { "aria-label": "Main" }, navigation),
        h("div", { class: "sidebar-foot" },
          switcher,
          h("div", { class: "user" },
            h("span", { class: "user-email", title: user?.email || "" }, user?.email || "Signed in"),
            h("button", { type: "button", class: "btn btn-ghost", on: { click: signOut } }, "Sign out")))),
      h("main", { id: "main", tabindex: "-1" })));
}

async function chooseOrganization(id) {
  const chosen = state.me.organizations.find((m) => m.organization_id === id);
  if (!chosen) return;
  state.organization = chosen;
  localStorage.setItem(ORGANIZATION_KEY, chosen.organization_id);
  renderShell();
  route();
}

let renderCount = 0;

async function route() {
  if (!state.organization) return;
  const { parts, params } = currentRoute();
  const section = sections.find((s) => s.path === parts[0]) ?? sections[0];
  if (!parts.length) history.replaceState(null, "", "#/overview");
  for (const link of navigation.querySelectorAll("a")) {
    if (link.dataset.section === section.path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  const mine = ++renderCount;
  try {
    const view = await section.render(params, parts);
    if (mine !== renderCount) return;
    replace(main, view);
    document.title = `${section.label} · Retail AI Advisor`;
    main.querySelector(".page-title")?.focus({ preventScroll: true });
  } catch (problem) {
    if (mine !== renderCount || problem.status === 401) return;
    replace(main, problemBanner(problem, route));
  }
}

function showSignIn() {
  state.me = null;
  state.organization = null;
  replace(root, signInPage(state.config, { message: state.signInMessage, onSignedIn: () => enter() }));
}

async function signOut() {
  await auth.signOut(state.config);
}

/** Shows the app for the signed-in user; `me` is a `/api/v1/me` call already under way, if any. */
async function enter(me = null) {
  state.me = await (me ?? api("/api/v1/me", { organization: false }));
  state.signInMessage = null;
  const memberships = state.me.organizations;
  if (!memberships.length) {
    replace(root, createOrganizationPage({
      devSignIn: state.config.dev_sign_in,
      onCreated: async () => enter(),
      onSignOut: signOut,
    }));
    return;
  }
  const saved = localStorage.getItem(ORGANIZATION_KEY);
  state.organization = memberships.find((m) => m.organization_id === saved) ?? memberships[0];
  renderShell();
  await route();
}

async function boot() {
  configure({
    token: auth.accessToken,
    organization: () => state.organization?.organization_id ?? null,
    onUnauthorized: () => {
      state.signInMessage = "Your session has ended. Please sign in again.";
      auth.forget();
    },
  });
  auth.onSessionChange((session) => {
    if (!session) showSignIn();
  });
  // A signed-in reload asks for the config and the caller at once: one round trip before the page's own data.
  const early = auth.savedSessionIsFresh() && !new URLSearchParams(location.search).has("code");
  const me = early ? api("/api/v1/me", { organization: false }) : null;
  me?.catch(() => {});
  try {
    state.config = await api("/api/v1/app-config", { organization: false });
  } catch (problem) {
    replace(root, problemBanner(problem, boot));
    return;
  }
  try {
    if (await auth.completeMagicLink(state.config)) return enter();
  } catch (error) {
    state.signInMessage = error.message;
  }
  await auth.restore(state.config);
  if (!auth.currentSession()) return showSignIn();
  try {
    await enter(me);
  } catch (problem) {
    if (problem.status !== 401) replace(root, problemBanner(problem, boot));
  }
}

window.addEventListener("hashchange", route);
boot();
