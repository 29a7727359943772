// The sign-in screen: Supabase e-mail and password or a magic link where a project is configured, and on
// `handler dev` the development user.
import * as auth from "../auth.js";
import { h, replace } from "../dom.js";
import { button, field } from "../ui.js";

export function signInPage(config, { message, onSignedIn }) {
  const status = h("div", { class: "form-problem", role: "alert" });
  const fail = (error) => replace(status, h("div", { class: "banner banner-error" }, error.message));
  if (message) replace(status, h("div", { class: "banner banner-info" }, message));

  const busy = async (control, work) => {
    control.disabled = true;
    replace(status);
    try {
      await work();
    } catch (error) {
      fail(error);
    } finally {
      control.disabled = false;
    }
  };

  const parts = [];
  if (config.supabase) {
    const email = field({ label: "E-mail", name: "email", type: "email", autocomplete: "email", required: true });
    const password = field({ label: "Password", name: "password", type: "password", autocomplete: "current-password" });
    const submit = button("Sign in", { kind: "primary", type: "submit" });
    const magic = button("E-mail me a sign-in link", {
      onClick: () => busy(magic, async () => {
        if (!email.input.reportValidity()) return;
        await auth.sendMagicLink(config, email.input.value.trim());
        replace(status, h("div", { class: "banner banner-info" }, `We sent a sign-in link to ${email.input.value.trim()}. Open it in this browser.`));
      }),
    });
    const form = h("form", {
      class: "stack",
      "aria-label": "Sign in with e-mail",
      on: {
        submit: (event) => {
          event.preventDefault();
          busy(submit, async () => {
            if (!password.input.value) {
              password.setError("Enter your password, or ask for a sign-in link.");
              password.input.focus();
              return;
            }
            password.setError("");
            await auth.signInWithPassword(config, email.input.value.trim(), password.input.value);
            await onSignedIn();
          });
        },
      },
    }, email, password, h("div", { class: "row" }, submit, magic));
    parts.push(form);
  }
  if (config.dev_sign_in) {
    const dev = button("Sign in as the development user", {
      kind: config.supabase ? "secondary" : "primary",
      onClick: () => busy(dev, async () => {
        await auth.signInDev();
        await onSignedIn();
      }),
    });
    parts.push(h("div", { class: "dev-sign-in" },
      config.supabase ? h("p", { class: "divider" }, h("span", {}, "or, on this development host")) : null,
      dev,
      h("p", { class: "hint" }, "handler dev signs you in as its data directory's user, the one `handler token` speaks for.")));
  }
  if (!parts.length) {
    parts.push(h("p", {}, "Sign-in is not configured on this instance: set SUPABASE_URL and SUPABASE_ANON_KEY."));
  }
  return h("div", { class: "auth-screen" },
    h("main", { id: "main", class: "auth-card", tabindex: "-1" },
      h("div", { class: "brand brand-large" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Retail AI Advisor"),
      h("h1", { class: "page-title", tabindex: "-1" }, "Sign in"),
      h("p", { class: "muted" }, "Your catalogue, sales and advice, every morning."),
      status,
      ...parts));
}
