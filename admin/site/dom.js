// Small DOM helpers: element builder, dates in the browser's time zone, notices, confirmation dialog.
import { fmt, statusName, t } from "./i18n.js";

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

const zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** A zone's name for people ("hora de Bogotá"); an unknown zone by its IANA name. */
export function zoneLabel(zone) {
  return zone === "America/Bogota" ? t("zone.bogota") : t("zone.other", { zone });
}

/**
 * A date in the browser's time zone and the chosen language, in a <time> element (the ISO value stays
 * machine-readable); with `zone` (a legal zone) that zone's time beside it when it differs from the browser's.
 */
export function when(iso, { zone, seconds = true } = {}) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const local = fmt.dateTime(date, { seconds });
  const extra = zone && zone !== zoneName ? ` (${fmt.dateTime(date, { year: false, timeZone: zone })}, ${zoneLabel(zone)})` : "";
  return h("time", { datetime: date.toISOString(), title: `${local} ${zoneName}` }, local + extra);
}

export const browserZone = zoneName;

/** An aria-live notice: kind "error" | "ok" | "info". */
export function notice(kind, text) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** A modal confirmation (native <dialog>: focus trapped, Escape cancels). Resolves true when confirmed. */
export function confirmDialog(title, text, confirmLabel, { kind = "danger" } = {}) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id: "confirm-title" }, title),
        h("div", { class: "dialog-body" }, text),
        h(
          "div",
          { class: "actions" },
          h("button", { value: "cancel", class: "secondary" }, t("dialog.keep")),
          h("button", { value: "confirm", class: kind }, confirmLabel),
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
  const label = present.map((s) => `${statusName(s)} ${fmt.number(counts[s])}`).join(", ") || t("status.none");
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
      present.map((s) => h("li", { dataset: { status: s } }, h("i", { class: `dot s-${s}` }), `${statusName(s)} `, h("b", {}, fmt.number(counts[s])))),
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
