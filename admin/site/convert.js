// Compose additions (issue 24): rendered samples, the transliteration suggestion, templates and a test send.
// Texts are es-CO first, English second, kept here with addMessages (docs/admin-ui.md#languages).
import { api, newKey } from "./api.js";
import { field, h, notice, replace } from "./dom.js";
import { addMessages, fmt, t } from "./i18n.js";

addMessages({
  "convert.samples": ["Así lo reciben", "As they receive it"],
  "convert.sampleSegments": ["{segments} seg. · {encoding}", "{segments} seg. · {encoding}"],
  "convert.missing": [
    "Sin valor para «{field}»: {count} destinatarios (se usa el texto alternativo si lo tiene).",
    "No value for «{field}»: {count} recipients (the fallback is used if it has one).",
  ],
  "convert.tooLong": [
    "{count} destinatarios se omiten: con sus datos el mensaje supera el límite.",
    "{count} recipients are skipped: with their data the message is over the limit.",
  ],
  "convert.suggestion": [
    "Sin tildes (á → a) el mensaje cabe en GSM-7 y ahorra {savings} créditos. Se enviaría:",
    "Without accents (á → a) the message fits GSM-7 and saves {savings} credits. It would send:",
  ],
  "convert.accept": ["Enviar sin tildes", "Send without accents"],
  "convert.accepted": [
    "Se enviará sin tildes (transliterado a GSM-7).",
    "It will be sent without accents (transliterated to GSM-7).",
  ],
  "convert.undo": ["Mantener las tildes", "Keep the accents"],
  "convert.templates": ["Plantillas", "Templates"],
  "convert.template": ["Empezar desde una plantilla", "Start from a template"],
  "convert.noTemplate": ["(ninguna)", "(none)"],
  "convert.templateName": ["Nombre de la plantilla", "Template name"],
  "convert.saveTemplate": ["Guardar como plantilla", "Save as template"],
  "convert.saved": ["Plantilla «{name}» guardada.", "Template «{name}» saved."],
  "convert.nameNeeded": ["Escriba un nombre y un mensaje.", "Write a name and a message."],
  "convert.test": ["Envío de prueba", "Test send"],
  "convert.testTo": ["Números de prueba (hasta 5, separados por comas)", "Test numbers (up to 5, comma-separated)"],
  "convert.testHint": [
    "Se envía ahora con los datos del primer destinatario de la vista previa, y se cobra.",
    "It is sent now with the data of the preview's first recipient, and charged.",
  ],
  "convert.testSend": ["Enviar prueba", "Send test"],
  "convert.testSent": plural2("Prueba enviada a {count} número.", "Prueba enviada a {count} números.", "Test sent to {count} number.", "Test sent to {count} numbers."),
});

function plural2(esOne, esOther, enOne, enOther) {
  return [
    { one: esOne, other: esOther },
    { one: enOne, other: enOther },
  ];
}

/** The preview's additions: rendered samples, missing fields, skipped too long, and the encoding suggestion. */
export function previewExtras(p, encoding, onEncoding) {
  const parts = [];
  if (p.samples?.length) {
    parts.push(
      h("h3", {}, t("convert.samples")),
      h(
        "ul",
        { id: "preview-samples", class: "samples" },
        p.samples.map((s) =>
          h("li", {}, h("q", { translate: "no" }, s.text), " ", h("small", {}, t("convert.sampleSegments", { segments: s.segments, encoding: s.encoding }))),
        ),
      ),
    );
  }
  for (const [name, count] of Object.entries(p.mergeFieldsMissing || {})) {
    if (count > 0) parts.push(notice("info", t("convert.missing", { field: name, count: fmt.number(count) })));
  }
  if (p.skippedTooLong > 0) parts.push(notice("info", t("convert.tooLong", { count: fmt.number(p.skippedTooLong) })));
  if (encoding === "gsm-transliterate") {
    parts.push(
      h(
        "div",
        { id: "encoding-accepted", class: "notice ok", role: "status" },
        t("convert.accepted"),
        " ",
        h("button", { type: "button", class: "secondary", id: "undo-transliteration", onclick: () => onEncoding("auto") }, t("convert.undo")),
      ),
    );
  } else if (p.savingsIfTransliterated > 0) {
    parts.push(
      h(
        "div",
        { id: "encoding-suggestion", class: "notice info", role: "status" },
        t("convert.suggestion", { savings: fmt.number(p.savingsIfTransliterated) }),
        " ",
        h("q", { id: "transliterated", translate: "no" }, p.transliteratedMessage),
        " ",
        h("button", { type: "button", id: "accept-transliteration", onclick: () => onEncoding("gsm-transliterate") }, t("convert.accept")),
      ),
    );
  }
  return parts;
}

