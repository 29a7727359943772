// The API client: same-origin calls with the signed-in user's token and the chosen organization. Every error the
// API sends is problem+json (RFC 9457); it becomes an ApiProblem, whose field errors forms show next to their
// fields. A 401 hands control back to sign-in.

export class ApiProblem extends Error {
  constructor(status, body = {}) {
    super(body.detail || body.title || `request failed (${status})`);
    this.status = status;
    this.title = body.title || "Something went wrong";
    this.detail = body.detail || this.message;
    this.errors = Array.isArray(body.errors) ? body.errors : [];
  }

  /** The message for one field, if the API named it. */
  field(name) {
    return this.errors.find((e) => e.field === name)?.message;
  }
}

const context = { token: () => null, organization: () => null, onUnauthorized: () => {} };

/** Sets where tokens and the organization come from, and what a 401 does. */
export function configure(options) {
  Object.assign(context, options);
}

/** How often a request the rate limiter refused (429) is sent again, and the longest `Retry-After` waited for. */
const RATE_LIMIT_RETRIES = 3;
const MAX_RATE_LIMIT_WAIT_MS = 5000;

/** Resolves after `ms`, or rejects with the abort when `signal` fires first. */
function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason ?? new DOMException("aborted", "AbortError"));
    }, { once: true });
  });
}

/**
 * Calls the API. `body` is sent as JSON; the answer's JSON is returned (`null` for 204). Cookies are neither sent nor
 * kept unless `credentials: "same-origin"` asks (only the Shopify install, whose answer sets the cookie that binds
 * the install to this browser).
 *
 * A page loads several resources at once and a merchant may click through tabs faster than the organization's
 * request budget refills: a 429 is answered by the rate limiter before anything is done, so the same request is
 * sent again after its `Retry-After` (a few seconds at most, a few times), and only then shown as a problem.
 */
export async function api(path, { method = "GET", body, signal, organization = true, credentials = "omit" } = {}) {
  const headers = { Accept: "application/json" };
  const token = context.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  const org = organization ? context.organization() : null;
  if (org) headers["X-Organization-Id"] = org;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, credentials });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiProblem(0, { title: "Network error", detail: "The app could not be reached. Check your connection and try again." });
    }
    const retryAfter = response.headers.get("retry-after");
    const waitMs = retryAfter === null ? NaN : Number(retryAfter) * 1000;
    if (response.status !== 429 || attempt >= RATE_LIMIT_RETRIES || !(waitMs >= 0 && waitMs <= MAX_RATE_LIMIT_WAIT_MS)) break;
    await pause(Math.max(waitMs, 250), signal);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const problem = new ApiProblem(response.status, data || {});
    if (response.status === 401 && token) context.onUnauthorized(problem);
    throw problem;
  }
  return data;
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
