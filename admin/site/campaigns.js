// Campaigns (live counts), campaign detail (messages, cancel, resend), message detail (history timeline).
import { api, newKey } from "./api.js";
import { STATUS_ORDER, confirmDialog, field, h, isActive, notice, replace, statusBar, when, windowZone } from "./dom.js";

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
      items.length === 0 && h("li", { class: "muted" }, "No campaigns yet."),
      items.map((c) =>
        h(
          "li",
          { class: "card campaign", dataset: { queueId: c.queueId } },
          h(
            "div",
            { class: "head" },
            h("a", { href: `#/campaigns/${c.queueId}` }, excerpt(c.message)),
            h("span", { class: "muted" }, when(c.createdAt)),
          ),
          h(
            "p",
            { class: "meta" },
            `${c.totalMessages} messages · tags: ${tagList(ctx, c.tagIds)}`,
            c.scheduledFor && [" · scheduled for ", when(c.scheduledFor, { zone: windowZone(c.country) })],
            c.resendOf && " · resend",
          ),
          statusBar(c.counts, c.totalMessages),
        ),
      ),
    );
    replace(more, cursor && h("button", { class: "secondary", onclick: () => load(false) }, "Older campaigns"));
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

  replace(main, h("h1", {}, "Campaigns"), h("p", {}, h("a", { href: "#/compose" }, "Compose a new campaign")), list, more);
  await load(true);
  ctx.every(POLL_MS, () => poll().catch(() => {}));
}

