// Settings screen: the tenant's rules for marketing to Colombia (GET/PUT /api/settings; docs/compliance-co.md).
// Texts are this module's own i18n keys (settings.*), es-CO first.
import { api } from "./api.js";
import { field, h, notice, replace } from "./dom.js";
import { addMessages, creditsText, t } from "./i18n.js";

addMessages({
  "settings.intro": [
    "Reglas de sus mensajes de mercadeo a Colombia (Ley 2300 de 2023): nombre del remitente, texto para darse de baja, frecuencia, consentimiento y horas de silencio.",
    "Rules for your marketing messages to Colombia (Ley 2300 de 2023): sender name, opt-out text, frequency, consent and quiet hours.",
  ],
  "settings.senderName": ["Nombre del remitente", "Sender name"],
  "settings.senderNameHint": [
    "De 2 a 20 caracteres. Cada mensaje de mercadeo empieza con «{name}: ». Vacío: no se puede enviar mercadeo a Colombia.",
    "2 to 20 characters. Every marketing message starts with “{name}: ”. Empty: marketing to Colombia cannot be sent.",
  ],
  "settings.optOutText": ["Texto para darse de baja", "Opt-out text"],
  "settings.optOutTextHint": [
    "Va al final de cada mensaje de mercadeo. Vacío: «{text}».",
    "Ends every marketing message. Empty: “{text}”.",
  ],
  "settings.maxPerDay": ["Mensajes de mercadeo por número al día", "Marketing messages per number per day"],
  "settings.maxPerWeek": ["Mensajes de mercadeo por número a la semana", "Marketing messages per number per week"],
  "settings.capHint": ["0 = sin límite", "0 = no limit"],
  "settings.consentRequired": [
    "Enviar mercadeo solo a contactos con consentimiento otorgado",
    "Send marketing only to contacts with granted consent",
  ],
  "settings.consentHint": [
    "Los envíos de mercadeo omiten a los contactos sin consentimiento otorgado (no se cobran); los transaccionales no cambian.",
    "Marketing sends skip contacts without granted consent (never charged); transactional sends are unaffected.",
  ],
  "settings.quietStart": ["Horas de silencio: desde", "Quiet hours: from"],
  "settings.quietEnd": ["hasta", "until"],
  "settings.quietHint": ["Hora de Bogotá. Vacío: sin horas de silencio.", "Bogotá time. Empty: no quiet hours."],
  "settings.creditsLow": ["Avisar cuando el saldo baje de (créditos)", "Notify when the balance drops below (credits)"],
  "settings.creditsLowHint": [
    "Sus webhooks reciben el evento {event} una vez cada vez que el saldo baja de este valor. Vacío: sin aviso.",
    "Your webhooks get the {event} event once each time the balance drops below this value. Empty: no notice.",
  ],
  "settings.creditsLowIs": ["Valor actual: {amount}.", "Current value: {amount}."],
  "settings.save": ["Guardar ajustes", "Save settings"],
  "settings.saved": ["Ajustes guardados.", "Settings saved."],
});

export async function settingsView(main, ctx) {
  const result = h("div", { id: "settings-result", "aria-live": "polite" });
  const current = await api("GET", "/api/settings");
  const name = current.senderName ?? "";
  const [nameField, senderName] = field(
    t("settings.senderName"),
    h("input", { name: "senderName", maxlength: 20, value: name }),
    t("settings.senderNameHint", { name: name || current.defaultSenderName || "…" }),
  );
  const [optOutField, optOutText] = field(
    t("settings.optOutText"),
    h("input", { name: "optOutText", maxlength: 80, value: current.optOutText === current.defaultOptOutText ? "" : current.optOutText }),
    t("settings.optOutTextHint", { text: current.defaultOptOutText }),
  );
  const number = (value, max) => h("input", { type: "number", min: 0, max, step: 1, value: String(value), required: true });
  const [dayField, maxPerDay] = field(t("settings.maxPerDay"), number(current.marketingFrequency.maxPerDay, 10), t("settings.capHint"));
  const [weekField, maxPerWeek] = field(t("settings.maxPerWeek"), number(current.marketingFrequency.maxPerWeek, 50), t("settings.capHint"));
  const consent = h("input", {
    type: "checkbox",
    name: "consentRequired",
    id: "consent-required",
    "aria-describedby": "consent-required-hint",
  });
  consent.checked = Boolean(current.consentRequired);
  const quiet = current.quietHours || {};
  const [startField, quietStart] = field(t("settings.quietStart"), h("input", { type: "time", value: quiet.start || "" }), t("settings.quietHint"));
  const [endField, quietEnd] = field(t("settings.quietEnd"), h("input", { type: "time", value: quiet.end || "" }));
  const threshold = current.creditsLowThreshold;
  const [lowField, creditsLow] = field(
    t("settings.creditsLow"),
    h("input", { type: "number", name: "creditsLowThreshold", min: 1, step: 1, value: threshold == null ? "" : String(threshold) }),
    [
      // The event's name is code, not a text to translate: kept out of the language checks (translate="no").
      ...t("settings.creditsLowHint")
        .split("{event}")
        .flatMap((part, i) => (i ? [h("code", { translate: "no" }, "credits.low"), part] : [part])),
      threshold == null ? "" : ` ${t("settings.creditsLowIs", { amount: creditsText(threshold, ctx.me.creditPriceCop) })}`,
    ],
  );

  async function save(event) {
    event.preventDefault();
    const body = {
      senderName: senderName.value.trim() || null,
      optOutText: optOutText.value.trim() || null,
      marketingFrequency: { maxPerDay: Number(maxPerDay.value), maxPerWeek: Number(maxPerWeek.value) },
      consentRequired: consent.checked,
      quietHours:
        quietStart.value && quietEnd.value
          ? { start: quietStart.value, end: quietEnd.value, timeZone: quiet.timeZone || "America/Bogota" }
          : null,
      creditsLowThreshold: creditsLow.value === "" ? null : Number(creditsLow.value),
    };
    try {
      await api("PUT", "/api/settings", { body });
      replace(result, notice("ok", t("settings.saved")));
    } catch (error) {
      replace(result, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("h1", {}, t("nav.settings")),
    h("p", {}, t("settings.intro")),
    h(
      "form",
      { class: "card", id: "settings", onsubmit: save },
      nameField,
      optOutField,
      dayField,
      weekField,
      h(
        "div",
        { class: "field" },
        h("label", { for: "consent-required" }, consent, " ", t("settings.consentRequired")),
        h("small", { id: "consent-required-hint" }, t("settings.consentHint")),
      ),
      startField,
      endField,
      lowField,
      h("button", { type: "submit", ...ctx.writeGuard() }, t("settings.save")),
    ),
    result,
  );
}
