// Integrations screens: API keys (create, copy the token once, revoke), webhooks (add, see deliveries, replay) and
// a campaign's CSV download. Texts are this module's own i18n keys (keys.*, webhooks.*, export.*), es-CO first.
import { api, session } from "./api.js";
import { confirmDialog, field, h, notice, replace, when } from "./dom.js";
import { addMessages, t } from "./i18n.js";

addMessages({
  "nav.keys": ["Claves de API", "API keys"],
  "nav.webhooks": ["Webhooks", "Webhooks"],
  "title.webhook": ["Webhook", "Webhook"],
  "error.INSUFFICIENT_SCOPE": [
    "Esta clave de API solo puede leer: use una clave con alcance completo para hacer cambios.",
    "This API key may only read: use a key with the full scope to make changes.",
  ],

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

  "export.download": ["Descargar CSV", "Download CSV"],
  "export.preparing": ["Preparando el archivo…", "Preparing the file…"],
  "export.ready": ["Archivo listo: {count} filas.", "File ready: {count} rows."],
  "export.large": [
    "Campaña grande: el archivo se está generando y se descargará cuando esté listo.",
    "Large campaign: the file is being generated and will download when ready.",
  ],
});

// The event types an endpoint may ask for today (the ones the platform emits).
const EVENTS = ["message.sent", "message.delivered", "message.undelivered", "message.failed"];

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
  const boxes = EVENTS.map((type) => h("input", { type: "checkbox", name: "events", value: type, checked: true, id: `event-${type}` }));
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
