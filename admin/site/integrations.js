// Integrations screens: API keys (create, copy the token once, revoke), webhooks (add, see deliveries, replay) and
// a campaign's CSV download. Texts are this module's own i18n keys (keys.*, webhooks.*, export.*), es-CO first.
import { api, session } from "./api.js";
import { confirmDialog, field, h, notice, replace, when } from "./dom.js";
import { addMessages, t } from "./i18n.js";

addMessages({
  "keys.intro": [
    "Claves para conectar sus sistemas (CRM, tienda, hojas de cálculo) con la API. Cada clave actúa como usted.",
    "Keys that connect your systems (CRM, shop, spreadsheets) to the API. Each key acts as you.",
  ],
  "keys.new": ["Nueva clave", "New key"],
  "keys.name": ["Nombre", "Name"],
  "keys.nameHint": ["Para qué es, por ejemplo «CRM» o «Power BI»", "What it is for, e.g. “CRM” or “Power BI”"],
  "keys.scope": ["Alcance", "Scope"],
  "keys.scope.full": ["Completo: leer y escribir (incluye enviar)", "Full: read and write (sending included)"],
  "keys.scope.read": ["Solo lectura", "Read only"],
  "keys.expires": ["Vence (opcional)", "Expires (optional)"],
  "keys.expiresColumn": ["Vence", "Expires"],
  "keys.create": ["Crear clave", "Create key"],
  "keys.created": [
    "Clave creada. Cópiela ahora: se muestra una sola vez y no se puede recuperar.",
    "Key created. Copy it now: it is shown only once and cannot be recovered.",
  ],
  "keys.token": ["Token de la clave", "The key's token"],
  "keys.copy": ["Copiar", "Copy"],
  "keys.copied": ["Copiado al portapapeles.", "Copied to the clipboard."],
  "keys.copyFailed": ["No se pudo copiar: selecciónelo y cópielo a mano.", "Could not copy: select it and copy it by hand."],
  "keys.list": ["Sus claves", "Your keys"],
  "keys.none": ["Aún no hay claves.", "No keys yet."],
  "keys.prefix": ["Empieza por", "Starts with"],
  "keys.createdAt": ["Creada", "Created"],
  "keys.lastUsed": ["Último uso", "Last used"],
  "keys.never": ["Nunca", "Never"],
  "keys.noExpiry": ["No vence", "Never expires"],
  "keys.revoke": ["Revocar", "Revoke"],
  "keys.revokeTitle": ["¿Revocar esta clave?", "Revoke this key?"],
  "keys.revokeText": [
    "«{name}» dejará de poder enviar o cambiar nada de inmediato; sus lecturas se detienen en pocos minutos.",
    "“{name}” can no longer send or change anything, at once; its reads stop within a few minutes.",
  ],
  "keys.revoked": ["Clave revocada.", "Key revoked."],
  "keys.member": ["Miembro", "Member"],

  "webhooks.intro": [
    "Su sistema recibe cada evento (enviado, entregado, fallido...) como un POST firmado a su URL https.",
    "Your system gets each event (sent, delivered, failed...) as a signed POST to its https URL.",
  ],
  "webhooks.new": ["Nuevo webhook", "New webhook"],
  "webhooks.url": ["URL (https)", "URL (https)"],
  "webhooks.events": ["Eventos", "Events"],
  "webhooks.description": ["Descripción (opcional)", "Description (optional)"],
  "webhooks.add": ["Agregar webhook", "Add webhook"],
  "webhooks.added": [
    "Webhook agregado. Guarde el secreto de firma ahora: se muestra una sola vez.",
    "Webhook added. Keep the signing secret now: it is shown only once.",
  ],
  "webhooks.secret": ["Secreto de firma", "Signing secret"],
  "webhooks.list": ["Sus webhooks", "Your webhooks"],
  "webhooks.none": ["Aún no hay webhooks.", "No webhooks yet."],
  "webhooks.enabled": ["Activo", "Enabled"],
  "webhooks.disabled": ["Desactivado", "Disabled"],
  "webhooks.disabledNote": [
    "Desactivado automáticamente: todos los intentos fallaron durante 3 días ({reason}).",
    "Disabled automatically: every attempt failed for 3 days ({reason}).",
  ],
  "webhooks.failingSince": ["Fallando desde", "Failing since"],
  "webhooks.enable": ["Activar de nuevo", "Enable again"],
  "webhooks.delete": ["Eliminar", "Delete"],
  "webhooks.deleteTitle": ["¿Eliminar este webhook?", "Delete this webhook?"],
  "webhooks.deleteText": ["No se le enviará nada más a {url}.", "Nothing more will be sent to {url}."],
  "webhooks.deliveries": ["Entregas", "Deliveries"],
  "webhooks.noDeliveries": ["Aún no hay entregas.", "No deliveries yet."],
  "webhooks.event": ["Evento", "Event"],
  "webhooks.status": ["Estado", "Status"],
  "webhooks.attempts": ["Intentos", "Attempts"],
  "webhooks.answer": ["Respuesta", "Answer"],
  "webhooks.latency": ["{ms} ms", "{ms} ms"],
  "webhooks.noAnswer": ["sin respuesta", "no answer"],
  "webhooks.at": ["Cuándo", "When"],
  "webhooks.replay": ["Reenviar", "Send again"],
  "webhooks.replayed": ["Reenvío en cola: llegará en segundos.", "Send-again queued: it arrives within seconds."],
  "webhooks.refresh": ["Actualizar", "Refresh"],
  "webhooks.back": ["Volver a webhooks", "Back to webhooks"],
  "webhooks.status.PENDING": ["Pendiente", "Pending"],
  "webhooks.status.RETRYING": ["Reintentando", "Retrying"],
  "webhooks.status.SUCCEEDED": ["Entregado", "Delivered"],
  "webhooks.status.FAILED": ["Fallido", "Failed"],
  "webhooks.event.message.sent": ["Mensaje enviado", "Message sent"],
  "webhooks.event.message.delivered": ["Mensaje entregado", "Message delivered"],
  "webhooks.event.message.undelivered": ["Mensaje no entregado", "Message undelivered"],
  "webhooks.event.message.failed": ["Mensaje fallido", "Message failed"],
  "webhooks.event.message.clicked": ["Clic en un enlace", "Link clicked"],
  "webhooks.event.contact.opted_out": ["Contacto dado de baja", "Contact opted out"],
  "webhooks.event.contact.opted_in": ["Contacto suscrito de nuevo", "Contact opted back in"],
  "webhooks.event.campaign.completed": ["Campaña terminada", "Campaign completed"],
  "webhooks.event.credits.low": ["Créditos bajos", "Credits low"],

  "export.download": ["Descargar CSV", "Download CSV"],
  "export.preparing": ["Preparando el archivo…", "Preparing the file…"],
  "export.ready": ["Archivo listo: {count} filas.", "File ready: {count} rows."],
  "export.large": [
    "Campaña grande: el archivo se está generando y se descargará cuando esté listo.",
    "Large campaign: the file is being generated and will download when ready.",
  ],
});

