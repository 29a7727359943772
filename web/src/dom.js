// The only way the dashboard builds markup: elements and text nodes through DOM APIs. Merchant and platform text
// (titles, names, error details) always becomes a text node, never markup, so it cannot inject anything.

/**
 * Creates an element. `props`: `class`, `on` ({event: handler}), `dataset`, boolean or string attributes (never
 * `style` or `on…` strings); children: nodes, strings (as text), arrays, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (name === "on") for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "value") element.value = value;
    else if (name === "checked" || name === "selected" || name === "disabled") element[name] = Boolean(value);
    else if (name.startsWith("on") || name === "style") throw new Error(`refusing attribute ${name}`);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

/** Appends children as `h` takes them. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** A unique id for label/control pairs. */
let counter = 0;
export const uid = (prefix) => `${prefix}-${++counter}`;
