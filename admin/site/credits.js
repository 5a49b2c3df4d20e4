// Credits: the balance (and its value in pesos when the operator set a price) and the ledger, page by page, each
// entry with its campaign.
import { api } from "./api.js";
import { h, notice, replace, when } from "./dom.js";
import { addMessages, creditsText, fmt, t } from "./i18n.js";

addMessages({
  "credits.balance": ["Saldo", "Balance"],
  "credits.price": ["Precio por crédito", "Price per credit"],
  "credits.ledger": ["Movimientos, los más recientes primero", "Ledger, newest first"],
  "credits.when": ["Fecha", "When"],
  "credits.kind": ["Movimiento", "Entry"],
  "credits.amount": ["Créditos", "Credits"],
  "credits.campaign": ["Campaña", "Campaign"],
  "credits.open": ["Ver la campaña", "Open the campaign"],
  "credits.none": ["Aún no hay movimientos.", "No entries yet."],
  "credits.more": ["Movimientos anteriores", "Older entries"],
  "credits.kind.TOPUP": ["Recarga", "Top-up"],
  "credits.kind.DEBIT": ["Cobro de envío", "Send charged"],
  "credits.kind.REFUND": ["Reembolso", "Refund"],
});

export async function creditsView(main, ctx) {
  const summary = h("div", { id: "credits-summary" });
  const rows = h("tbody", {});
  const more = h("div");
  const status = h("div", { "aria-live": "polite" });
  let cursor = null;

  function row(entry) {
    const sign = entry.amount > 0 ? "+" : "";
    return h(
      "tr",
      { dataset: { kind: entry.kind } },
      h("td", {}, when(entry.createdAt, { seconds: false })),
      h("td", {}, t(`credits.kind.${entry.kind}`)),
      h("td", { class: "num" }, `${sign}${fmt.number(entry.amount)}`),
      h("td", {}, entry.queueId ? h("a", { href: `#/campaigns/${entry.queueId}` }, t("credits.open")) : "—"),
    );
  }

  async function load(first) {
    try {
      const page = await api("GET", "/api/credits", { query: { limit: 25, cursor: first ? undefined : cursor } });
      if (first) {
        const price = ctx.me.creditPriceCop;
        replace(
          summary,
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, t("credits.balance")),
            h("dd", { id: "credits-balance" }, creditsText(page.balance, price)),
            price && [h("dt", {}, t("credits.price")), h("dd", {}, fmt.cop(Number(price)))],
          ),
        );
        rows.replaceChildren();
      }
      rows.append(...page.entries.map(row));
      if (rows.children.length === 0) rows.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, t("credits.none"))));
      cursor = page.nextCursor;
      replace(more, cursor && h("button", { class: "secondary", onclick: () => load(false) }, t("credits.more")));
    } catch (error) {
      replace(status, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("h1", {}, t("credits.title")),
    h("section", { class: "card" }, summary),
    status,
    h(
      "section",
      { class: "card" },
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "list", id: "ledger" },
          h("caption", {}, t("credits.ledger")),
          h(
            "thead",
            {},
            h("tr", {}, h("th", {}, t("credits.when")), h("th", {}, t("credits.kind")), h("th", {}, t("credits.amount")), h("th", {}, t("credits.campaign"))),
          ),
          rows,
        ),
      ),
      more,
    ),
  );
  await load(true);
}
