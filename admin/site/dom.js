// Small DOM helpers: element builder, dates in the browser's time zone, notices, confirmation dialog.

/** h("button", {class: "x", onclick}, "text", child...): attributes starting with "on" become listeners. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "style") Object.assign(element.style, value); // CSSOM, which the CSP allows (style attributes it does not)
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let fieldCounter = 0;
/** A labelled input: returns [wrapper, input]. */
export function field(label, input, hint) {
  const id = input.id || `f${++fieldCounter}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return [h("div", { class: "field" }, h("label", { for: id }, label), input, hint && h("small", { id: hintId }, hint)), input];
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** A date in the browser's time zone, in a <time> element (the ISO value stays machine-readable). */
export function when(iso, { zone } = {}) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const local = dateTime.format(date);
  const extra =
    zone && zone !== zoneName
      ? ` (${new Intl.DateTimeFormat(undefined, { timeStyle: "short", dateStyle: "short", timeZone: zone }).format(date)} ${zone})`
      : "";
  return h("time", { datetime: date.toISOString(), title: `${local} ${zoneName}` }, local + extra);
}

export const browserZone = zoneName;

/** An aria-live notice: kind "error" | "ok" | "info". */
export function notice(kind, text) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** A modal confirmation (native <dialog>: focus trapped, Escape cancels). Resolves true when confirmed. */
export function confirmDialog(title, text, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id: "confirm-title" }, title),
        h("p", {}, text),
        h(
          "div",
          { class: "actions" },
          h("button", { value: "cancel", class: "secondary" }, "Keep it"),
          h("button", { value: "confirm", class: "danger" }, confirmLabel),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export const STATUS_ORDER = ["SCHEDULED", "QUEUED", "SENDING", "SENT", "DELIVERED", "UNDELIVERED", "FAILED", "CANCELLED"];
export const ACTIVE_STATUSES = ["SCHEDULED", "QUEUED", "SENDING"];

/** A stacked bar of counts by status, with a text legend (the bar itself is described for screen readers). */
export function statusBar(counts, total) {
  const sum = total || STATUS_ORDER.reduce((n, s) => n + (counts?.[s] || 0), 0) || 1;
  const present = STATUS_ORDER.filter((s) => counts?.[s]);
  const label = present.map((s) => `${s} ${counts[s]}`).join(", ") || "no messages";
  return h(
    "div",
    { class: "status" },
    h(
      "div",
      { class: "bar", role: "img", "aria-label": label },
      present.map((s) => h("span", { class: `seg s-${s}`, style: { width: `${(100 * counts[s]) / sum}%` } })),
    ),
    h(
      "ul",
      { class: "legend" },
      present.map((s) => h("li", { dataset: { status: s } }, h("i", { class: `dot s-${s}` }), `${s} `, h("b", {}, counts[s]))),
    ),
  );
}

export function isActive(counts) {
  return ACTIVE_STATUSES.some((s) => (counts?.[s] || 0) > 0);
}

/** Zone of a campaign's legal send window, by country (shown beside browser times where windows apply). */
export function windowZone(country) {
  return { CO: "America/Bogota" }[country] || null;
}