// ---------------------------------------------------------------------------------------------- detail
export async function campaignView(main, ctx, queueId) {
  await ctx.loadTags();
  const summary = h("div", { id: "campaign-summary" });
  const actionsResult = h("div", { id: "campaign-actions-result", "aria-live": "polite" });
  const messages = h("div", { id: "messages" });
  let campaign = null;
  const cursors = [null]; // the cursor of each page seen, to go back
  let pageIndex = 0;
  let nextCursor = null;

  const resendPurpose = h(
    "select",
    { name: "resendPurpose", id: "resend-purpose", onchange: () => (resendPurpose.dataset.chosen = "yes") },
    h("option", { value: "marketing" }, "marketing"),
    h("option", { value: "transactional" }, "transactional"),
  );
  const status = h("select", { name: "status" }, h("option", { value: "" }, "Any"), STATUS_ORDER.map((s) => h("option", { value: s }, s)));
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
        h("dt", {}, "Created"),
        h("dd", {}, when(c.createdAt)),
        h("dt", {}, "Message"),
        h("dd", { class: "text", id: "campaign-text" }, c.message),
        h("dt", {}, "Tags"),
        h("dd", {}, tagList(ctx, c.tagIds)),
        h("dt", {}, "Messages"),
        h("dd", {}, `${c.totalMessages} × ${c.segmentsPerMessage} segment${c.segmentsPerMessage === 1 ? "" : "s"}`),
        h("dt", {}, "Credits"),
        h("dd", { id: "campaign-credits" }, `${c.creditsDebited} debited, ${c.creditsRefunded} refunded`),
        c.purpose && [h("dt", {}, "Purpose"), h("dd", {}, c.purpose)],
        c.sendAt && [h("dt", {}, "Send at"), h("dd", {}, when(c.sendAt, { zone }))],
        c.scheduledFor && [h("dt", {}, "Scheduled for"), h("dd", { id: "campaign-scheduled" }, when(c.scheduledFor, { zone }))],
        c.resendOf && [h("dt", {}, "Resend of"), h("dd", {}, h("a", { href: `#/campaigns/${c.resendOf}` }, "the original campaign"))],
      ),
      statusBar(c.counts, c.totalMessages),
      h(
        "table",
        { class: "counts", id: "counts" },
        h("caption", {}, "Messages by status"),
        h("tbody", {}, STATUS_ORDER.map((s) => h("tr", { dataset: { status: s } }, h("th", { scope: "row" }, s), h("td", {}, c.counts?.[s] || 0)))),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { class: "danger", id: "cancel", onclick: cancel, ...ctx.writeGuard(), disabled: ctx.readOnly || !cancellable }, "Cancel campaign"),
        h("button", { class: "secondary", id: "resend", onclick: resend, ...ctx.writeGuard(), disabled: ctx.readOnly || !resendable }, "Resend to failed"),
        resendable && h("label", { class: "check", for: "resend-purpose" }, "as", resendPurpose),
      ),
    );
  }

  async function cancel() {
    const waiting = (campaign.counts?.SCHEDULED || 0) + (campaign.counts?.QUEUED || 0);
    const ok = await confirmDialog(
      "Cancel this campaign?",
      `The ${waiting} messages not yet sent will not be sent, and their credits will be refunded. Messages already sent stay sent.`,
      "Cancel campaign",
    );
    if (!ok) return;
    try {
      const r = await api("POST", `/api/messages/queues/${encodeURIComponent(queueId)}/cancel`);
      replace(actionsResult, notice("ok", `Cancelled ${r.cancelled} messages; ${r.refundedCredits} credits refunded.`));
      ctx.refreshMe().catch(() => {});
      await Promise.all([loadCampaign(), loadMessages()]);
    } catch (error) {
      replace(actionsResult, notice("error", error.sentence));
    }
  }

  const resendKeys = {}; // one Idempotency-Key per purpose: a double confirmation resends once
  async function resend() {
    const ok = await confirmDialog(
      "Resend to the failed recipients?",
      "A new campaign goes to the recipients whose message failed or was not delivered (not to invalid or opted-out numbers). It is charged like a send.",
      "Resend",
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
          ? [notice("ok", `Resent: a new campaign of ${r.messages.length} messages.`), h("p", {}, h("a", { href: `#/campaigns/${r.queueId}`, id: "open-resend" }, "Open the new campaign"))]
          : notice("info", "Nobody qualifies for a resend (invalid and opted-out numbers are left out). Nothing was charged."),
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
          h("caption", {}, `Messages, page ${pageIndex + 1}`),
          h("thead", {}, h("tr", {}, h("th", {}, "Recipient"), h("th", {}, "Status"), h("th", {}, "Updated"), h("th", {}, "Provider"))),
          h(
            "tbody",
            {},
            items.length === 0 && h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No messages match.")),
            items.map((m) =>
              h(
                "tr",
                { dataset: { status: m.status } },
                h("td", {}, h("a", { href: `#/messages/${m.id}` }, m.recipient)),
                h("td", {}, h("span", { class: `pill s-${m.status}` }, m.status), m.providerErrorCode && h("small", {}, ` ${m.providerErrorCode}`)),
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
        h("button", { class: "secondary", disabled: pageIndex === 0, onclick: () => { pageIndex -= 1; loadMessages(); } }, "Previous page"),
        h("button", { class: "secondary", disabled: !nextCursor, onclick: () => { cursors[pageIndex + 1] = nextCursor; pageIndex += 1; loadMessages(); } }, "Next page"),
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
    field("Status", status)[0],
    field("Recipient", recipient)[0],
    field("From", from)[0],
    field("To", to)[0],
    h("button", { type: "submit" }, "Filter"),
  );

  replace(
    main,
    h("p", {}, h("a", { href: "#/campaigns" }, "← Campaigns")),
    h("h1", {}, "Campaign"),
    h("section", { class: "card" }, summary, actionsResult),
    h("section", { class: "card" }, h("h2", {}, "Messages"), filters, messages),
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
    h("p", {}, h("a", { href: `#/campaigns/${m.queueId}` }, "← Campaign")),
    h("h1", {}, `Message to ${m.recipient}`),
    h(
      "section",
      { class: "card" },
      h(
        "dl",
        { class: "facts", id: "message-facts" },
        fact("Status", h("span", { class: `pill s-${m.status}` }, m.status)),
        fact("Text", h("span", { class: "text" }, m.body)),
        fact("Encoding", `${m.encoding}, ${m.segments} segment${m.segments === 1 ? "" : "s"}, ${m.credits} credit${m.credits === 1 ? "" : "s"}`),
        fact("Provider", m.provider),
        fact("Provider message id", m.providerMessageId),
        fact("Provider error code", m.providerErrorCode),
        fact("Provider price", m.providerPrice),
        fact("Attempts", String(m.attempts)),
        fact("Sent at", m.sentAt && when(m.sentAt)),
        fact("Failure", m.failureReason && `${m.failureReason}${m.permanentFailure ? " (permanent)" : ""}`),
        fact("Created", when(m.createdAt)),
      ),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Status history"),
      h(
        "ol",
        { class: "timeline", id: "history" },
        (m.history || []).map((step) =>
          h(
            "li",
            { dataset: { status: step.status } },
            h("span", { class: `pill s-${step.status}` }, step.status),
            " ",
            when(step.at),
            step.code && h("code", {}, ` ${step.code}`),
            step.detail && h("p", {}, step.detail),
          ),
        ),
      ),
    ),
  );
}