/** Templates: start from one (it fills the message, purpose and encoding), or save the message as one. */
export async function templatePicker(ctx, { getMessage, apply }) {
  let templates = [];
  try {
    templates = (await api("GET", "/api/templates")).items;
  } catch {
    templates = [];
  }
  const select = h(
    "select",
    { name: "template", id: "template" },
    h("option", { value: "" }, t("convert.noTemplate")),
    templates.map((tpl) => h("option", { value: tpl.id, translate: "no" }, tpl.name)),
  );
  select.addEventListener("change", () => {
    const chosen = templates.find((tpl) => tpl.id === select.value);
    if (chosen) apply(chosen);
  });
  const name = h("input", { type: "text", name: "templateName", id: "template-name", maxlength: 100 });
  const status = h("div", { "aria-live": "polite" });
  const save = h(
    "button",
    {
      type: "button",
      class: "secondary",
      id: "save-template",
      ...ctx.writeGuard(),
      onclick: async () => {
        const body = { name: name.value.trim(), ...getMessage() };
        if (!body.name || !body.text.trim()) return replace(status, notice("error", t("convert.nameNeeded")));
        try {
          const saved = await api("POST", "/api/templates", { body });
          templates.push(saved);
          select.append(h("option", { value: saved.id, translate: "no" }, saved.name));
          select.value = saved.id;
          replace(status, notice("ok", t("convert.saved", { name: saved.name })));
        } catch (error) {
          replace(status, notice("error", error.sentence));
        }
      },
    },
    t("convert.saveTemplate"),
  );
  const [pickField] = field(t("convert.template"), select);
  const [nameField] = field(t("convert.templateName"), name);
  return {
    element: h("fieldset", { class: "templates" }, h("legend", {}, t("convert.templates")), pickField, h("div", { class: "row" }, nameField, save), status),
    templateId: () => {
      const chosen = templates.find((tpl) => tpl.id === select.value);
      return chosen && chosen.text === getMessage().text ? chosen.id : null;
    },
  };
}

/** A test send of the composed message to the member's own numbers, rendered with the preview's first contact. */
export function testSendBox(ctx, { getMessage, contactId }) {
  const to = h("input", { type: "text", name: "testTo", id: "test-to", inputmode: "tel" });
  const status = h("div", { id: "test-result", "aria-live": "polite" });
  const button = h(
    "button",
    {
      type: "button",
      class: "secondary",
      id: "test-send",
      ...ctx.writeGuard(),
      onclick: async () => {
        const numbers = to.value.split(",").map((n) => n.trim()).filter(Boolean);
        const { text, encoding } = getMessage();
        try {
          const sent = await api("POST", "/api/messages/sms/test", {
            body: { message: text, to: numbers, encoding, ...(contactId() ? { contactId: contactId() } : {}) },
            headers: { "Idempotency-Key": newKey() },
          });
          ctx.refreshMe().catch(() => {});
          replace(status, notice("ok", t("convert.testSent", { count: sent.messages.length })));
        } catch (error) {
          replace(status, notice("error", error.sentence));
        }
      },
    },
    t("convert.testSend"),
  );
  const [toField] = field(t("convert.testTo"), to, t("convert.testHint"));
  return h("fieldset", { class: "test-send" }, h("legend", {}, t("convert.test")), toField, button, status);
}
