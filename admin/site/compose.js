// Compose: tags, message with live count/encoding/segments, cost preview, sendAt/purpose, send once.
import { api, newKey } from "./api.js";
import { browserZone, confirmDialog, field, h, notice, replace, when, windowZone, zoneLabel } from "./dom.js";
import { creditsText, fmt, t } from "./i18n.js";
import { countSegments } from "./segments.js";
import { previewExtras, templatePicker, testSendBox } from "./convert.js";
import { trackLinksToggle } from "./links.js";
import { waitReason } from "./waits.js";

const MAX_LENGTH = 1600;

/** "2026-11-28T08:00" from <input type=datetime-local> (browser's zone) as ISO 8601 with its offset. */
export function localToIso(value) {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${value.length === 16 ? value + ":00" : value}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

export async function composeView(main, ctx) {
  /** When a preview or a send waits: why and until when (the API's scheduledReason), else the time alone. */
  const waitsText = (p, attrs = {}) =>
    p.scheduledReason
      ? waitReason(p.scheduledReason, attrs)
      : [t("compose.waitsUntil"), " ", when(p.scheduledFor, { zone: windowZone(ctx.me.country), seconds: false })];

  const tags = await ctx.loadTags();
  const chosen = new Set();
  let key = null; // one Idempotency-Key per composed body: a double click or a retry sends once
  let keyedBody = null;
  let previewTimer = null;
  let encoding = "auto"; // or gsm-transliterate, once the suggestion is accepted (issue 24)
  let sampleContact = null; // the preview's first recipient: a test send renders with it
  let templates = null; // the template picker (convert.js), set below
  let confirming = false; // a second click while the confirmation is open does nothing
  const tracking = trackLinksToggle(() => changed()); // tracked short links (links.js)

  const text = h("textarea", { rows: 5, maxlength: MAX_LENGTH, name: "message", required: true });
  const counter = h("p", { class: "counter", id: "counter", "aria-live": "polite" });
  const purpose = h(
    "select",
    { name: "purpose" },
    h("option", { value: "marketing" }, t("compose.purposeMarketing")),
    h("option", { value: "transactional" }, t("compose.purposeTransactional")),
  );
  const sendAt = h("input", { type: "datetime-local", name: "sendAt" });
  const preview = h("div", { id: "preview", class: "preview", "aria-live": "polite" });
  const result = h("div", { id: "send-result", "aria-live": "polite" });
  const sendButton = h("button", { type: "submit", id: "send", ...ctx.writeGuard() }, t("compose.send"));
  const previewButton = h("button", { type: "button", class: "secondary", onclick: () => runPreview() }, t("compose.previewButton"));

  const tagBoxes = h(
    "fieldset",
    { class: "tags" },
    h("legend", {}, t("compose.tagsLegend")),
    tags.length === 0 && h("p", {}, t("compose.noTags")),
    tags.map((tag) =>
      h(
        "label",
        { class: "check" },
        h("input", {
          type: "checkbox",
          value: tag.id,
          name: "tag",
          onchange: (e) => {
            e.target.checked ? chosen.add(tag.id) : chosen.delete(tag.id);
            changed();
          },
        }),
        " ",
        h("span", { translate: "no" }, tag.name),
        " ",
        h("small", {}, `(${fmt.number(tag.contactCount)})`),
      ),
    ),
  );

  function body() {
    const payload = { message: text.value, tagIds: [...chosen], purpose: purpose.value };
    const at = localToIso(sendAt.value);
    if (at) payload.sendAt = at;
    if (encoding !== "auto") payload.encoding = encoding;
    if (tracking?.checked()) payload.trackLinks = true;
    const templateId = templates?.templateId();
    if (templateId) payload.templateId = templateId;
    return payload;
  }

  function updateCounter() {
    const count = countSegments(text.value);
    const parts = [
      t("compose.characters", { length: text.value.length, max: MAX_LENGTH }),
      count.encoding,
      t("compose.segments", { count: count.segments, perSegment: count.perSegment }),
    ];
    replace(
      counter,
      parts.join(" · "),
      count.offender &&
        h("small", {}, ` — ${t("compose.offender", { character: count.offender })}`),
    );
  }

  function changed() {
    updateCounter();
    replace(result);
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 500);
  }

  async function runPreview() {
    clearTimeout(previewTimer);
    const payload = body();
    if (!payload.message.trim() || payload.tagIds.length === 0) {
      sendButton.textContent = t("compose.send");
      replace(preview, h("p", { class: "muted" }, t("compose.previewHint")));
      return;
    }
    replace(preview, h("p", { class: "muted" }, t("compose.calculating")));
    try {
      const p = await api("POST", "/api/messages/sms/tags/preview", { body: payload });
      if (JSON.stringify(payload) !== JSON.stringify(body())) return; // a newer preview is on its way
      sendButton.textContent = p.scheduledFor ? t("compose.schedule") : t("compose.send");
      const short = p.creditsRequired > p.creditsAvailable;
      replace(
        preview,
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, t("compose.recipients")),
          h("dd", { id: "preview-recipients" }, fmt.number(p.recipients)),
          h("dt", {}, t("compose.skipped")),
          h(
            "dd",
            {},
            t("compose.skippedDetail", { invalid: p.skippedInvalid, optedOut: p.skippedOptedOut, duplicates: p.duplicatesRemoved }),
          ),
          h("dt", {}, t("compose.segmentsLabel")),
          h("dd", {}, t("compose.perMessage", { count: p.segments, encoding: p.encoding })),
          h("dt", {}, t("compose.credits")),
          h(
            "dd",
            { id: "preview-credits", class: short ? "bad" : "" },
            t("compose.creditsOf", { required: p.creditsRequired, available: p.creditsAvailable }),
            ctx.me.creditPriceCop && [" · ", h("span", { id: "preview-pesos" }, fmt.cop(p.creditsRequired * Number(ctx.me.creditPriceCop)))],
          ),
          h("dt", {}, t("compose.delivery")),
          h(
            "dd",
            { id: "preview-when" },
            p.scheduledFor ? waitsText(p) : t("compose.now"),
          ),
        ),
        p.estimated && h("p", { class: "notice info", role: "status", id: "preview-estimated" }, t("compose.estimated")),
        short && notice("error", t("compose.short")),
        ...previewExtras(p, encoding, (value) => {
          encoding = value;
          changed();
        }),
      );
      sampleContact = p.samples?.[0]?.contactId || null;
    } catch (error) {
      replace(preview, notice("error", error.sentence));
    }
  }

  /** The confirmation every send goes through: recipients, credits and pesos, and when it goes. */
  async function confirmSend(payload) {
    let p;
    try {
      p = await api("POST", "/api/messages/sms/tags/preview", { body: payload });
    } catch (error) {
      replace(result, notice("error", error.sentence));
      return false;
    }
    if (p.recipients === 0) return true; // nothing will be charged: the API answers so
    const facts = h(
      "dl",
      { class: "facts", id: "confirm-facts" },
      h("dt", {}, t("compose.recipients")),
      h("dd", {}, fmt.number(p.recipients)),
      h("dt", {}, t("compose.credits")),
      h("dd", { id: "confirm-credits" }, creditsText(p.creditsRequired, ctx.me.creditPriceCop)),
      !ctx.me.creditPriceCop && [h("dt", {}, t("money.pesos")), h("dd", {}, t("money.noPrice"))],
      h("dt", {}, t("compose.delivery")),
      h("dd", { id: "confirm-when" }, p.scheduledFor ? waitsText(p) : t("compose.now")),
    );
    return confirmDialog(
      p.scheduledFor ? t("compose.confirmScheduleTitle") : t("compose.confirmTitle"),
      [facts, p.estimated && h("p", { id: "confirm-estimated" }, t("compose.estimated")), h("p", { id: "confirm-charge" }, t(p.estimated ? "compose.confirmTextPlanned" : "compose.confirmText"))],
      p.scheduledFor ? t("compose.schedule") : t("compose.send"),
      { kind: "primary" },
    );
  }

  async function send(event) {
    event.preventDefault();
    if (sendButton.disabled || confirming) return;
    const payload = body();
    if (payload.tagIds.length === 0) return replace(result, notice("error", t("compose.chooseTag")));
    confirming = true;
    const ok = await confirmSend(payload).finally(() => (confirming = false));
    if (!ok) return;
    const serialised = JSON.stringify(payload);
    if (serialised !== keyedBody) {
      key = newKey();
      keyedBody = serialised;
    }
    sendButton.disabled = true;
    replace(result, h("p", { class: "muted" }, t("compose.sending")));
    try {
      const sent = await api("POST", "/api/messages/sms/tags", { body: payload, headers: { "Idempotency-Key": key } });
      ctx.refreshMe().catch(() => {});
      if (!sent.queueId) {
        replace(result, notice("info", t("compose.nobody")));
      } else {
        const scheduled = sent.scheduledFor ? [" ", waitsText(sent, { id: "sent-reason" }), "."] : "";
        replace(
          result,
          notice("ok", [t("compose.accepted", { count: sent.messages.length ?? sent.totalMessages }), scheduled]),
          h("p", {}, h("a", { href: `#/campaigns/${sent.queueId}`, id: "open-campaign" }, t("compose.follow"))),
        );
        key = null; // the next message is a new send
        keyedBody = null;
        encoding = "auto";
        // A sent message leaves the form, so a later click cannot send it again by accident.
        text.value = "";
        chosen.clear();
        for (const box of tagBoxes.querySelectorAll("input[type=checkbox]")) box.checked = false;
        updateCounter();
        sendButton.textContent = t("compose.send");
        replace(preview, h("p", { class: "muted" }, t("compose.previewHint")));
      }
    } catch (error) {
      replace(result, notice("error", error.sentence));
    } finally {
      sendButton.disabled = ctx.readOnly;
    }
  }

  const message = () => ({ text: text.value, purpose: purpose.value, encoding });
  templates = await templatePicker(ctx, {
    getMessage: message,
    apply: (tpl) => {
      text.value = tpl.text;
      purpose.value = tpl.purpose;
      encoding = tpl.encoding;
      changed();
    },
  });
  const testBox = testSendBox(ctx, { getMessage: message, contactId: () => sampleContact });
  text.addEventListener("input", changed);
  // Transactional skips the legal send windows: say what it is for, every time it is chosen.
  const purposeWarning = h("div", { id: "purpose-warning", "aria-live": "polite" });
  const warnPurpose = () =>
    replace(purposeWarning, purpose.value === "transactional" && notice("warn", t("compose.transactionalWarning")));
  purpose.addEventListener("change", () => {
    warnPurpose();
    changed();
  });
  sendAt.addEventListener("change", changed);
  const [messageField] = field(t("compose.message"), text);
  const [purposeField] = field(t("compose.purpose"), purpose);
  const zone = windowZone(ctx.me.country);
  const [sendAtField] = field(
    t("compose.sendAt"),
    sendAt,
    t("compose.sendAtHint", { zone: browserZone }) + (zone ? ` (${zoneLabel(zone)}).` : "."),
  );
  replace(
    main,
    h("h1", {}, t("nav.compose")),
    h(
      "form",
      { class: "card compose", onsubmit: send },
      tagBoxes,
      templates.element,
      messageField,
      counter,
      tracking.element,
      h("div", { class: "row" }, purposeField, sendAtField),
      purposeWarning,
      h("h2", {}, t("compose.cost")),
      preview,
      h("div", { class: "actions" }, previewButton, sendButton),
      result,
      testBox,
    ),
  );
  updateCounter();
  runPreview();
}
