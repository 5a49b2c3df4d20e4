// Tags (counts, create, rename) and contacts (search, tag filter, add, edit tags, opt out and why, CSV import).
import { api } from "./api.js";
import { confirmDialog, field, h, notice, replace, when } from "./dom.js";

const DIRECT_IMPORT_BYTES = 256 * 1024; // POST /api/contacts/imports takes at most this; larger files are uploaded

// ---------------------------------------------------------------------------------------------- tags
export async function tagsView(main, ctx) {
  const list = h("div", { id: "tags" });
  const status = h("div", { "aria-live": "polite" });
  const name = h("input", { name: "name", required: true, maxlength: 64 });

  async function render() {
    const tags = await ctx.loadTags();
    replace(
      list,
      h(
        "table",
        { class: "list" },
        h("caption", {}, "Tags and how many contacts carry each"),
        h("thead", {}, h("tr", {}, h("th", {}, "Tag"), h("th", {}, "Contacts"), h("th", {}, h("span", { class: "sr-only" }, "Actions")))),
        h("tbody", {}, tags.map((tag) => row(tag))),
      ),
    );
  }

  function row(tag) {
    const tr = h("tr", { dataset: { tagId: tag.id } });
    const show = () =>
      replace(
        tr,
        h("td", {}, tag.name),
        h("td", {}, tag.contactCount),
        h("td", {}, h("button", { class: "secondary small", onclick: edit, ...ctx.writeGuard(), "aria-label": `Rename ${tag.name}` }, "Rename")),
      );
    const edit = () => {
      const input = h("input", { value: tag.name, required: true, maxlength: 64, "aria-label": `New name for ${tag.name}` });
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
                  replace(status, notice("ok", `Renamed “${tag.name}” to “${input.value.trim()}”.`));
                  await render();
                } catch (error) {
                  replace(status, notice("error", error.sentence));
                }
              },
            },
            input,
            h("button", { type: "submit", class: "small" }, "Save"),
            h("button", { type: "button", class: "secondary small", onclick: show }, "Cancel"),
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
      replace(status, notice("ok", `Tag “${tag.name}” created.`));
      name.value = "";
      await render();
    } catch (error) {
      replace(status, notice("error", error.sentence));
    }
  }

  replace(
    main,
    h("h1", {}, "Tags"),
    h("form", { class: "card row", onsubmit: create }, field("New tag", name)[0], h("button", { type: "submit", ...ctx.writeGuard() }, "Create tag")),
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
  const tagFilter = h("select", { name: "tagId" }, h("option", { value: "" }, "Any tag"), tags.map((t) => h("option", { value: t.id }, t.name)));
  let cursor = null;
  let shown = [];

  async function load(first) {
    const raw = search.value.trim();
    // A whole phone number is looked up exactly (normalised like sending); anything else matches part of a name or number.
    const isPhone = /^\+?[\d\s().-]{7,}$/.test(raw);
    const query = { tagId: tagFilter.value || undefined, limit: 25, cursor: first ? undefined : cursor };
    if (isPhone) query.phone = raw;
    else if (raw) query.q = raw;
    try {
      const page = await api("GET", "/api/contacts", { query });
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
          h("caption", {}, "Contacts"),
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Phone"), h("th", {}, "Tags"), h("th", {}, "Consent"), h("th", {}, h("span", { class: "sr-only" }, "Actions")))),
          h("tbody", {}, shown.length === 0 && h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No contacts match.")), shown.map(contactRow)),
        ),
      ),
      cursor && h("button", { class: "secondary", onclick: () => load(false) }, "More contacts"),
    );
  }

  function contactRow(contact) {
    const tr = h("tr", { dataset: { contactId: contact.id } });
    const editTags = () => {
      const boxes = tags.map((t) => h("input", { type: "checkbox", value: t.id, checked: contact.tagIds.includes(t.id) }));
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
                  replace(status, notice("ok", `Tags of ${contact.name || contact.phone} saved.`));
                  tr.replaceWith(contactRow(contact));
                } catch (error) {
                  replace(status, notice("error", error.sentence));
                }
              },
            },
            h("fieldset", {}, h("legend", {}, `Tags of ${contact.name || contact.phone}`), tags.map((t, i) => h("label", { class: "check" }, boxes[i], ` ${t.name}`))),
            h("button", { type: "submit", class: "small" }, "Save tags"),
            h("button", { type: "button", class: "secondary small", onclick: () => tr.replaceWith(contactRow(contact)) }, "Cancel"),
          ),
        ),
      );
    };
    const optOut = async () => {
      const ok = await confirmDialog(
        `Opt out ${contact.name || contact.phone}?`,
        "No SMS will be sent to this contact any more, whatever its tags, until it opts back in.",
        "Opt out",
      );
      if (!ok) return;
      try {
        Object.assign(contact, await api("PATCH", `/api/contacts/${contact.id}`, { body: { optedOut: true } }));
        replace(status, notice("ok", `${contact.name || contact.phone} is opted out.`));
        tr.replaceWith(contactRow(contact));
      } catch (error) {
        replace(status, notice("error", error.sentence));
      }
    };
    replace(
      tr,
      h("td", {}, contact.name || "—"),
      h("td", {}, contact.phone),
      h("td", {}, contact.tagIds.map((id) => ctx.tagName(id)).join(", ") || "—"),
      h("td", { class: "consent" }, consentCell(contact)),
      h(
        "td",
        { class: "actions" },
        h("button", { class: "secondary small", onclick: editTags, ...ctx.writeGuard() }, "Edit tags"),
        !contact.optedOut && h("button", { class: "danger small", onclick: optOut, ...ctx.writeGuard() }, "Opt out"),
      ),
    );
    return tr;
  }

  // add
  const phone = h("input", { name: "phone", type: "tel", required: true, autocomplete: "off" });
  const name = h("input", { name: "name", autocomplete: "off" });
  const addBoxes = tags.map((t) => h("input", { type: "checkbox", value: t.id }));
  async function add(e) {
    e.preventDefault();
    const body = { phone: phone.value, tagIds: addBoxes.filter((b) => b.checked).map((b) => b.value) };
    if (name.value.trim()) body.name = name.value.trim();
    try {
      const contact = await api("POST", "/api/contacts", { body });
      replace(status, notice("ok", `Added ${contact.name || contact.phone} (${contact.phone}).`));
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
    h("h1", {}, "Contacts"),
    h(
      "form",
      { class: "card filters row", role: "search", onsubmit: (e) => (e.preventDefault(), load(true)) },
      field("Search by name or phone", search)[0],
      field("Tag", tagFilter)[0],
      h("button", { type: "submit" }, "Search"),
    ),
    status,
    h("section", { class: "card" }, results),
    h(
      "details",
      { class: "card" },
      h("summary", {}, "Add a contact"),
      h(
        "form",
        { onsubmit: add },
        h("div", { class: "row" }, field("Phone", phone, "National numbers are read in your account's country.")[0], field("Name (optional)", name)[0]),
        h("fieldset", {}, h("legend", {}, "Tags"), tags.map((t, i) => h("label", { class: "check" }, addBoxes[i], ` ${t.name}`))),
        h("button", { type: "submit", ...ctx.writeGuard() }, "Add contact"),
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
  if (!sender) return "one of your senders (recorded before senders were kept)";
  if (sender === "sandbox") return "the sandbox sender";
  const split = sender.indexOf(":");
  if (split < 0) return sender;
  const provider = sender.slice(0, split);
  return `${PROVIDER_NAMES[provider] || provider} ${sender.slice(split + 1)}`;
}

export function reasonText(reason) {
  if (reason.reason === "TENANT_OPT_OUT") return "Opted out by your account";
  const word = reason.keyword ? `“${reason.keyword}”` : "an opt-out keyword";
  return `Replied ${word} to ${senderName(reason.sender)}`;
}

function consentCell(contact) {
  const reasons = (contact.consent && contact.consent.reasons) || [];
  if (!contact.optedOut) return "Subscribed";
  if (reasons.length === 0) return ["Opted out", contact.optedOutAt && [" ", when(contact.optedOutAt)]];
  return [
    h("span", {}, "Opted out"),
    h(
      "ul",
      { class: "reasons" },
      reasons.map((r) => h("li", { dataset: { reason: r.reason } }, reasonText(r), r.at && [" · ", when(r.at)])),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------- import
function importSection(ctx, reload) {
  const file = h("input", { type: "file", accept: ".csv,text/csv", name: "file", required: true });
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
        ? notice("error", `The import failed: ${job.error || "the file could not be read"}.`)
        : notice(
            job.rejected ? "info" : "ok",
            `Imported ${job.imported} of ${job.rowsProcessed} rows: ${job.created} new, ${job.updated} updated, ${job.unchanged} unchanged; ${job.rejected} rejected.`,
          ),
      rejected.length > 0 &&
        h(
          "table",
          { class: "list", id: "rejected-rows" },
          h("caption", {}, job.rejected > rejected.length ? `Rejected rows (the first ${rejected.length} of ${job.rejected})` : "Rejected rows"),
          h("thead", {}, h("tr", {}, h("th", {}, "Line"), h("th", {}, "Reason"))),
          h("tbody", {}, rejected.map((r) => h("tr", {}, h("td", {}, r.line), h("td", {}, r.reason)))),
        ),
      (job.warnings || []).length > 0 &&
        h("p", { class: "muted" }, `${job.warned} rows imported with a warning (numbers that cannot receive SMS), e.g. line ${job.warnings[0].line}.`),
    );
  }

  async function upload(e) {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const text = await chosen.text();
    const rows = Math.max(0, text.split(/\r?\n/).filter((l) => l.trim()).length - 1);
    replace(report);
    try {
      let job;
      if (chosen.size <= DIRECT_IMPORT_BYTES) {
        setProgress(null, `Importing ${rows} rows…`);
        job = await api("POST", "/api/contacts/imports", { body: text, contentType: "text/csv" });
      } else {
        const started = await api("POST", "/api/contacts/imports/uploads");
        setProgress(0, "Uploading…");
        await putFile(started.uploadUrl, chosen, (f) => setProgress(f * 0.2, `Uploading… ${Math.round(f * 100)}%`));
        job = started.job;
        while (job.status === "AWAITING_UPLOAD" || job.status === "PROCESSING") {
          await new Promise((r) => setTimeout(r, 1000));
          job = await api("GET", `/api/contacts/imports/${job.id}`);
          setProgress(0.2 + 0.8 * (rows ? job.rowsProcessed / rows : 0), `Processed ${job.rowsProcessed} of ${rows} rows…`);
        }
      }
      setProgress(1, `Done: ${job.rowsProcessed} rows read.`);
      renderReport(job);
      await ctx.loadTags();
      reload();
    } catch (error) {
      progress.hidden = true;
      progressLabel.textContent = "";
      replace(report, notice("error", error.sentence));
    }
  }

  return h(
    "details",
    { class: "card", open: true },
    h("summary", {}, "Import a CSV file"),
    h(
      "form",
      { onsubmit: upload },
      h("p", { class: "muted" }, "Columns phone,name,tags (tags separated by “;”). Existing numbers get the new tags."),
      field("CSV file", file)[0],
      h("button", { type: "submit", ...ctx.writeGuard() }, "Import"),
      h("div", { class: "progress" }, progress, " ", progressLabel),
    ),
    report,
  );
}

function putFile(url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "text/csv");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject({ sentence: `The upload was refused (HTTP ${xhr.status}).` }));
    xhr.onerror = () => reject({ sentence: "The upload failed: the file storage could not be reached." });
    xhr.send(blob);
  });
}
