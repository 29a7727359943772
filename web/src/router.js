// Routes live in the URL fragment (#/products/<id>?q=…): links survive a reload on every host, whatever path the
// page is served under, and the server needs no fallback routes.

/** The current fragment as path segments and parameters. */
export function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search || "") };
}

/** Replaces the fragment's parameters without a new history entry or a re-render (filters, search text). */
export function setParams(params) {
  const { parts } = currentRoute();
  const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString();
  history.replaceState(null, "", `#/${parts.map(encodeURIComponent).join("/")}${search ? `?${search}` : ""}`);
}
