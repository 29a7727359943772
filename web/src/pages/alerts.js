// Alerts: the organization's channels (Slack, Microsoft Teams, e-mail) with "Send test" and "Remove" for admins,
// the form that adds one, and every delivery made, newest first. A webhook URL is sent once and never shown again.
import { api, ApiProblem, query } from "../api.js";
import { h, replace } from "../dom.js";
import * as format from "../format.js";
import { announce, badge, button, card, emptyState, field, onSubmit, pageHeader, problemBanner } from "../ui.js";

const KIND = { slack: "Slack", teams: "Microsoft Teams", email: "E-mail" };
const PURPOSE = { alert: "Alert", digest: "Weekly digest", test: "Test" };

const KIND_FIELDS = {
  slack: () => [field({ label: "Incoming webhook URL", name: "url", type: "url", autocomplete: "off", placeholder: "https://hooks.slack.com/services/…", required: true, hint: "Slack → Apps → Incoming Webhooks → Add New Webhook to Workspace." })],
  teams: () => [field({ label: "Workflow webhook URL", name: "url", type: "url", autocomplete: "off", placeholder: "https://…", required: true, hint: "In the channel: Workflows → “Post to a channel when a webhook request is received”." })],
  email: () => [field({ label: "Recipients", name: "recipients", control: "textarea", rows: "2", placeholder: "ops@your-shop.com, buyer@your-shop.com", required: true, hint: "Up to 10 addresses, separated by commas or new lines." })],
};

function deliveriesTable(deliveries, channels) {
  if (!deliveries.length) return h("p", { class: "muted" }, "Nothing has been sent yet.");
  const names = new Map(channels.map((c) => [c.id, c.name]));
  return h("div", { class: "table-scroll" }, h("table", { class: "data-table deliveries" },
    h("caption", { class: "visually-hidden" }, "Deliveries"),
    h("thead", {}, h("tr", {}, ["Sent", "Channel", "Why", "Message", "Result", "Attempts"].map((t, i) => h("th", { scope: "col", class: i === 5 ? "num" : "" }, t)))),
    h("tbody", {}, deliveries.map((d) => h("tr", { dataset: { deliveryStatus: d.status } },
      h("td", {}, format.instant(d.created_at)),
      h("td", {}, names.get(d.channel_id) ?? h("span", { class: "muted" }, "removed")),
      h("td", {}, PURPOSE[d.purpose] ?? d.purpose),
      h("td", {}, d.title),
      h("td", {}, badge(d.status, d.status === "sent" ? "good" : "bad"), d.error ? h("span", { class: "sub" }, d.error) : null),
      h("td", { class: "num" }, format.count(d.attempts)))))));
}

function channelRow(channel, { admin, onChanged }) {
  const message = h("div", { role: "alert" });
  const actions = [];
  if (admin) {
    const test = button("Send test", {
      onClick: async () => {
        test.disabled = true;
        replace(message);
        try {
          const delivery = await api(`/api/v1/alerts/channels/${channel.id}/test`, { method: "POST" });
          if (delivery.status === "sent") announce(`Test sent to ${channel.name}.`);
          else replace(message, problemBanner({ title: "The test did not arrive", detail: delivery.error }));
          onChanged();
        } catch (problem) {
          if (!(problem instanceof ApiProblem)) throw problem;
          replace(message, problemBanner(problem));
        } finally {
          test.disabled = false;
        }
      },
    });
    const remove = button("Remove", {
      kind: "danger",
      onClick: async () => {
        if (!window.confirm(`Remove ${channel.name}? Alerts stop going there; past deliveries stay listed.`)) return;
        try {
          await api(`/api/v1/alerts/channels/${channel.id}`, { method: "DELETE" });
          announce(`${channel.name} removed.`);
          onChanged();
        } catch (problem) {
          if (!(problem instanceof ApiProblem)) throw problem;
          replace(message, problemBanner(problem));
        }
      },
    });
    actions.push(test, remove);
  }
  const where = channel.recipients ? channel.recipients.join(", ") : "Webhook (the URL is kept secret)";
  return h("li", { class: "channel", dataset: { channelId: channel.id, kind: channel.kind } },
    h("div", { class: "channel-head" },
      h("div", {}, h("strong", {}, channel.name), " ", badge(KIND[channel.kind] ?? channel.kind, "accent"),
        h("p", { class: "muted" }, `${where} · added ${format.instant(channel.created_at)}`)),
      h("div", { class: "row" }, actions)),
    message);
}

function addChannelForm(onAdded) {
  let kind = "slack";
  const slot = h("div", { class: "stack" });
  const name = field({ label: "Name", name: "name", placeholder: "#ops, Buying team…", autocomplete: "off", required: true, maxlength: "100" });
  const submit = button("Add channel", { kind: "primary", type: "submit" });
  const choices = h("fieldset", { class: "platforms" }, h("legend", {}, "Where"),
    Object.entries(KIND).map(([value, label]) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "kind", value, checked: value === kind, on: { change: () => { kind = value; draw(); } } }), label)));
  let fields = [];
  const draw = () => {
    fields = KIND_FIELDS[kind]();
    replace(slot, ...fields);
  };
  draw();
  const form = h("form", { class: "stack connect", "aria-label": "Add an alert channel" }, h("div", { class: "form-problem" }), choices, name, slot, h("div", { class: "row" }, submit));
  onSubmit(form, submit, async () => {
    const body = { kind, name: name.input.value.trim() };
    for (const f of fields) {
      const value = f.input.value.trim();
      body[f.dataset.field] = f.dataset.field === "recipients" ? value.split(/[\s,;]+/).filter(Boolean) : value;
    }
    const channel = await api("/api/v1/alerts/channels", { method: "POST", body });
    for (const f of fields) f.input.value = "";
    name.input.value = "";
    onAdded(channel);
  });
  return form;
}

export async function alertsPage(_params, app) {
  const admin = app.organization?.role === "admin";
  const channelsSlot = h("div", {});
  const deliveriesSlot = h("div", {});
  const load = async () => {
    const [channels, deliveries] = await Promise.all([
      api("/api/v1/alerts/channels"),
      api(`/api/v1/alerts/deliveries${query({ limit: 50 })}`),
    ]);
    replace(channelsSlot, channels.items.length
      ? h("ul", { class: "channels" }, channels.items.map((c) => channelRow(c, { admin, onChanged: () => load().catch(() => {}) })))
      : emptyState("No channel yet", admin
        ? "Add Slack, Microsoft Teams or e-mail below: stock-outs within the lead time and revenue anomalies are sent as they are found, and a digest every Monday morning."
        : "Ask an admin of your organization to add a channel."));
    replace(deliveriesSlot, deliveriesTable(deliveries.items, channels.items));
  };
  await load();
  const add = admin
    ? card("Add a channel", addChannelForm((channel) => {
      announce(`${channel.name} added. Send a test to check it.`);
      load().catch(() => {});
    }))
    : null;
  return h("div", { class: "page" },
    pageHeader("Alerts", "Where urgent recommendations and the weekly digest are sent."),
    card("Channels", channelsSlot), add, card("Deliveries", deliveriesSlot));
}
