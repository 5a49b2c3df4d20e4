// Campaigns (live counts), campaign detail (messages, cancel, resend), message detail (history timeline).
import { api, newKey } from "./api.js";
import { STATUS_ORDER, confirmDialog, field, h, isActive, notice, replace, statusBar, when, windowZone } from "./dom.js";
import { creditsText, fmt, statusName, t } from "./i18n.js";
import { exportButton } from "./integrations.js";
import { clickFacts, firstClickFact } from "./links.js";
import { cancelledBy, legalTime, waitReason } from "./waits.js";

const POLL_MS = 2000;

function excerpt(text, length = 80) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function tagList(ctx, ids) {
  return (ids || []).map((id) => ctx.tagName(id)).join(", ") || "—";
}

// ---------------------------------------------------------------------------------------------- list
export async function campaignsView(main, ctx) {
  await ctx.loadTags();
  const list = h("ol", { class: "campaigns", id: "campaigns" });
  const more = h("div");
  let items = [];
  let cursor = null;

  function render() {
    replace(
      list,
      items.length === 0 && h("li", { class: "muted" }, t("campaigns.none")),
      items.map((c) =>
        h(
          "li",
          { class: "card campaign", dataset: { queueId: c.queueId } },
          h(
            "div",
            { class: "head" },
            h("a", { href: `#/campaigns/${c.queueId}`, translate: "no" }, excerpt(c.message)),
            h("span", { class: "muted" }, when(c.createdAt)),
          ),
          h(
            "p",
            { class: "meta" },
            t("campaigns.messages", { count: c.totalMessages }),
            " · ",
            h("span", { class: "campaign-credits" }, creditsText(c.creditsDebited - c.creditsRefunded, ctx.me.creditPriceCop)),
            " · ",
            t("campaigns.tags"),
            " ",
            h("span", { translate: "no" }, tagList(ctx, c.tagIds)),
            c.cancelledAt
              ? [" · ", cancelledBy(c, ctx.me)]
              : c.scheduledFor && isActive(c.counts) && [" · ", c.scheduledReason ? waitReason(c.scheduledReason) : [t("campaigns.scheduledFor"), " ", when(c.scheduledFor, { zone: windowZone(c.country) })]],
            c.resendOf && [" · ", t("campaigns.resend")],
          ),
          statusBar(c.counts, c.totalMessages),
        ),
      ),
    );
    replace(more, cursor && h("button", { class: "secondary", onclick: () => load(false) }, t("campaigns.older")));
  }

  async function load(first) {
    const page = await api("GET", "/api/messages/queues", { query: { limit: 20, cursor: first ? undefined : cursor } });
    items = first ? page.items : items.concat(page.items);
    cursor = page.nextCursor;
    render();
  }

  /** Refresh the counts of the first page while any campaign on screen is still moving. */
  async function poll() {
    if (!items.some((c) => isActive(c.counts))) return;
    const page = await api("GET", "/api/messages/queues", { query: { limit: Math.min(100, Math.max(20, items.length)) } });
    const fresh = new Map(page.items.map((c) => [c.queueId, c]));
    const known = new Set(items.map((c) => c.queueId));
    items = [...page.items.filter((c) => !known.has(c.queueId) && items.length > 0 && c.createdAt > items[0].createdAt), ...items.map((c) => fresh.get(c.queueId) || c)];
    render();
  }

  replace(main, h("h1", {}, t("nav.campaigns")), h("p", {}, h("a", { href: "#/compose" }, t("campaigns.compose"))), list, more);
  await load(true);
  ctx.every(POLL_MS, () => poll().catch(() => {}));
}