// The event types an endpoint may ask for (every one the platform emits); a new endpoint wants the message ones.
const EVENTS = [
  "message.sent",
  "message.delivered",
  "message.undelivered",
  "message.failed",
  "message.clicked",
  "contact.opted_out",
  "contact.opted_in",
  "campaign.completed",
  "credits.low",
];
const CHECKED = new Set(["message.sent", "message.delivered", "message.undelivered", "message.failed"]);

function tokenBox(label, value) {
  const input = h("input", { type: "text", readOnly: true, value, id: "shown-once", spellcheck: false, class: "mono" });
  const status = h("span", { "aria-live": "polite", id: "copy-status" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      replace(status, t("keys.copied"));
    } catch {
      input.select();
      replace(status, t("keys.copyFailed"));
    }
  };
  return h(
    "div",
    { class: "field once" },
    h("label", { for: "shown-once" }, label),
    h("div", { class: "row" }, input, h("button", { type: "button", class: "secondary", id: "copy", onclick: copy }, t("keys.copy"))),
    status,
  );
}

// ---------------------------------------------------------------------------------------------- API keys
export async function keysView(main, ctx) {
  const result = h("div", { id: "key-result", "aria-live": "polite" });
  const list = h("div", { id: "keys" });
  const [nameField, name] = field(t("keys.name"), h("input", { name: "name", required: true, maxlength: 80 }), t("keys.nameHint"));
  const scope = h(
    "select",
    { name: "scope" },
    h("option", { value: "full" }, t("keys.scope.full")),
    h("option", { value: "read" }, t("keys.scope.read")),
  );
  const [scopeField] = field(t("keys.scope"), scope);
  const [expiresField, expires] = field(t("keys.expires"), h("input", { name: "expires", type: "date" }));

  async function load() {
    const { items } = await api("GET", "/api/keys");
    if (!items.length) return replace(list, h("p", {}, t("keys.none")));
    replace(
      list,
      h(
        "table",
        { class: "keys" },
        h("caption", {}, t("keys.list")),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            [t("keys.name"), t("keys.scope"), t("keys.prefix"), t("keys.createdAt"), t("keys.lastUsed"), t("keys.expiresColumn"), ""].map(
              (text) => h("th", { scope: "col" }, text),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          items.map((key) =>
            h(
              "tr",
              { dataset: { key: key.id } },
              h("td", { translate: "no" }, key.name),
              h("td", {}, t(`keys.scope.${key.scope}`)),
              h("td", { class: "mono" }, `${key.prefix}…`),
              h("td", {}, when(key.createdAt, { seconds: false })),
              h("td", {}, key.lastUsedAt ? when(key.lastUsedAt, { seconds: false }) : t("keys.never")),
              h("td", {}, key.expiresAt ? when(key.expiresAt, { seconds: false }) : t("keys.noExpiry")),
              h(
                "td",
                {},
                h(
                  "button",
                  { class: "danger small", onclick: () => revoke(key), ...ctx.writeGuard(), "aria-label": `${t("keys.revoke")} ${key.name}` },
                  t("keys.revoke"),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function create(event) {
    event.preventDefault();
    const body = { name: name.value, scope: scope.value };
    if (expires.value) body.expiresAt = new Date(`${expires.value}T23:59:59`).toISOString();
    try {
      const key = await api("POST", "/api/keys", { body });
      name.value = "";
      expires.value = "";
      replace(result, notice("ok", t("keys.created")), tokenBox(t("keys.token"), key.token));
      result.querySelector("#shown-once").focus();
      await load();
    } catch (error) {
      replace(result, notice("error", error.sentence));
    }
  }

  async function revoke(key) {
    const ok = await confirmDialog(t("keys.revokeTitle"), t("keys.revokeText", { name: key.name }), t("keys.revoke"));
    if (!ok) return;
    try {
      await api("DELETE", `/api/keys/${encodeURIComponent(key.id)}`);
      replace(result, notice("ok", t("keys.revoked")));
      if (session.token?.startsWith(key.prefix)) return; // revoked the key in use: its next write signs out
      await load();
    } catch (error) {
      replace(result, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("h1", {}, t("nav.keys")),
    h("p", {}, t("keys.intro")),
    h(
      "form",
      { class: "card", id: "new-key", onsubmit: create },
      h("h2", {}, t("keys.new")),
      nameField,
      scopeField,
      expiresField,
      h("button", { type: "submit", ...ctx.writeGuard() }, t("keys.create")),
    ),
    result,
    list,
  );
  await load();
}

// ---------------------------------------------------------------------------------------------- webhooks
function eventName(type) {
  return EVENTS.includes(type) ? t(`webhooks.event.${type}`) : type;
}

export async function webhooksView(main, ctx) {
  const result = h("div", { id: "webhook-result", "aria-live": "polite" });
  const list = h("div", { id: "webhooks" });
  const [urlField, url] = field(t("webhooks.url"), h("input", { name: "url", type: "url", required: true, placeholder: "https://" }));
  const boxes = EVENTS.map((type) => h("input", { type: "checkbox", name: "events", value: type, checked: CHECKED.has(type), id: `event-${type}` }));
  const [descriptionField, description] = field(t("webhooks.description"), h("input", { name: "description", maxlength: 200 }));

  async function load() {
    const { items } = await api("GET", "/api/webhooks");
    if (!items.length) return replace(list, h("p", {}, t("webhooks.none")));
    replace(
      list,
      h("h2", {}, t("webhooks.list")),
      h(
        "ul",
        { class: "webhooks" },
        items.map((w) =>
          h(
            "li",
            { dataset: { webhook: w.id } },
            h("a", { href: `#/webhooks/${w.id}`, translate: "no" }, w.url),
            " — ",
            w.enabled ? t("webhooks.enabled") : h("strong", {}, t("webhooks.disabled")),
            w.description && h("span", { class: "muted", translate: "no" }, ` · ${w.description}`),
            h("div", { class: "muted" }, w.events.map(eventName).join(", ")),
            w.disabledReason && notice("warn", t("webhooks.disabledNote", { reason: w.disabledReason })),
          ),
        ),
      ),
    );
  }

  async function add(event) {
    event.preventDefault();
    const events = boxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const created = await api("POST", "/api/webhooks", { body: { url: url.value, events, description: description.value } });
      url.value = "";
      description.value = "";
      replace(result, notice("ok", t("webhooks.added")), tokenBox(t("webhooks.secret"), created.secret));
      await load();
    } catch (error) {
      replace(result, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("h1", {}, t("nav.webhooks")),
    h("p", {}, t("webhooks.intro")),
    h(
      "form",
      { class: "card", id: "new-webhook", onsubmit: add },
      h("h2", {}, t("webhooks.new")),
      urlField,
      h(
        "fieldset",
        {},
        h("legend", {}, t("webhooks.events")),
        EVENTS.map((type, i) => h("label", { class: "check", for: boxes[i].id }, boxes[i], " ", eventName(type))),
      ),
      descriptionField,
      h("button", { type: "submit", ...ctx.writeGuard() }, t("webhooks.add")),
    ),
    result,
    list,
  );
  await load();
}

export async function webhookView(main, ctx, webhookId) {
  const result = h("div", { id: "webhook-result", "aria-live": "polite" });
  const deliveries = h("div", { id: "deliveries" });
  const header = h("div", { id: "webhook-summary" });
  const base = `/api/webhooks/${encodeURIComponent(webhookId)}`;

  async function loadEndpoint() {
    const w = await api("GET", base);
    replace(
      header,
      h("p", { translate: "no", class: "mono" }, w.url),
      h("p", {}, w.enabled ? t("webhooks.enabled") : h("strong", {}, t("webhooks.disabled")), " · ", w.events.map(eventName).join(", ")),
      w.failingSince && h("p", {}, t("webhooks.failingSince"), " ", when(w.failingSince)),
      w.disabledReason && notice("warn", t("webhooks.disabledNote", { reason: w.disabledReason })),
      h(
        "div",
        { class: "actions" },
        !w.enabled && h("button", { class: "secondary", onclick: enable, ...ctx.writeGuard() }, t("webhooks.enable")),
        h("button", { class: "danger", onclick: () => remove(w), ...ctx.writeGuard() }, t("webhooks.delete")),
      ),
    );
  }

  async function loadDeliveries() {
    const page = await api("GET", `${base}/deliveries`, { query: { limit: 50 } });
    if (!page.items.length) return replace(deliveries, h("p", {}, t("webhooks.noDeliveries")));
    replace(
      deliveries,
      h(
        "table",
        { class: "deliveries" },
        h("caption", {}, t("webhooks.deliveries")),
        h(
          "thead",
          {},
          h("tr", {}, [t("webhooks.at"), t("webhooks.event"), t("webhooks.status"), t("webhooks.attempts"), t("webhooks.answer"), ""].map((x) => h("th", { scope: "col" }, x))),
        ),
        h(
          "tbody",
          {},
          page.items.map((d) => {
            const last = d.attempts[0];
            const answer = last
              ? [last.statusCode ?? t("webhooks.noAnswer"), " · ", t("webhooks.latency", { ms: last.latencyMs })]
              : "—";
            return h(
              "tr",
              { dataset: { delivery: d.id, status: d.status } },
              h("td", {}, when(d.createdAt)),
              h("td", {}, eventName(d.eventType)),
              h("td", {}, t(`webhooks.status.${d.status}`)),
              h("td", {}, String(d.attemptCount)),
              h("td", { title: last?.error || last?.response || "" }, answer),
              h("td", {}, h("button", { class: "secondary small", onclick: () => replay(d), ...ctx.writeGuard() }, t("webhooks.replay"))),
            );
          }),
        ),
      ),
    );
  }

  async function replay(delivery) {
    try {
      await api("POST", `${base}/deliveries/${encodeURIComponent(delivery.id)}/replay`);
      replace(result, notice("ok", t("webhooks.replayed")));
      await loadDeliveries();
    } catch (error) {
      replace(result, notice("error", error.sentence));
    }
  }

  async function enable() {
    try {
      await api("PATCH", base, { body: { enabled: true } });
      await loadEndpoint();
    } catch (error) {
      replace(result, notice("error", error.sentence));
    }
  }

  async function remove(w) {
    if (!(await confirmDialog(t("webhooks.deleteTitle"), t("webhooks.deleteText", { url: w.url }), t("webhooks.delete")))) return;
    try {
      await api("DELETE", base);
      location.hash = "#/webhooks";
    } catch (error) {
      replace(result, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("p", {}, h("a", { href: "#/webhooks" }, t("webhooks.back"))),
    h("h1", {}, t("title.webhook")),
    header,
    result,
    h("button", { class: "secondary small", id: "refresh-deliveries", onclick: () => loadDeliveries() }, t("webhooks.refresh")),
    deliveries,
  );
  await Promise.all([loadEndpoint(), loadDeliveries()]);
  ctx.every(10000, () => loadDeliveries().catch(() => {}));
}

// ---------------------------------------------------------------------------------------------- CSV download
/** A "Download CSV" button for a campaign: the file itself when small, else the export job's file when ready. */
export function exportButton(queueId) {
  const status = h("span", { "aria-live": "polite", id: "export-status" });
  const path = `/api/messages/queues/${encodeURIComponent(queueId)}/export`;

  function save(blob, name) {
    const link = h("a", { href: URL.createObjectURL(blob), download: name, hidden: true });
    document.body.append(link);
    link.click();
    setTimeout(() => {
      URL.revokeObjectURL(link.href);
      link.remove();
    }, 1000);
  }

  async function download(event) {
    const button = event.currentTarget;
    button.disabled = true;
    replace(status, t("export.preparing"));
    try {
      const response = await fetch(path, { headers: { Authorization: `Bearer ${session.token}` } });
      if (response.status === 202) {
        replace(status, t("export.large"));
        let job = await response.json();
        while (job.status === "PENDING") {
          await new Promise((resolve) => setTimeout(resolve, 3000));
          job = await api("GET", `/api/exports/${encodeURIComponent(job.id)}`);
        }
        if (job.downloadUrl) location.href = job.downloadUrl;
        replace(status, t("export.ready", { count: job.rows ?? 0 }));
      } else if (response.ok) {
        const blob = await response.blob();
        save(blob, `campaign-${queueId}.csv`);
        replace(status, "");
      } else {
        const body = await response.json().catch(() => null);
        const { ApiError } = await import("./api.js");
        replace(status, notice("error", new ApiError(response.status, body).sentence));
      }
    } catch (error) {
      replace(status, notice("error", error.sentence || String(error)));
    } finally {
      button.disabled = false;
    }
  }

  return h("span", { class: "export" }, h("button", { type: "button", class: "secondary", id: "download-csv", onclick: download }, t("export.download")), " ", status);
}

// ---------------------------------------------------------------------------------------------- usage chart
addMessages({
  "usage.intro": [
    "Envíos, entregas, fallas y créditos por día (hora de Bogotá).",
    "Sends, deliveries, failures and credits by day (Bogotá time).",
  ],
  "usage.from": ["Desde", "From"],
  "usage.to": ["Hasta", "To"],
  "usage.show": ["Ver", "Show"],
  "usage.chartTitle": ["Mensajes por día", "Messages by day"],
  "usage.chartDesc": [
    "Del {from} al {to}: {sends} enviados, {delivered} entregados, {failed} con falla; {spent} créditos gastados y {refunded} devueltos.",
    "From {from} to {to}: {sends} sent, {delivered} delivered, {failed} failed; {spent} credits spent and {refunded} refunded.",
  ],
  "usage.sends": ["Enviados", "Sent"],
  "usage.delivered": ["Entregados", "Delivered"],
  "usage.failedAll": ["Con falla", "Failed"],
  "usage.spent": ["Créditos gastados", "Credits spent"],
  "usage.refunded": ["Créditos devueltos", "Credits refunded"],
  "usage.day": ["Día", "Day"],
  "usage.table": ["Los mismos datos en una tabla", "The same data as a table"],
  "usage.codes": ["Fallas por código", "Failures by code"],
  "usage.noFailures": ["Sin fallas en este periodo.", "No failures in this period."],
  "usage.uncounted": [
    "Sin código registrado (campañas enviadas antes de contar fallas por código, o mensajes devueltos sin intento de envío)",
    "No code recorded (campaigns sent before failures were counted by code, or messages refunded without a send attempt)",
  ],
  "usage.code": ["Código", "Code"],
  "usage.count": ["Mensajes", "Messages"],
});

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  for (const child of children.flat()) if (child) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

function isoDay(date) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/Bogota" }).format(date); // YYYY-MM-DD
}

function shortDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(document.documentElement.lang === "en" ? "en-US" : "es-CO", { day: "numeric", month: "short", timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

/** Bars per day (sent, delivered, failed), an SVG with a title and a description people hear, no library. */
function usageChart(report) {
  const days = report.days;
  const width = Math.max(320, days.length * 42 + 60);
  const height = 220;
  const top = 10;
  const bottom = 30;
  const left = 40;
  const max = Math.max(1, ...days.map((d) => d.sends));
  const scale = (n) => ((height - top - bottom) * n) / max;
  const slot = (width - left - 10) / days.length;
  const bar = Math.max(4, slot / 4);
  // A day's label ("23 de nov", 10-unit font) needs about 56 units: label every `step`-th day, counted back from the
  // last one, so labels never overlap and the newest day is always named (each bar's title names its own day).
  const step = Math.ceil(56 / slot);
  const labelled = (i) => (days.length - 1 - i) % step === 0;
  const series = [
    ["sends", "usage.sends", "bar-sent"],
    ["delivered", "usage.delivered", "bar-delivered"],
    ["failedAll", "usage.failedAll", "bar-failed"],
  ];
  const value = (d, key) => (key === "failedAll" ? d.failed + d.undelivered : d[key]);
  const totals = report.totals;
  return s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "usage-title usage-desc", id: "usage-chart", class: "chart" },
    s("title", { id: "usage-title" }, t("usage.chartTitle")),
    s(
      "desc",
      { id: "usage-desc" },
      t("usage.chartDesc", {
        from: shortDay(report.from),
        to: shortDay(report.to),
        sends: totals.sends,
        delivered: totals.delivered,
        failed: totals.failed + totals.undelivered,
        spent: totals.creditsSpent,
        refunded: totals.creditsRefunded,
      }),
    ),
    s("line", { x1: left, y1: height - bottom, x2: width - 5, y2: height - bottom, class: "axis" }),
    s("text", { x: left - 6, y: top + 8, "text-anchor": "end", class: "tick" }, String(max)),
    s("text", { x: left - 6, y: height - bottom, "text-anchor": "end", class: "tick" }, "0"),
    days.map((d, i) => {
      const x0 = left + i * slot + (slot - bar * 3) / 2;
      return s(
        "g",
        {},
        series.map(([key, label, cls], j) => {
          const hgt = scale(value(d, key));
          return s(
            "rect",
            { x: x0 + j * bar, y: height - bottom - hgt, width: bar - 1, height: hgt, class: cls },
            s("title", {}, `${shortDay(d.day)} · ${t(label)}: ${value(d, key)}`),
          );
        }),
        labelled(i) &&
          s("text", { x: x0 + bar * 1.5, y: height - bottom + 14, "text-anchor": "middle", class: "tick day" }, shortDay(d.day)),
      );
    }),
  );
}

function legend() {
  return h(
    "ul",
    { class: "legend", "aria-hidden": "true" },
    [["bar-sent", "usage.sends"], ["bar-delivered", "usage.delivered"], ["bar-failed", "usage.failedAll"]].map(([cls, label]) =>
      h("li", {}, h("span", { class: `swatch ${cls}` }), " ", t(label)),
    ),
  );
}

export async function usageView(main) {
  const today = new Date();
  const from = h("input", { type: "date", name: "from", value: isoDay(new Date(today.getTime() - 13 * 86400000)) });
  const to = h("input", { type: "date", name: "to", value: isoDay(today) });
  const [fromField] = field(t("usage.from"), from);
  const [toField] = field(t("usage.to"), to);
  const out = h("div", { id: "usage", "aria-live": "polite" });

  async function load(event) {
    event?.preventDefault();
    try {
      const report = await api("GET", "/api/reports/usage", { query: { from: from.value, to: to.value, granularity: "day" } });
      const codes = Object.entries(report.totals.failuresByCode);
      // Failures the count by code does not hold are shown as such, never hidden (docs/integrations.md#reports)
      const uncounted = report.totals.failuresUncounted || 0;
      replace(
        out,
        usageChart(report),
        legend(),
        h(
          "details",
          {},
          h("summary", {}, t("usage.table")),
          h(
            "table",
            { id: "usage-table" },
            h("thead", {}, h("tr", {}, ["usage.day", "usage.sends", "usage.delivered", "usage.failedAll", "usage.spent", "usage.refunded"].map((k) => h("th", { scope: "col" }, t(k))))),
            h(
              "tbody",
              {},
              report.days.map((d) =>
                h("tr", {}, h("th", { scope: "row" }, shortDay(d.day)), [d.sends, d.delivered, d.failed + d.undelivered, d.creditsSpent, d.creditsRefunded].map((n) => h("td", {}, String(n)))),
              ),
            ),
          ),
        ),
        h("h2", {}, t("usage.codes")),
        codes.length || uncounted
          ? h(
              "table",
              { id: "usage-codes" },
              h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("usage.code")), h("th", { scope: "col" }, t("usage.count")))),
              h(
                "tbody",
                {},
                codes.map(([code, n]) => h("tr", {}, h("td", { translate: "no" }, code), h("td", {}, String(n)))),
                uncounted ? h("tr", { id: "usage-uncounted" }, h("td", {}, t("usage.uncounted")), h("td", {}, String(uncounted))) : null,
              ),
            )
          : h("p", {}, t("usage.noFailures")),
      );
    } catch (error) {
      replace(out, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("h1", {}, t("nav.usage")),
    h("p", {}, t("usage.intro")),
    h("form", { class: "card row", onsubmit: load }, fromField, toField, h("button", { type: "submit" }, t("usage.show"))),
    out,
  );
  await load();
}
