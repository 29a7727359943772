// Numbers, money and dates as a merchant reads them, in the browser's locale.

const moneyFormats = new Map();

/** A decimal string from the API (`"1234.50"`) in its currency. */
export function money(value, currency, options = {}) {
  if (value === null || value === undefined) return "—";
  const key = `${currency}:${JSON.stringify(options)}`;
  if (!moneyFormats.has(key)) {
    moneyFormats.set(key, new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD", ...options }));
  }
  return moneyFormats.get(key).format(Number(value));
}

/** Short money for chart axes: $12k. */
export function compactMoney(value, currency) {
  return money(value, currency, { notation: "compact", maximumFractionDigits: 1 });
}

export const count = (value) => (value === null || value === undefined ? "—" : new Intl.NumberFormat().format(value));

/** A ratio (0.0123) as a percentage. */
export function percent(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
}

/** A signed change (0.123 → "+12.3%"). */
export function change(value) {
  if (value === null || value === undefined) return "no previous data";
  const text = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1, minimumFractionDigits: 1, signDisplay: "exceptZero" }).format(value);
  return text;
}

/** `YYYY-MM-DD` (a local day of the organization) as "Mar 4, 2026". */
export function day(text, options = { month: "short", day: "numeric", year: "numeric" }) {
  if (!text) return "—";
  const [y, m, d] = text.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" }).format(Date.UTC(y, m - 1, d));
}

/** An RFC 3339 instant in the browser's time zone. */
export function instant(text) {
  if (!text) return "—";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(text));
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function bytes(value) {
  if (!value && value !== 0) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let v = value, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** A day as `YYYY-MM-DD`, for date inputs and the API. */
export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** `days` days before (negative: after) an ISO day. */
export function addDays(text, days) {
  const date = new Date(`${text}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return isoDay(date);
}
