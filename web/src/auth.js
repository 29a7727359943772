// Sign-in and the session.
//
// Production signs in with Supabase Auth's documented REST endpoints (GoTrue): e-mail and password
// (`/auth/v1/token?grant_type=password`) or a magic link (`/auth/v1/otp`) in the PKCE flow, so the link brings back a
// one-time code, never a token, and the code is exchanged with the verifier this browser kept
// (`grant_type=pkce`). Tokens are refreshed before they expire (`grant_type=refresh_token`) and revoked on sign-out
// (`/auth/v1/logout`). `handler dev` adds "Sign in as the development user" (`POST /api/v1/dev/sign-in`).
//
// Where the session lives: in memory, mirrored to sessionStorage so a reload keeps it. sessionStorage is per tab and
// gone when the tab closes, is never sent with requests (no cookie, so no CSRF), and tokens never appear in URLs.
// The page's CSP (script-src 'self', no inline script) is what protects it from script injection, and every
// merchant string is rendered as text. The PKCE verifier alone goes to localStorage, because the magic link may
// open in another tab; it is useless without the code from the e-mail and is deleted once used.

const SESSION_KEY = "raa.session";
const VERIFIER_KEY = "raa.pkce-verifier";

let session = null;
let refreshTimer = null;
let onChange = () => {};

export function currentSession() {
  return session;
}

export function accessToken() {
  return session?.access_token ?? null;
}

/** Called with the new session (or null) whenever it changes. */
export function onSessionChange(callback) {
  onChange = callback;
}

function store(next) {
  session = next;
  clearTimeout(refreshTimer);
  if (next) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
    scheduleRefresh();
  } else {
    sessionStorage.removeItem(SESSION_KEY);
  }
  onChange(session);
}

function saved() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

/** Whether this tab keeps a session that needs no refresh before use (so the API may be called right away). */
export function savedSessionIsFresh() {
  const kept = saved();
  if (!kept?.access_token || kept.expires_at - Date.now() < 30_000) return false;
  session = kept;
  return true;
}

/** The session kept in this tab, if it is still valid (or can be refreshed). */
export async function restore(config) {
  const kept = saved();
  if (!kept?.access_token) return null;
  session = kept;
  if (kept.provider === "supabase") supabaseConfig = config.supabase;
  if (kept.expires_at - Date.now() < 30_000) {
    if (kept.provider === "supabase" && kept.refresh_token && config.supabase) {
      try {
        await refresh(config);
      } catch {
        store(null);
      }
    } else {
      store(null);
    }
  } else {
    scheduleRefresh();
  }
  return session;
}

let supabaseConfig = null;

/** Renews the token before it expires: a margin of a minute, or half the lifetime for short-lived tokens. */
function scheduleRefresh() {
  if (!session) return;
  const remaining = session.expires_at - Date.now();
  const lifetime = session.lifetime_ms || remaining;
  const margin = Math.min(60_000, lifetime / 2);
  const wait = Math.max(1_000, remaining - margin);
  refreshTimer = setTimeout(async () => {
    try {
      if (session?.provider === "supabase" && supabaseConfig) await refresh({ supabase: supabaseConfig });
      else if (session?.provider === "dev") await signInDev();
    } catch {
      store(null);
    }
  }, wait);
}

function fromTokenResponse(body, provider) {
  const expiresIn = Number(body.expires_in) || 3600;
  const expiresAt = body.expires_at
    ? (typeof body.expires_at === "number" ? body.expires_at * 1000 : Date.parse(body.expires_at))
    : Date.now() + expiresIn * 1000;
  return {
    provider,
    access_token: body.access_token,
    refresh_token: body.refresh_token ?? null,
    expires_at: expiresAt,
    lifetime_ms: expiresIn * 1000,
    user: { id: body.user?.id ?? null, email: body.user?.email ?? null },
  };
}

/** A failed sign-in, with Supabase's message or ours. */
export class SignInError extends Error {}

async function gotrue(config, path, body, { token } = {}) {
  const headers = { "Content-Type": "application/json", apikey: config.supabase.anon_key };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`${config.supabase.url}/auth/v1/${path}`, { method: "POST", headers, body: JSON.stringify(body ?? {}), credentials: "omit" });
  } catch {
    throw new SignInError("Supabase Auth could not be reached. Check your connection and try again.");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new SignInError(data.error_description || data.msg || data.message || data.error || `Sign-in failed (${response.status}).`);
  }
  return data;
}

export async function signInWithPassword(config, email, password) {
  supabaseConfig = config.supabase;
  const body = await gotrue(config, "token?grant_type=password", { email, password });
  store(fromTokenResponse(body, "supabase"));
}

export async function refresh(config) {
  supabaseConfig = config.supabase;
  const body = await gotrue(config, "token?grant_type=refresh_token", { refresh_token: session.refresh_token });
  store(fromTokenResponse(body, "supabase"));
}

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Sends a magic link (PKCE): the link will come back to this page with `?code=`. */
export async function sendMagicLink(config, email) {
  supabaseConfig = config.supabase;
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(48)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  localStorage.setItem(VERIFIER_KEY, verifier);
  const back = `${location.origin}${location.pathname}`;
  await gotrue(config, `otp?redirect_to=${encodeURIComponent(back)}`, {
    email,
    create_user: false,
    code_challenge: challenge,
    code_challenge_method: "s256",
  });
}

/** Completes a magic link if this page was opened from one; true when it signed in. */
export async function completeMagicLink(config) {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!code || !config.supabase) return false;
  supabaseConfig = config.supabase;
  params.delete("code");
  const rest = params.toString();
  history.replaceState(null, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
  const verifier = localStorage.getItem(VERIFIER_KEY);
  localStorage.removeItem(VERIFIER_KEY);
  if (!verifier) throw new SignInError("This sign-in link was opened in another browser. Ask for a new one here.");
  const body = await gotrue(config, "token?grant_type=pkce", { auth_code: code, code_verifier: verifier });
  store(fromTokenResponse(body, "supabase"));
  return true;
}

export async function signInDev() {
  const response = await fetch("/api/v1/dev/sign-in", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: "{}",
    credentials: "omit",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new SignInError(data.detail || "Development sign-in failed.");
  store(fromTokenResponse(data, "dev"));
}

/** Signs out: revokes the refresh token at Supabase (best effort) and forgets the session. */
export async function signOut(config) {
  const ending = session;
  store(null);
  if (ending?.provider === "supabase" && config.supabase) {
    await gotrue(config, "logout", {}, { token: ending.access_token }).catch(() => {});
  }
}

/** Forgets the session without calling anyone (the API refused the token). */
export function forget() {
  store(null);
}
