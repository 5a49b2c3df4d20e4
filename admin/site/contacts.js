// Tags (counts, create, rename) and contacts (search, tag filter, add, edit tags, opt out and why, CSV import).
import { api } from "./api.js";
import { confirmDialog, field, h, notice, replace, when } from "./dom.js";
import { fmt, language, t } from "./i18n.js";

const DIRECT_IMPORT_BYTES = 256 * 1024; // POST /api/contacts/imports takes at most this; larger files are uploaded

// ---------------------------------------------------------------------------------------------- tags
export async function tagsView(main, ctx) {
  const list = h("div", { id: "tags" });
  const status = h("div", { "aria-live": "polite" });
  const name = h("input", { name: "name", required: true, maxlength: 64 });

  let tags = [];
  async function render() {
    tags = await ctx.loadTags();
    replace(
      list,
      h(
        "table",
        { class: "list" },
        h("caption", {}, t("tags.caption")),
        h("thead", {}, h("tr", {}, h("th", {}, t("tags.tag")), h("th", {}, t("nav.contacts")), h("th", {}, h("span", { class: "sr-only" }, t("common.actions"))))),
        h("tbody", {}, tags.map((tag) => row(tag))),
      ),
    );
  }

  function row(tag) {
    const tr = h("tr", { dataset: { tagId: tag.id } });
    const show = () =>
      replace(
        tr,
        h("td", { translate: "no" }, tag.name),
        h("td", {}, fmt.number(tag.contactCount)),
        h(
          "td",
          { class: "actions" },
          h("button", { class: "secondary small", onclick: edit, ...ctx.writeGuard(), "aria-label": t("tags.renameLabel", { name: tag.name }) }, t("tags.rename")),
          h("button", { class: "secondary small", onclick: mergeForm, ...ctx.writeGuard(), disabled: ctx.readOnly || tags.length < 2, "aria-label": t("tags.mergeLabel", { name: tag.name }) }, t("tags.merge")),
          h("button", { class: "danger small", onclick: remove, ...ctx.writeGuard(), "aria-label": t("tags.deleteLabel", { name: tag.name }) }, t("tags.delete")),
        ),
      );
    const remove = async () => {
      const ok = await confirmDialog(
        t("tags.deleteTitle", { name: tag.name }),
        t("tags.deleteText", { count: tag.contactCount }),
        t("tags.delete"),
      );
      if (!ok) return;
      try {
        await api("DELETE", `/api/tags/${tag.id}`);
        replace(status, notice("ok", t("tags.deleted", { name: tag.name, count: tag.contactCount })));
        await render();
      } catch (error) {
        replace(status, notice("error", error.sentence));
      }
    };
    const mergeForm = () => {
      const others = tags.filter((other) => other.id !== tag.id);
      const into = h("select", { "aria-label": t("tags.mergeInto", { name: tag.name }) }, others.map((o) => h("option", { value: o.id }, o.name)));
      replace(
        tr,
        h(
          "td",
          { colspan: 3 },
          h(
            "form",
            {
              class: "inline",
              onsubmit: async (e) => {
                e.preventDefault();
                const target = others.find((o) => o.id === into.value);
                const ok = await confirmDialog(
                  t("tags.mergeTitle", { name: tag.name, into: target.name }),
                  t("tags.mergeText", { count: tag.contactCount, name: tag.name, into: target.name }),
                  t("tags.merge"),
                  { kind: "primary" },
                );
                if (!ok) return;
                try {
                  const merged = await api("POST", `/api/tags/${tag.id}/merge`, { body: { into: target.id } });
                  replace(status, notice("ok", t("tags.merged", { name: tag.name, into: target.name, count: merged.moved })));
                  await render();
                } catch (error) {
                  replace(status, notice("error", error.sentence));
                }
              },
            },
            h("span", {}, t("tags.mergeInto", { name: tag.name })),
            into,
            h("button", { type: "submit", class: "small" }, t("tags.merge")),
            h("button", { type: "button", class: "secondary small", onclick: show }, t("common.cancel")),
          ),
        ),
      );
      into.focus();
    };
    const edit = () => {
      const input = h("input", { value: tag.name, required: true, maxlength: 64, "aria-label": t("tags.newNameLabel", { name: tag.name }) });
      replace(
        tr,
        h(
          "td",
          { colspan: 3 },
          h(
            "form",
            {
              class: "inline",
              onsubmit: async (e) => {
                e.preventDefault();
                try {
                  await api("PATCH", `/api/tags/${tag.id}`, { body: { name: input.value } });
                  replace(status, notice("ok", t("tags.renamed", { from: tag.name, to: input.value.trim() })));
                  await render();
                } catch (error) {
                  replace(status, notice("error", error.sentence));
                }
              },
            },
            input,
            h("button", { type: "submit", class: "small" }, t("common.save")),
            h("button", { type: "button", class: "secondary small", onclick: show }, t("common.cancel")),
          ),
        ),
      );
      input.focus();
    };
    show();
    return tr;
  }

  async function create(e) {
    e.preventDefault();
    try {
      const tag = await api("POST", "/api/tags", { body: { name: name.value } });
      replace(status, notice("ok", t("tags.created", { name: tag.name })));
      name.value = "";
      await render();
    } catch (error) {
      replace(status, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("h1", {}, t("nav.tags")),
    h("form", { class: "card row", onsubmit: create }, field(t("tags.new"), name)[0], h("button", { type: "submit", ...ctx.writeGuard() }, t("tags.create"))),
    status,
    h("section", { class: "card" }, list),
  );
  await render();
}

// ---------------------------------------------------------------------------------------------- contacts
export async function contactsView(main, ctx) {
  const tags = await ctx.loadTags();
  const status = h("div", { "aria-live": "polite", id: "contacts-status" });
  const results = h("div", { id: "contacts" });
  const search = h("input", { type: "search", name: "q", placeholder: "Ana, 300123…" });
  const tagFilter = h("select", { name: "tagId" }, h("option", { value: "" }, t("contacts.anyTag")), tags.map((tag) => h("option", { value: tag.id }, tag.name)));
  let cursor = null;
  let shown = [];
  let loads = 0;

  async function load(first) {
    const raw = search.value.trim();
    // The API searches all of the account's contacts: the start of any word of the name (without accents or case)
    // or of the number's digits. One letter is too little to search by: the list is shown unfiltered.
    const query = { tagId: tagFilter.value || undefined, limit: 25, cursor: first ? undefined : cursor };
    if ((raw.match(/[\p{L}\p{N}]/gu) || []).length >= 2) query.q = raw;
    const load = ++loads; // only the newest answer is shown: a slower, older list must not replace a search
    try {
      const page = await api("GET", "/api/contacts", { query });
      if (load !== loads) return;
      shown = first ? page.items : shown.concat(page.items);
      cursor = page.nextCursor;
      render();
    } catch (error) {
      replace(results, notice("error", error.sentence));
    }
  }

  function render() {
    replace(
      results,
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "list" },
          h("caption", {}, t("nav.contacts")),
          h("thead", {}, h("tr", {}, h("th", {}, t("contacts.name")), h("th", {}, t("contacts.phone")), h("th", {}, t("nav.tags")), h("th", {}, t("contacts.consent")), h("th", {}, h("span", { class: "sr-only" }, t("common.actions"))))),
          h("tbody", {}, shown.length === 0 && h("tr", {}, h("td", { colspan: 5, class: "muted" }, t("contacts.none"))), shown.map(contactRow)),
        ),
      ),
      cursor && h("button", { class: "secondary", onclick: () => load(false) }, t("contacts.more")),
    );
  }

  function contactRow(contact) {
    const tr = h("tr", { dataset: { contactId: contact.id } });
    const editTags = () => {
      const boxes = tags.map((tag) => h("input", { type: "checkbox", value: tag.id, checked: contact.tagIds.includes(tag.id) }));
      replace(
        tr,
        h(
          "td",
          { colspan: 5 },
          h(
            "form",
            {
              class: "inline",
              onsubmit: async (e) => {
                e.preventDefault();
                const wanted = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
                const body = {
                  addTagIds: [...wanted].filter((id) => !contact.tagIds.includes(id)),
                  removeTagIds: contact.tagIds.filter((id) => !wanted.has(id)),
                };
                try {
                  Object.assign(contact, await api("PATCH", `/api/contacts/${contact.id}`, { body }));
                  replace(status, notice("ok", t("contacts.tagsSaved", { who: contact.name || contact.phone })));
                  tr.replaceWith(contactRow(contact));
                } catch (error) {
                  replace(status, notice("error", error.sentence));
                }
              },
            },
            h("fieldset", {}, h("legend", {}, t("contacts.tagsOf", { who: contact.name || contact.phone })), tags.map((tag, i) => h("label", { class: "check" }, boxes[i], ` ${tag.name}`))),
            h("button", { type: "submit", class: "small" }, t("contacts.saveTags")),
            h("button", { type: "button", class: "secondary small", onclick: () => tr.replaceWith(contactRow(contact)) }, t("common.cancel")),
          ),
        ),
      );
    };
    const optOut = async () => {
      const ok = await confirmDialog(
        t("contacts.optOutTitle", { who: contact.name || contact.phone }),
        t("contacts.optOutText"),
        t("contacts.optOut"),
      );
      if (!ok) return;
      try {
        Object.assign(contact, await api("PATCH", `/api/contacts/${contact.id}`, { body: { optedOut: true } }));
        replace(status, notice("ok", t("contacts.optedOutDone", { who: contact.name || contact.phone })));
        tr.replaceWith(contactRow(contact));
      } catch (error) {
        replace(status, notice("error", error.sentence));
      }
    };
    // Opt back in (issue 23, item 6): recorded as a granted marketing consent with source `ui` (its history keeps it)
    const optIn = async () => {
      const ok = await confirmDialog(
        t("contacts.optInTitle", { who: contact.name || contact.phone }),
        t("contacts.optInText"),
        t("contacts.optIn"),
      );
      if (!ok) return;
      const body = { marketingConsent: { status: "granted", source: "ui" } };
      if (contact.optedOut) body.optedOut = false;
      try {
        Object.assign(contact, await api("PATCH", `/api/contacts/${contact.id}`, { body }));
        replace(status, notice("ok", t("contacts.optedInDone", { who: contact.name || contact.phone })));
        tr.replaceWith(contactRow(contact));
      } catch (error) {
        replace(status, notice("error", error.sentence));
      }
    };
    const granted = contact.marketingConsent && contact.marketingConsent.status === "granted";
    replace(
      tr,
      h("td", { translate: "no" }, contact.name || "—"),
      h("td", {}, contact.phone),
      h("td", { translate: "no" }, contact.tagIds.map((id) => ctx.tagName(id)).join(", ") || "—"),
      h("td", { class: "consent" }, consentCell(contact)),
      h(
        "td",
        { class: "actions" },
        h("button", { class: "secondary small", onclick: editTags, ...ctx.writeGuard() }, t("contacts.editTags")),
        (contact.optedOut || !granted) &&
          h("button", { class: "secondary small", onclick: optIn, ...ctx.writeGuard() }, t("contacts.optIn")),
        !contact.optedOut && h("button", { class: "danger small", onclick: optOut, ...ctx.writeGuard() }, t("contacts.optOut")),
      ),
    );
    return tr;
  }

  // add
  const phone = h("input", { name: "phone", type: "tel", required: true, autocomplete: "off" });
  const name = h("input", { name: "name", autocomplete: "off" });
  const addBoxes = tags.map((tag) => h("input", { type: "checkbox", value: tag.id }));
  async function add(e) {
    e.preventDefault();
    const body = { phone: phone.value, tagIds: addBoxes.filter((b) => b.checked).map((b) => b.value) };
    if (name.value.trim()) body.name = name.value.trim();
    try {
      const contact = await api("POST", "/api/contacts", { body });
      replace(status, notice("ok", t("contacts.added", { who: contact.name || contact.phone, phone: contact.phone })));
      e.target.reset();
      await ctx.loadTags();
      shown = [contact, ...shown];
      render();
    } catch (error) {
      replace(status, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("h1", {}, t("nav.contacts")),
    h(
      "form",
      { class: "card filters row", role: "search", onsubmit: (e) => (e.preventDefault(), load(true)) },
      field(t("contacts.search"), search)[0],
      field(t("tags.tag"), tagFilter)[0],
      h("button", { type: "submit" }, t("contacts.searchButton")),
    ),
    status,
    h("section", { class: "card" }, results),
    h(
      "details",
      { class: "card" },
      h("summary", {}, t("contacts.add")),
      h(
        "form",
        { onsubmit: add },
        h("div", { class: "row" }, field(t("contacts.phone"), phone, t("contacts.phoneHint"))[0], field(t("contacts.nameOptional"), name)[0]),
        h("fieldset", {}, h("legend", {}, t("nav.tags")), tags.map((tag, i) => h("label", { class: "check" }, addBoxes[i], ` ${tag.name}`))),
        h("button", { type: "submit", ...ctx.writeGuard() }, t("contacts.addButton")),
      ),
    ),
    importSection(ctx, () => load(true)),
  );
  tagFilter.addEventListener("change", () => load(true));
  await load(true);
}

// ---------------------------------------------------------------------------------------------- consent
// Why every send skips a contact (the API's consent.reasons): the account's own opt-out, or an opt-out keyword the
// number replied to a sender this account sends through. A keyword to another sender never shows here.
const PROVIDER_NAMES = { twilio: "Twilio", aws_sms: "AWS" };

export function senderName(sender) {
  if (!sender) return t("consent.unknownSender");
  if (sender === "sandbox") return t("consent.sandboxSender");
  const split = sender.indexOf(":");
  if (split < 0) return sender;
  const provider = sender.slice(0, split);
  return `${PROVIDER_NAMES[provider] || provider} ${sender.slice(split + 1)}`;
}

export function reasonText(reason) {
  if (reason.reason === "TENANT_OPT_OUT") return t("consent.byAccount");
  if (reason.keyword === "LINK") return t("consent.usedLink", { sender: senderName(reason.sender) }); // opt-out link page
  const word = reason.keyword ? `“${reason.keyword}”` : t("consent.aKeyword");
  return t("consent.replied", { word, sender: senderName(reason.sender) });
}

// The latest marketing consent record (granted / revoked, its source and date), under the opt-out state.
function marketingConsentLine(contact) {
  const record = contact.marketingConsent;
  if (!record) return h("div", { class: "marketing-consent" }, t("consent.noRecord"));
  return h(
    "div",
    { class: "marketing-consent", dataset: { status: record.status } },
    t(record.status === "granted" ? "consent.granted" : "consent.revoked", { source: t(`consent.source.${record.source}`) }),
    " · ",
    when(record.at),
  );
}

function consentCell(contact) {
  return [optOutState(contact), marketingConsentLine(contact)];
}

function optOutState(contact) {
  const reasons = (contact.consent && contact.consent.reasons) || [];
  if (!contact.optedOut) return t("consent.subscribed");
  if (reasons.length === 0) return [t("consent.optedOut"), contact.optedOutAt && [" ", when(contact.optedOutAt)]];
  return [
    h("span", {}, t("consent.optedOut")),
    h(
      "ul",
      { class: "reasons" },
      reasons.map((r) => h("li", { dataset: { reason: r.reason } }, reasonText(r), r.at && [" · ", when(r.at)])),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------- import
function importSection(ctx, reload) {
  const file = h("input", { type: "file", accept: ".csv,.txt,text/csv,text/plain", name: "file", required: true });
  const progress = h("progress", { max: 100, value: 0, id: "import-progress", hidden: true });
  const progressLabel = h("span", { id: "import-progress-label", "aria-live": "polite" });
  const report = h("div", { id: "import-report", "aria-live": "polite" });

  function setProgress(fraction, label) {
    progress.hidden = false;
    if (fraction === null) progress.removeAttribute("value");
    else progress.value = Math.round(100 * Math.min(1, fraction));
    progressLabel.textContent = label;
  }

  function renderReport(job) {
    const rejected = job.rejectedRows || [];
    replace(
      report,
      job.status === "FAILED"
        ? notice("error", fileProblem(job.errorCode, {}, job.error))
        : notice(
            job.rejected ? "info" : "ok",
            t("import.summary", {
              imported: job.imported,
              count: job.rowsProcessed,
              created: job.created,
              updated: job.updated,
              unchanged: job.unchanged,
              rejected: job.rejected,
            }),
          ),
      rejected.length > 0 &&
        h(
          "table",
          { class: "list", id: "rejected-rows" },
          h("caption", {}, job.rejected > rejected.length ? t("import.rejectedFirst", { shown: rejected.length, total: job.rejected }) : t("import.rejected")),
          h("thead", {}, h("tr", {}, h("th", {}, t("import.line")), h("th", {}, t("import.content")), h("th", {}, t("import.reason")))),
          h(
            "tbody",
            {},
            rejected.map((r) =>
              h(
                "tr",
                {},
                h("td", {}, r.line),
                h("td", { class: "row-content", translate: "no" }, r.content ?? "—"),
                h("td", {}, rowReason(r)),
              ),
            ),
          ),
        ),
      (job.warnings || []).length > 0 &&
        h("p", { class: "muted" }, t("import.warned", { count: job.warned, line: job.warnings[0].line })),
    );
  }

  async function upload(e) {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    // The bytes go as they are: the API finds the encoding (Excel in Spanish saves Windows-1252) and the separator.
    const bytes = new Uint8Array(await chosen.arrayBuffer());
    const rows = Math.max(0, bytes.reduce((n, b) => n + (b === 10), 0) + (bytes.at(-1) === 10 ? 0 : 1) - 1);
    replace(report);
    try {
      let job;
      if (chosen.size <= DIRECT_IMPORT_BYTES) {
        setProgress(null, t("import.importing", { count: rows }));
        job = await api("POST", "/api/contacts/imports", { body: chosen, contentType: "text/csv" });
      } else {
        const started = await api("POST", "/api/contacts/imports/uploads");
        setProgress(0, t("import.uploading", { percent: 0 }));
        await putFile(started.uploadUrl, chosen, (f) => setProgress(f * 0.2, t("import.uploading", { percent: Math.round(f * 100) })));
        job = started.job;
        while (job.status === "AWAITING_UPLOAD" || job.status === "PROCESSING") {
          await new Promise((r) => setTimeout(r, 1000));
          job = await api("GET", `/api/contacts/imports/${job.id}`);
          setProgress(0.2 + 0.8 * (rows ? job.rowsProcessed / rows : 0), t("import.processed", { done: job.rowsProcessed, count: rows }));
        }
      }
      setProgress(1, t("import.done", { count: job.rowsProcessed }));
      renderReport(job);
      await ctx.loadTags();
      reload();
    } catch (error) {
      progress.hidden = true;
      progressLabel.textContent = "";
      const problem = error.body?.problem;
      replace(report, notice("error", problem ? fileProblem(problem, error.body, error.body.message) : error.sentence));
    }
  }

  return h(
    "details",
    { class: "card", open: true },
    h("summary", {}, t("import.title")),
    h(
      "form",
      { onsubmit: upload },
      h("p", { class: "muted" }, t("import.hint")),
      field(t("import.file"), file)[0],
      h("button", { type: "submit", ...ctx.writeGuard() }, t("import.submit")),
      h("div", { class: "progress" }, progress, " ", progressLabel),
    ),
    report,
  );
}

/** Why a whole file was refused, in the chosen language (the API's FileProblem codes); its own words otherwise. */
function fileProblem(code, body, fallback) {
  if (code && ["ENCODING", "NOT_TEXT", "EMPTY", "HEADER", "UNCLOSED_QUOTE", "FIELD_TOO_LARGE", "TOO_LARGE"].includes(code)) {
    const where = body?.line ? t("import.atLine", { line: body.line }) : "";
    return t("import.refused", { reason: t(`import.problem.${code}`), where });
  }
  return t("import.failed", { reason: fallback || t("import.unreadable") });
}

/** A rejected row's reason: the sentence of its code in the chosen language (the API's detail in English). */
function rowReason(row) {
  const known = ["COLUMNS", "PHONE_MISSING", "PHONE_INVALID", "NAME", "TAGS", "TOO_MANY_TAGS", "NOT_CSV", "CONSENT"];
  if (language() !== "en" && known.includes(row.code)) return t(`import.row.${row.code}`);
  return row.reason;
}

function putFile(url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "text/csv");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject({ sentence: t("import.uploadRefused", { status: xhr.status }) }));
    xhr.onerror = () => reject({ sentence: t("import.uploadFailed") });
    xhr.send(blob);
  });
}
