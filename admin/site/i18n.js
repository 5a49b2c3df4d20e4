// Languages of the admin: Spanish (Colombia) by default, English on request, remembered per browser (localStorage).
//
// Every text a person reads goes through t("area.key", {params}); numbers, money and dates through fmt.*, which use
// Intl in the chosen locale. Every key holds both languages side by side, [es-CO, en] (a plural: [{one, other},
// {one, other}]), so a key cannot be added in one language only. Screens may bring their own keys with
// addMessages({ "settings.title": ["Ajustes", "Settings"] }) from their own module (keys prefixed with the screen's
// name), so two screens never edit the same dictionary lines.
// A key missing in the chosen language is shown as ⟦key⟧ and recorded in window.__i18nMissing: the browser test of
// every screen fails on it. How to add a key: docs/admin-ui.md#languages.
import { MESSAGES } from "./messages.js";

export const LANGUAGES = { "es-CO": "Español", en: "English" };
export const DEFAULT_LANGUAGE = "es-CO";
const LANG_KEY = "smsAdmin.lang";
const INTL_LOCALE = { "es-CO": "es-CO", en: "en-US" };

const ORDER = ["es-CO", "en"]; // the position of each language in a key's pair
const dictionaries = { "es-CO": {}, en: {} };
window.__i18nMissing = window.__i18nMissing || [];

function stored() {
  try {
    return localStorage.getItem(LANG_KEY);
  } catch {
    return null; // storage disabled: the default language
  }
}

let current = LANGUAGES[stored()] ? stored() : DEFAULT_LANGUAGE;

/** The chosen language ("es-CO" | "en"). */
export function language() {
  return current;
}

/** Choose a language: remembered in this browser, declared on <html lang>. Callers re-render. */
export function setLanguage(lang) {
  if (!LANGUAGES[lang]) throw new Error(`unknown language ${lang}`);
  current = lang;
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
  applyLanguage();
}

/** <html lang> and the static texts of index.html in the chosen language. */
export function applyLanguage() {
  document.documentElement.lang = current;
  const skip = document.querySelector("a.skip");
  if (skip) skip.textContent = t("app.skip");
}

/** Add keys: { key: [es-CO, en] }. A key defined twice, or without both languages, is a mistake and throws. */
export function addMessages(messages) {
  for (const [key, pair] of Object.entries(messages)) {
    if (!Array.isArray(pair) || pair.length !== ORDER.length || pair.some((v) => v === undefined || v === "")) {
      throw new Error(`i18n key without both languages: ${key}`);
    }
    ORDER.forEach((lang, i) => {
      if (key in dictionaries[lang]) throw new Error(`i18n key defined twice: ${key}`);
      dictionaries[lang][key] = pair[i];
    });
  }
}
addMessages(MESSAGES);

/** The keys of each language (the browser test checks both have the same ones). */
export function keys() {
  return Object.fromEntries(Object.keys(LANGUAGES).map((lang) => [lang, Object.keys(dictionaries[lang]).sort()]));
}

/**
 * The text of `key` in the chosen language, with {name} placeholders filled from params. A value may be an object
 * of plural forms ({one, other}, chosen by params.count with Intl.PluralRules). Numbers in params are formatted.
 */
export function t(key, params = {}) {
  let value = dictionaries[current][key];
  if (value === undefined) {
    window.__i18nMissing.push(`${current}:${key}`);
    return `⟦${key}⟧`;
  }
  if (typeof value === "object") {
    const form = new Intl.PluralRules(INTL_LOCALE[current]).select(Number(params.count ?? 0));
    value = value[form] ?? value.other;
  }
  return value.replace(/\{(\w+)\}/g, (match, name) => {
    if (!(name in params)) return match;
    const param = params[name];
    return typeof param === "number" ? fmt.number(param) : String(param ?? "");
  });
}

/** Intl formatting in the chosen language. */
export const fmt = {
  get locale() {
    return INTL_LOCALE[current];
  },
  number(n) {
    return new Intl.NumberFormat(INTL_LOCALE[current]).format(n);
  },
  /** Colombian pesos: whole pesos unless the amount has cents. */
  cop(amount) {
    const cents = Math.round(Number(amount) * 100) % 100 !== 0;
    return new Intl.NumberFormat(INTL_LOCALE[current], {
      style: "currency",
      currency: "COP",
      minimumFractionDigits: cents ? 2 : 0,
      maximumFractionDigits: 2,
    }).format(amount);
  },
  /** An amount in any ISO 4217 currency (a provider's price). */
  money(amount, currency) {
    return new Intl.NumberFormat(INTL_LOCALE[current], { style: "currency", currency, maximumFractionDigits: 6 }).format(
      amount,
    );
  },
  /** "lun, 7 dic 2026, 07:00" / "Mon, Dec 7, 2026, 07:00 AM": a weekday and a month name are never ambiguous. */
  dateTime(date, { seconds = false, year = true, timeZone } = {}) {
    return new Intl.DateTimeFormat(INTL_LOCALE[current], {
      weekday: "short",
      day: "numeric",
      month: "short",
      year: year ? "numeric" : undefined,
      hour: "2-digit",
      minute: "2-digit",
      second: seconds ? "2-digit" : undefined,
      hourCycle: current === "es-CO" ? "h23" : undefined,
      timeZone,
    }).format(date);
  },
  list(items) {
    return new Intl.ListFormat(INTL_LOCALE[current], { style: "long", type: "conjunction" }).format(items);
  },
};

/** A status name (SCHEDULED, SENT, ...) in the chosen language. */
export function statusName(status) {
  return t(`status.${status}`);
}

/** Credits with their price in pesos when the operator set one (GET /api/me creditPriceCop): "12 créditos ($ 162)". */
export function creditsText(credits, pricePerCredit) {
  const text = t("money.credits", { count: credits });
  const price = Number(pricePerCredit);
  return pricePerCredit && Number.isFinite(price) ? `${text} (${fmt.cop(credits * price)})` : text;
}
