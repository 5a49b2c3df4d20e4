// Why a message waits (the API's scheduledReason: a code and its parameters), who cancelled a campaign and when, and
// the terms a read-only member can accept: texts in es-CO and English, times in the browser's zone with the legal
// zone's name beside them. A sentence never ends with a period here: the caller places it.
import { api } from "./api.js";
import { browserZone, h, notice, replace, zoneLabel } from "./dom.js";
import { addMessages, fmt, t } from "./i18n.js";

addMessages({
  "wait.SUNDAY": ["Domingo: la Ley 2300 no permite mensajes de mercadeo", "Sunday: Ley 2300 allows no marketing messages"],
  "wait.HOLIDAY": [
    "Festivo ({holiday}): la Ley 2300 no permite mensajes de mercadeo",
    "Public holiday ({holiday}): Ley 2300 allows no marketing messages",
  ],
  "wait.OUTSIDE_HOURS": [
    "Fuera del horario de mercadeo de la Ley 2300 ({opens} a {closes})",
    "Outside the marketing hours of Ley 2300 ({opens} to {closes})",
  ],
  "wait.OUTSIDE_HOURS_DAY": [
    "La Ley 2300 no permite mensajes de mercadeo ese día",
    "Ley 2300 allows no marketing messages that day",
  ],
  "wait.QUIET_HOURS": [
    "Horario de silencio de la empresa ({start} a {end})",
    "Your company's quiet hours ({start} to {end})",
  ],
  "wait.SEND_AT": ["Programada por usted", "Scheduled by you"],
  "wait.WINDOW": ["Fuera de la ventana de envío", "Outside the send window"],
  "wait.goes": ["sale el", "it goes on"],
  "cancel.by": ["Cancelada el {when} por {who}", "Cancelled on {when} by {who}"],
  "cancel.you": ["usted", "you"],
  "cancel.member": ["el miembro {id}", "member {id}"],
  "campaign.cancelledLabel": ["Cancelada", "Cancelled"],
  "campaign.reason": ["Por qué espera", "Why it waits"],
  "message.waitingUntil": ["Espera hasta el", "Waits until"],
  "message.contact": ["Contacto", "Contact"],
  "message.noCurrency": ["moneda no informada", "currency not reported"],
  "terms.accept": ["Aceptar los términos vigentes", "Accept the current terms"],
  "terms.accepted": [
    "Términos aceptados (versión {version}). Ya puede enviar, importar y editar.",
    "Terms accepted (version {version}). You can now send, import and edit.",
  ],
});

/**
 * A time in the browser's zone, with the legal zone's name beside it ("lun, 7 dic 2026, 07:00 (hora de Bogotá)");
 * when the browser is elsewhere, the legal zone's own time too ("…, 07:00 (07:00 hora de Bogotá)").
 */
export function legalTime(iso, zone) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const local = fmt.dateTime(date, { seconds: false });
  let beside = zone ? zoneLabel(zone) : "";
  if (zone && zone !== browserZone) {
    const there = new Intl.DateTimeFormat(fmt.locale, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone }).format(date);
    beside = `${there} ${zoneLabel(zone)}`;
  }
  return h("time", { datetime: date.toISOString(), title: `${local} ${browserZone}` }, beside ? `${local} (${beside})` : local);
}

/** The reason as a sentence in the chosen language, release time included, without a final period. */
export function waitReason(reason, attrs = {}) {
  if (!reason) return null;
  const params = {
    holiday: reason.holiday || "",
    opens: reason.opens || "",
    closes: reason.closes || "",
    start: reason.quietStart || "",
    end: reason.quietEnd || "",
  };
  const key = reason.code === "OUTSIDE_HOURS" && !reason.opens ? "wait.OUTSIDE_HOURS_DAY" : `wait.${reason.code}`;
  const known = ["SUNDAY", "HOLIDAY", "OUTSIDE_HOURS", "QUIET_HOURS", "SEND_AT", "WINDOW"].includes(reason.code);
  return h(
    "span",
    { class: "wait-reason", dataset: { code: reason.code }, ...attrs },
    known ? t(key, params) : reason.text,
    "; ",
    t("wait.goes"),
    " ",
    legalTime(reason.releaseAt, reason.timeZone),
  );
}

/** "Cancelada el … por usted": a cancelled campaign's who and when. */
export function cancelledBy(campaign, me) {
  const who = campaign.cancelledBy === me?.memberId ? t("cancel.you") : t("cancel.member", { id: String(campaign.cancelledBy || "").slice(0, 8) });
  const at = new Date(campaign.cancelledAt);
  const whenText = Number.isNaN(at.getTime()) ? String(campaign.cancelledAt) : fmt.dateTime(at, { seconds: false });
  return h("span", { class: "cancelled-by" }, t("cancel.by", { when: whenText, who }));
}

/** The read-only banner's button: accept the current terms (POST /api/me/terms), then show the admin writable. */
export function acceptTermsButton(ctx, done) {
  const status = h("span", { "aria-live": "polite", id: "terms-status" });
  const button = h(
    "button",
    {
      type: "button",
      class: "small",
      id: "accept-terms",
      onclick: async () => {
        button.disabled = true;
        try {
          const accepted = await api("POST", "/api/me/terms");
          await ctx.refreshMe();
          done(notice("ok", t("terms.accepted", { version: accepted.acceptedTermsVersion })));
        } catch (error) {
          replace(status, " ", error.sentence);
          button.disabled = false;
        }
      },
    },
    t("terms.accept"),
  );
  return [button, status];
}
