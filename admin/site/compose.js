// Compose: tags, message with live count/encoding/segments, cost preview, sendAt/purpose, send once.
import { api, newKey } from "./api.js";
import { browserZone, field, h, notice, replace, when, windowZone } from "./dom.js";
import { countSegments } from "./segments.js";

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
  const tags = await ctx.loadTags();
  const chosen = new Set();
  let key = null; // one Idempotency-Key per composed body: a double click or a retry sends once
  let keyedBody = null;
  let previewTimer = null;

  const text = h("textarea", { rows: 5, maxlength: MAX_LENGTH, name: "message", required: true });
  const counter = h("p", { class: "counter", id: "counter", "aria-live": "polite" });
  const purpose = h(
    "select",
    { name: "purpose" },
    h("option", { value: "marketing" }, "Marketing (legal send windows apply)"),
    h("option", { value: "transactional" }, "Transactional (sent at any hour)"),
  );
  const sendAt = h("input", { type: "datetime-local", name: "sendAt" });
  const preview = h("div", { id: "preview", class: "preview", "aria-live": "polite" });
  const result = h("div", { id: "send-result", "aria-live": "polite" });
  const sendButton = h("button", { type: "submit", id: "send", ...ctx.writeGuard() }, "Send");
  const previewButton = h("button", { type: "button", class: "secondary", onclick: () => runPreview() }, "Preview cost");

  const tagBoxes = h(
    "fieldset",
    { class: "tags" },
    h("legend", {}, "Send to contacts with any of these tags"),
    tags.length === 0 && h("p", {}, "No tags yet: create some under Tags."),
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
        ` ${tag.name} `,
        h("small", {}, `(${tag.contactCount})`),
      ),
    ),
  );

  function body() {
    const payload = { message: text.value, tagIds: [...chosen], purpose: purpose.value };
    const at = localToIso(sendAt.value);
    if (at) payload.sendAt = at;
    return payload;
  }

  function updateCounter() {
    const count = countSegments(text.value);
    const parts = [
      `${text.value.length} / ${MAX_LENGTH} characters`,
      count.encoding,
      `${count.segments} segment${count.segments === 1 ? "" : "s"} (${count.perSegment} per segment)`,
    ];
    replace(
      counter,
      parts.join(" · "),
      count.offender &&
        h("small", {}, ` — “${count.offender}” is not in the GSM alphabet, so the whole message uses UCS-2.`),
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
      replace(preview, h("p", { class: "muted" }, "Choose tags and write the message to see the cost."));
      return;
    }
    replace(preview, h("p", { class: "muted" }, "Calculating…"));
    try {
      const p = await api("POST", "/api/messages/sms/tags/preview", { body: payload });
      if (JSON.stringify(payload) !== JSON.stringify(body())) return; // a newer preview is on its way
      const short = p.creditsRequired > p.creditsAvailable;
      replace(
        preview,
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "Recipients"),
          h("dd", { id: "preview-recipients" }, p.recipients),
          h("dt", {}, "Skipped"),
          h(
            "dd",
            {},
            `${p.skippedInvalid} invalid, ${p.skippedOptedOut} opted out, ${p.duplicatesRemoved} duplicates removed`,
          ),
          h("dt", {}, "Segments"),
          h("dd", {}, `${p.segments} per message (${p.encoding})`),
          h("dt", {}, "Credits"),
          h(
            "dd",
            { id: "preview-credits", class: short ? "bad" : "" },
            `${p.creditsRequired.toLocaleString()} required of ${p.creditsAvailable.toLocaleString()} available`,
          ),
          h("dt", {}, "Delivery"),
          h(
            "dd",
            { id: "preview-when" },
            p.scheduledFor ? ["Waits until ", when(p.scheduledFor, { zone: windowZone(ctx.me.country) })] : "Now",
          ),
        ),
        short && notice("error", "Not enough credits for this campaign."),
      );
    } catch (error) {
      replace(preview, notice("error", error.sentence));
    }
  }

  async function send(event) {
    event.preventDefault();
    if (sendButton.disabled) return;
    const payload = body();
    if (payload.tagIds.length === 0) return replace(result, notice("error", "Choose at least one tag."));
    const serialised = JSON.stringify(payload);
    if (serialised !== keyedBody) {
      key = newKey();
      keyedBody = serialised;
    }
    sendButton.disabled = true;
    replace(result, h("p", { class: "muted" }, "Sending…"));
    try {
      const sent = await api("POST", "/api/messages/sms/tags", { body: payload, headers: { "Idempotency-Key": key } });
      ctx.refreshMe().catch(() => {});
      if (!sent.queueId) {
        replace(result, notice("info", "Nobody to send to: these tags have no valid, opted-in contacts. Nothing was charged."));
      } else {
        const scheduled = sent.scheduledFor ? [" It waits until ", when(sent.scheduledFor), "."] : "";
        replace(
          result,
          notice("ok", [`Campaign accepted: ${sent.messages.length} messages.`, scheduled]),
          h("p", {}, h("a", { href: `#/campaigns/${sent.queueId}`, id: "open-campaign" }, "Follow the campaign")),
        );
        key = null; // the next message is a new send
        keyedBody = null;
        // A sent message leaves the form, so a later click cannot send it again by accident.
        text.value = "";
        chosen.clear();
        for (const box of tagBoxes.querySelectorAll("input[type=checkbox]")) box.checked = false;
        updateCounter();
        replace(preview, h("p", { class: "muted" }, "Choose tags and write the message to see the cost."));
      }
    } catch (error) {
      replace(result, notice("error", error.sentence));
    } finally {
      sendButton.disabled = ctx.readOnly;
    }
  }

  text.addEventListener("input", changed);
  purpose.addEventListener("change", changed);
  sendAt.addEventListener("change", changed);
  const [messageField] = field("Message", text);
  const [purposeField] = field("Purpose", purpose);
  const zone = windowZone(ctx.me.country);
  const [sendAtField] = field(
    "Send at (optional)",
    sendAt,
    `Your time zone: ${browserZone}. Empty: now. Marketing waits for the recipients' legal window` +
      (zone ? ` (${zone} time).` : "."),
  );
  replace(
    main,
    h("h1", {}, "Compose"),
    h(
      "form",
      { class: "card compose", onsubmit: send },
      tagBoxes,
      messageField,
      counter,
      h("div", { class: "row" }, purposeField, sendAtField),
      h("h2", {}, "Cost"),
      preview,
      h("div", { class: "actions" }, previewButton, sendButton),
      result,
    ),
  );
  updateCounter();
  runPreview();
}
