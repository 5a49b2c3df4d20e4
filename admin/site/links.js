// Tracked short links (issue 24, item 3): the compose toggle, a campaign's clicks and click rate, a message's
// first click. Texts are es-CO first, English second, kept here with addMessages (docs/admin-ui.md#languages).
import { h } from "./dom.js";
import { addMessages, fmt, t } from "./i18n.js";

addMessages({
  "links.track": ["Acortar y medir los enlaces", "Shorten and track the links"],
  "links.trackHint": [
    "Cada enlace http(s):// se envía como un enlace corto propio de cada destinatario; se cobra su largo y se cuentan los clics.",
    "Each http(s):// link is sent as a short link of each recipient's own; its length is what is charged, and clicks are counted.",
  ],
  "links.clicks": ["Clics (únicos)", "Clicks (unique)"],
  "links.clickCount": [
    { one: "{count} destinatario hizo clic", other: "{count} destinatarios hicieron clic" },
    { one: "{count} recipient clicked", other: "{count} recipients clicked" },
  ],
  "links.clickRate": ["Tasa de clics", "Click rate"],
  "links.clickRateHint": [
    "de los mensajes que llegaron al operador",
    "of the messages that reached the carrier",
  ],
  "links.firstClick": ["Primer clic", "First click"],
  "links.messageClicks": [
    { one: "{count} clic", other: "{count} clics" },
    { one: "{count} click", other: "{count} clicks" },
  ],
});

/** The compose checkbox: off by default; `onChange` re-prices (the short link's length is what is charged). */
export function trackLinksToggle(onChange) {
  const box = h("input", { type: "checkbox", id: "track-links", name: "trackLinks", onchange: onChange });
  const element = h(
    "div",
    { class: "field" },
    h("label", { class: "check", for: "track-links" }, box, " ", t("links.track")),
    h("small", { class: "muted", id: "track-links-hint" }, t("links.trackHint")),
  );
  return { element, checked: () => box.checked };
}

const percent = (rate) =>
  new Intl.NumberFormat(fmt.locale, { style: "percent", maximumFractionDigits: 1 }).format(rate);

/** The campaign detail's facts: unique clicks and the click rate. */
export function clickFacts(c) {
  if (!c.trackLinks) return null; // sent without tracked links: nothing was counted
  return [
    h("dt", {}, t("links.clicks")),
    h("dd", { id: "campaign-clicks" }, t("links.clickCount", { count: c.clicks || 0 })),
    h("dt", {}, t("links.clickRate")),
    h(
      "dd",
      { id: "campaign-click-rate" },
      c.clickRate === null || c.clickRate === undefined ? "—" : `${percent(c.clickRate)} ${t("links.clickRateHint")}`,
    ),
  ];
}

/** A message's first click (and how many), when it has one. */
export function firstClickFact(m, when) {
  if (!m.firstClickedAt) return null;
  return [
    h("dt", {}, t("links.firstClick")),
    h("dd", { id: "message-first-click" }, when(m.firstClickedAt), ` · ${t("links.messageClicks", { count: m.clicks })}`),
  ];
}
