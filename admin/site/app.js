// The admin SPA: sign-in, header (tenant, balance), hash routes to the screens. Token in sessionStorage only.
import { api, ApiError, session } from "./api.js";
import { h, notice, replace } from "./dom.js";
import { LANGUAGES, applyLanguage, fmt, language, setLanguage, t } from "./i18n.js";

const root = document.getElementById("app");

/**
 * A screen's view, imported on first visit: the sign-in screen loads only the shell (bench: `admin: first load of
 * the sign-in screen`), and each screen's module (with its own i18n keys) comes when it is first shown.
 */
function lazy(module, name) {
  return async (...args) => (await import(module))[name](...args);
}

// [pattern, view, title key]. A new screen adds its route here and its link to NAV (titles are i18n keys of
// messages.js: the header shows them before the screen's module is loaded).
const ROUTES = [
  [/^#\/compose$/, lazy("./compose.js", "composeView"), "nav.compose"],
  [/^#\/campaigns$/, lazy("./campaigns.js", "campaignsView"), "nav.campaigns"],
  [/^#\/campaigns\/([\w-]+)$/, lazy("./campaigns.js", "campaignView"), "title.campaign"],
  [/^#\/messages\/([\w-]+)$/, lazy("./campaigns.js", "messageView"), "title.message"],
  [/^#\/contacts$/, lazy("./contacts.js", "contactsView"), "nav.contacts"],
  [/^#\/tags$/, lazy("./contacts.js", "tagsView"), "nav.tags"],
  [/^#\/usage$/, lazy("./integrations.js", "usageView"), "nav.usage"],
  [/^#\/credits$/, lazy("./credits.js", "creditsView"), "credits.title"],
  [/^#\/keys$/, lazy("./integrations.js", "keysView"), "nav.keys"],
  [/^#\/webhooks$/, lazy("./integrations.js", "webhooksView"), "nav.webhooks"],
  [/^#\/webhooks\/([\w-]+)$/, lazy("./integrations.js", "webhookView"), "title.webhook"],
  [/^#\/settings$/, lazy("./settings.js", "settingsView"), "nav.settings"],
];
const NAV = [
  ["#/compose", "nav.compose"],
  ["#/campaigns", "nav.campaigns"],
  ["#/contacts", "nav.contacts"],
  ["#/tags", "nav.tags"],
  ["#/usage", "nav.usage"],
  ["#/credits", "credits.title"],
  ["#/keys", "nav.keys"],
  ["#/webhooks", "nav.webhooks"],
  ["#/settings", "nav.settings"],
];

/** What every screen gets: who is signed in, the tags by id, helpers, and cleanup on leaving. */
const ctx = {
  me: null,
  tags: new Map(),
  cleanups: [],
  get readOnly() {
    return ctx.me?.access !== "FULL";
  },
  onLeave(fn) {
    ctx.cleanups.push(fn);
  },
  /** Poll `fn` every `ms` while this screen is shown and the tab visible. */
  every(ms, fn) {
    const timer = setInterval(() => {
      if (!document.hidden) fn();
    }, ms);
    ctx.onLeave(() => clearInterval(timer));
  },
  async refreshMe() {
    const before = ctx.me;
    ctx.me = await api("GET", "/api/me");
    const balance = document.querySelector("#balance b");
    if (balance && before?.access === ctx.me.access && before?.tenantName === ctx.me.tenantName) {
      balance.textContent = fmt.number(ctx.me.balance); // in place: focus and the nav stay where they are
    } else {
      renderHeader();
    }
    return ctx.me;
  },
  async loadTags() {
    const tags = [];
    let cursor;
    do {
      const page = await api("GET", "/api/tags", { query: { limit: 100, cursor } });
      tags.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    ctx.tags = new Map(tags.map((t) => [t.id, t]));
    return tags;
  },
  tagName(id) {
    return ctx.tags.get(id)?.name ?? t("tags.deletedTag");
  },
  /** A read-only member sees why an action is disabled. */
  writeGuard() {
    return ctx.readOnly ? { disabled: true, title: t("app.readOnlyTitle") } : {};
  },
};

// ---------------------------------------------------------------------------------------------- sign in
function signInView(message) {
  const input = h("input", { type: "password", name: "token", autocomplete: "off", required: true, spellcheck: false });
  const status = h("div", { "aria-live": "polite" }, message && notice("error", message));
  const form = h(
    "form",
    { class: "card signin", onsubmit: (e) => signIn(e, input, status) },
    h("h1", {}, t("app.name")),
    h("p", {}, t("signin.intro")),
    h("div", { class: "field" }, h("label", { for: "token" }, t("signin.token")), Object.assign(input, { id: "token" })),
    h("button", { type: "submit" }, t("signin.submit")),
    status,
    languageSwitch(() => signInView(message)),
  );
  replace(document.getElementById("header"));
  replace(root, form);
  input.focus();
}

async function signIn(event, input, status) {
  event.preventDefault();
  const token = input.value.trim();
  const button = event.target.querySelector("button");
  button.disabled = true;
  session.token = token;
  try {
    await ctx.refreshMe();
    input.value = "";
    if (!location.hash || location.hash === "#/") location.hash = ctx.readOnly ? "#/campaigns" : "#/compose";
    route();
  } catch (error) {
    session.clear();
    ctx.me = null;
    const text =
      error instanceof ApiError && (error.status === 401 || error.status === 403)
        ? t("signin.refused")
        : error.sentence || String(error);
    replace(status, notice("error", text));
    button.disabled = false;
    input.focus();
  }
}

function signOut(message) {
  session.clear();
  ctx.me = null;
  leave();
  history.replaceState(null, "", location.pathname);
  signInView(message);
}

window.addEventListener("api:unauthorized", () => {
  if (ctx.me) signOut(t("signin.noLongerAccepted"));
});

// ---------------------------------------------------------------------------------------------- language
/** Buttons to change the language (remembered in this browser); `rerender` shows the screen again in it. */
function languageSwitch(rerender) {
  return h(
    "div",
    { class: "lang", role: "group", "aria-label": t("app.language") },
    Object.entries(LANGUAGES).map(([code, name]) =>
      h(
        "button",
        {
          type: "button",
          class: "small link",
          lang: code,
          "aria-pressed": String(code === language()),
          onclick: () => {
            if (code === language()) return;
            setLanguage(code);
            rerender();
          },
        },
        name,
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------- header
function renderHeader() {
  const header = document.getElementById("header");
  if (!ctx.me) return replace(header);
  const current = location.hash.split("/").slice(0, 2).join("/");
  replace(
    header,
    h(
      "div",
      { class: "bar-top" },
      h("strong", { class: "tenant", id: "tenant-name" }, ctx.me.tenantName),
      h(
        "span",
        { class: "balance", id: "balance", "aria-live": "polite" },
        t("header.balance"),
        " ",
        h("b", {}, fmt.number(ctx.me.balance)),
        " ",
        t("header.credits", { count: ctx.me.balance }),
      ),
      languageSwitch(() => route()),
      h("button", { class: "secondary small", onclick: () => signOut(t("signin.signedOut")) }, t("header.signOut")),
    ),
    h(
      "nav",
      { "aria-label": t("nav.label") },
      NAV.map(([href, label]) =>
        h("a", { href, "aria-current": current === href ? "page" : false }, t(label)),
      ),
    ),
    ctx.readOnly &&
      h(
        "p",
        { class: "notice warn", role: "status", id: "read-only" },
        t("app.readOnly"),
        " ",
        termsButton(),
      ),
  );
}

/** The accept-the-terms button of a read-only member, from waits.js once it has loaded (not part of the sign-in). */
function termsButton() {
  const slot = h("span", {});
  import("./waits.js").then(({ acceptTermsButton }) =>
    replace(
      slot,
      acceptTermsButton(ctx, (done) => {
        route().then(() => document.querySelector("section.screen")?.prepend(done));
      }),
    ),
  );
  return slot;
}

// ---------------------------------------------------------------------------------------------- router
function leave() {
  for (const fn of ctx.cleanups.splice(0)) fn();
}

async function route() {
  leave();
  if (!session.token) return signInView();
  if (!ctx.me) {
    try {
      await ctx.refreshMe();
    } catch (error) {
      return signOut(error.sentence);
    }
  }
  const hash = location.hash || "#/campaigns";
  const found = ROUTES.find(([pattern]) => pattern.test(hash));
  renderHeader();
  const main = h("section", { class: "screen", tabindex: "-1" });
  replace(root, main);
  if (!found) {
    replace(main, h("h1", {}, t("app.notFound")), h("p", {}, h("a", { href: "#/campaigns" }, t("app.toCampaigns"))));
    return;
  }
  const [pattern, view, title] = found;
  document.title = `${t(title)} · ${t("app.name")}`;
  const params = hash.match(pattern).slice(1);
  try {
    await view(main, ctx, ...params);
  } catch (error) {
    main.append(notice("error", error.sentence || String(error)));
    console.error(error);
  }
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
// The balance moves with deliveries and refunds: keep the header current while signed in.
setInterval(() => {
  if (ctx.me && !document.hidden) ctx.refreshMe().catch(() => {});
}, 15000);
applyLanguage();
route();