// ---------------------------------------------------------------------------------------------- detail
export async function campaignView(main, ctx, queueId) {
  await ctx.loadTags();
  const summary = h("div", { id: "campaign-summary" });
  const actionsResult = h("div", { id: "campaign-actions-result", "aria-live": "polite" });
  const messages = h("div", { id: "messages" });
  const csvDownload = exportButton(queueId); // one node, kept across the summary's re-renders (a download may be running)
  let campaign = null;
  const cursors = [null]; // the cursor of each page seen, to go back
  let pageIndex = 0;
  let nextCursor = null;

  const resendPurpose = h(
    "select",
    { name: "resendPurpose", id: "resend-purpose", onchange: () => (resendPurpose.dataset.chosen = "yes") },
    h("option", { value: "marketing" }, t("purpose.marketing")),
    h("option", { value: "transactional" }, t("purpose.transactional")),
  );
  const status = h("select", { name: "status" }, h("option", { value: "" }, t("campaign.anyStatus")), STATUS_ORDER.map((s) => h("option", { value: s }, statusName(s))));
  const recipient = h("input", { name: "recipient", type: "search", inputmode: "tel", placeholder: "+573001234567" });
  const from = h("input", { name: "from", type: "datetime-local" });
  const to = h("input", { name: "to", type: "datetime-local" });

  // Only the newest answer is shown: a poll that started before a cancel must not overwrite what came after it.
  let campaignLoads = 0;
  let messageLoads = 0;

  async function loadCampaign() {
    const load = ++campaignLoads;
    const fresh = await api("GET", `/api/messages/queues/${encodeURIComponent(queueId)}`);
    if (load !== campaignLoads) return;
    campaign = fresh;
    renderSummary();
  }

  function renderSummary() {
    const c = campaign;
    if (c.purpose && !resendPurpose.dataset.chosen) resendPurpose.value = c.purpose; // resend as the original was sent
    const zone = windowZone(c.country);
    const cancellable = (c.counts?.SCHEDULED || 0) + (c.counts?.QUEUED || 0) > 0;
    const resendable = (c.counts?.FAILED || 0) + (c.counts?.UNDELIVERED || 0) > 0;
    replace(
      summary,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("campaign.created")),
        h("dd", {}, when(c.createdAt)),
        h("dt", {}, t("campaign.message")),
        h("dd", { class: "text", id: "campaign-text", translate: "no" }, c.message),
        h("dt", {}, t("campaign.tags")),
        h("dd", { translate: "no" }, tagList(ctx, c.tagIds)),
        h("dt", {}, t("campaign.messages")),
        h("dd", {}, t("campaign.messagesTimesSegments", { total: c.totalMessages, count: c.segmentsPerMessage })),
        h("dt", {}, t("campaign.credits")),
        h("dd", { id: "campaign-credits" }, t("campaign.creditsDebited", { debited: c.creditsDebited, refunded: c.creditsRefunded })),
        ctx.me.creditPriceCop && [
          h("dt", {}, t("money.pesos")),
          h("dd", { id: "campaign-pesos" }, fmt.cop((c.creditsDebited - c.creditsRefunded) * Number(ctx.me.creditPriceCop))),
        ],
        c.purpose && [h("dt", {}, t("campaign.purpose")), h("dd", {}, t(`purpose.${c.purpose}`))],
        c.sendAt && [h("dt", {}, t("campaign.sendAt")), h("dd", {}, when(c.sendAt, { zone }))],
        c.cancelledAt && [h("dt", {}, t("campaign.cancelledLabel")), h("dd", { id: "campaign-cancelled" }, cancelledBy(c, ctx.me))],
        !c.cancelledAt && c.scheduledFor && !c.scheduledReason && [h("dt", {}, t("campaign.scheduledFor")), h("dd", { id: "campaign-scheduled" }, when(c.scheduledFor, { zone }))],
        !c.cancelledAt && c.scheduledReason && [h("dt", {}, t("campaign.scheduledFor")), h("dd", { id: "campaign-scheduled" }, waitReason(c.scheduledReason, { id: "campaign-reason" }))],
        c.resendOf && [h("dt", {}, t("campaign.resendOf")), h("dd", {}, h("a", { href: `#/campaigns/${c.resendOf}` }, t("campaign.original")))],
        clickFacts(c),
      ),
      statusBar(c.counts, c.totalMessages),
      h(
        "table",
        { class: "counts", id: "counts" },
        h("caption", {}, t("campaign.byStatus")),
        h("tbody", {}, STATUS_ORDER.map((s) => h("tr", { dataset: { status: s } }, h("th", { scope: "row" }, statusName(s)), h("td", {}, fmt.number(c.counts?.[s] || 0))))),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { class: "danger", id: "cancel", onclick: cancel, ...ctx.writeGuard(), disabled: ctx.readOnly || !cancellable }, t("campaign.cancel")),
        h("button", { class: "secondary", id: "resend", onclick: resend, ...ctx.writeGuard(), disabled: ctx.readOnly || !resendable }, t("campaign.resend")),
        resendable && h("label", { class: "check", for: "resend-purpose" }, t("campaign.resendAs"), resendPurpose),
        csvDownload,
      ),
    );
  }

  async function cancel() {
    const waiting = (campaign.counts?.SCHEDULED || 0) + (campaign.counts?.QUEUED || 0);
    const ok = await confirmDialog(
      t("campaign.cancelTitle"),
      t("campaign.cancelText", { count: waiting }),
      t("campaign.cancel"),
    );
    if (!ok) return;
    try {
      const r = await api("POST", `/api/messages/queues/${encodeURIComponent(queueId)}/cancel`);
      replace(actionsResult, notice("ok", t("campaign.cancelled", { count: r.cancelled, refunded: r.refundedCredits })));
      ctx.refreshMe().catch(() => {});
      await Promise.all([loadCampaign(), loadMessages()]);
    } catch (error) {
      replace(actionsResult, notice("error", error.sentence));
    }
  }

  const resendKeys = {}; // one Idempotency-Key per purpose: a double confirmation resends once
  async function resend() {
    const ok = await confirmDialog(
      t("campaign.resendTitle"),
      t("campaign.resendText"),
      t("campaign.resendConfirm"),
      { kind: "primary" },
    );
    if (!ok) return;
    const purpose = resendPurpose.value;
    resendKeys[purpose] ||= newKey();
    try {
      const r = await api("POST", `/api/messages/queues/${encodeURIComponent(queueId)}/resend`, {
        headers: { "Idempotency-Key": resendKeys[purpose] },
        body: { purpose },
      });
      ctx.refreshMe().catch(() => {});
      replace(
        actionsResult,
        r.queueId
          ? [notice("ok", t("campaign.resent", { count: r.messages.length })), h("p", {}, h("a", { href: `#/campaigns/${r.queueId}`, id: "open-resend" }, t("campaign.openResend")))]
          : notice("info", t("campaign.nobodyToResend")),
      );
    } catch (error) {
      replace(actionsResult, notice("error", error.sentence));
    }
  }

  function toUtc(value) {
    return value ? new Date(value).toISOString() : undefined;
  }

  async function loadMessages() {
    const query = {
      queueId,
      status: status.value || undefined,
      recipient: recipient.value.trim() || undefined,
      from: toUtc(from.value),
      to: toUtc(to.value),
      limit: 20,
      cursor: cursors[pageIndex] || undefined,
    };
    const load = ++messageLoads;
    try {
      const page = await api("GET", "/api/messages", { query });
      if (load !== messageLoads) return;
      nextCursor = page.nextCursor;
      renderMessages(page.items);
    } catch (error) {
      replace(messages, notice("error", error.sentence));
    }
  }

  function renderMessages(items) {
    replace(
      messages,
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "list" },
          h("caption", {}, t("campaign.messagesPage", { page: pageIndex + 1 })),
          h("thead", {}, h("tr", {}, h("th", {}, t("campaign.recipient")), h("th", {}, t("campaign.status")), h("th", {}, t("campaign.updated")), h("th", {}, t("campaign.provider")))),
          h(
            "tbody",
            {},
            items.length === 0 && h("tr", {}, h("td", { colspan: 4, class: "muted" }, t("campaign.noMessages"))),
            items.map((m) =>
              h(
                "tr",
                { dataset: { status: m.status } },
                h("td", {}, h("a", { href: `#/messages/${m.id}` }, m.contactName ? [h("span", { translate: "no", class: "contact-name" }, m.contactName), " ", h("small", {}, m.recipient)] : m.recipient)),
                h("td", {}, h("span", { class: `pill s-${m.status}` }, statusName(m.status)), m.providerErrorCode && h("small", {}, ` ${m.providerErrorCode}`)),
                h("td", {}, when(m.updatedAt)),
                h("td", {}, m.provider),
              ),
            ),
          ),
        ),
      ),
      h(
        "div",
        { class: "actions pager" },
        h("button", { class: "secondary", disabled: pageIndex === 0, onclick: () => { pageIndex -= 1; loadMessages(); } }, t("campaign.previousPage")),
        h("button", { class: "secondary", disabled: !nextCursor, onclick: () => { cursors[pageIndex + 1] = nextCursor; pageIndex += 1; loadMessages(); } }, t("campaign.nextPage")),
      ),
    );
  }

  const filters = h(
    "form",
    {
      class: "filters row",
      onsubmit: (e) => {
        e.preventDefault();
        cursors.length = 1;
        pageIndex = 0;
        loadMessages();
      },
    },
    field(t("campaign.status"), status)[0],
    field(t("campaign.recipient"), recipient)[0],
    field(t("campaign.from"), from)[0],
    field(t("campaign.to"), to)[0],
    h("button", { type: "submit" }, t("campaign.filter")),
  );

  replace(
    main,
    h("p", {}, h("a", { href: "#/campaigns" }, `← ${t("nav.campaigns")}`)),
    h("h1", {}, t("title.campaign")),
    h("section", { class: "card" }, summary, actionsResult),
    h("section", { class: "card" }, h("h2", {}, t("campaign.messages")), filters, messages),
  );
  await loadCampaign();
  await loadMessages();
  ctx.every(POLL_MS, async () => {
    if (!campaign || !isActive(campaign.counts)) return;
    await loadCampaign().catch(() => {});
    if (pageIndex === 0) await loadMessages();
  });
}

// ---------------------------------------------------------------------------------------------- message
export async function messageView(main, ctx, messageId) {
  const m = await api("GET", `/api/messages/${encodeURIComponent(messageId)}`);
  const fact = (label, value) => value !== undefined && value !== null && value !== "" && [h("dt", {}, label), h("dd", {}, value)];
  replace(
    main,
    h("p", {}, h("a", { href: `#/campaigns/${m.queueId}` }, `← ${t("title.campaign")}`)),
    h("h1", {}, t("message.to", { recipient: m.contactName ? `${m.contactName} (${m.recipient})` : m.recipient })),
    h(
      "section",
      { class: "card" },
      h(
        "dl",
        { class: "facts", id: "message-facts" },
        fact(t("campaign.status"), h("span", { class: `pill s-${m.status}` }, statusName(m.status))),
        fact(t("message.contact"), m.contactName && h("span", { translate: "no", id: "message-contact" }, m.contactName)),
        fact(t("campaign.reason"), m.status === "SCHEDULED" && m.scheduledReason && waitReason(m.scheduledReason, { id: "message-reason" })),
        fact(t("message.text"), h("span", { class: "text", translate: "no" }, m.body)),
        fact(
          t("message.encoding"),
          `${m.encoding}, ${t("message.segments", { count: m.segments })}, ${t("message.credits", { count: m.credits })}`,
        ),
        fact(t("campaign.provider"), m.provider),
        fact(t("message.providerId"), m.providerMessageId),
        fact(t("message.providerError"), m.providerErrorCode),
        fact(t("message.providerPrice"), providerPrice(m)),
        fact(t("message.attempts"), fmt.number(m.attempts)),
        fact(t("message.sentAt"), m.sentAt && when(m.sentAt)),
        firstClickFact(m, when),
        fact(t("message.failure"), m.failureReason && `${m.failureReason}${m.permanentFailure ? ` (${t("message.permanent")})` : ""}`),
        fact(t("campaign.created"), when(m.createdAt)),
      ),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("message.history")),
      h(
        "ol",
        { class: "timeline", id: "history" },
        (m.history || []).map((step) =>
          h(
            "li",
            { dataset: { status: step.status } },
            h("span", { class: `pill s-${step.status}` }, statusName(step.status)),
            " ",
            when(step.at),
            step.code && h("code", {}, ` ${step.code}`),
            step.until
              ? h("p", {}, t("message.waitingUntil"), " ", legalTime(step.until, windowZone(m.recipient.startsWith("+57") ? "CO" : null)))
              : step.detail && h("p", {}, step.detail),
          ),
        ),
      ),
    ),
  );
}

/** A provider's price with its currency (the API gives the amount and, when the provider says, its ISO currency). */
function providerPrice(m) {
  if (m.providerPrice === undefined || m.providerPrice === null || m.providerPrice === "") return null;
  const amount = Number(m.providerPrice);
  if (Number.isNaN(amount)) return String(m.providerPrice);
  if (!m.providerPriceCurrency) return `${fmt.number(amount)} (${t("message.noCurrency")})`;
  return fmt.money(amount, m.providerPriceCurrency);
}
