// The API client: bearer token from sessionStorage, JSON in and out, every documented error as an ApiError
// whose `sentence` is what the page shows (never the raw body), in the chosen language.
import { t } from "./i18n.js";

const TOKEN_KEY = "smsAdmin.token";
const apiBase = document.querySelector('meta[name="api-base"]')?.content ?? "";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || (status === 0 ? "NETWORK" : `HTTP_${status}`);
    this.body = body || {};
    this.sentence = sentence(this.status, this.code, this.body);
  }
}

// The request fields an error's details may name (keys field.<name> in messages.js).
const FIELD_NAMES = new Set([
  "message", "tagIds", "sendAt", "purpose", "country", "phone", "name", "recipient", "from", "to", "cursor", "limit",
  "status", "q", "tags", "into",
]);

function detailsSentence(details) {
  if (!Array.isArray(details) || details.length === 0) return "";
  const parts = details.slice(0, 4).map((d) => {
    const field = String(d.field || "").split(".").pop();
    return `${FIELD_NAMES.has(field) ? t(`field.${field}`) : field || t("field.request")}: ${d.message}`;
  });
  return " " + parts.join("; ") + ".";
}

/** A readable sentence, in the chosen language, for every error code the API documents (docs/api.md, "Error codes"). */
export function sentence(status, code, body) {
  const n = (value, fallback) => (typeof value === "number" ? value : t(fallback));
  switch (code) {
    case "INSUFFICIENT_CREDITS":
      return t("error.INSUFFICIENT_CREDITS", { required: n(body.required, "error.more"), available: n(body.available, "error.lower") });
    case "TOO_MANY_RECIPIENTS":
      return t("error.TOO_MANY_RECIPIENTS", { recipients: n(body.recipients, "error.tooMany"), limit: n(body.limit, "error.aCampaign") });
    case "AUDIENCE_TOO_LARGE_FOR_REQUEST":
      return t(body.reason === "resend" ? "error.AUDIENCE_TOO_LARGE_RESEND" : "error.AUDIENCE_TOO_LARGE_TRACKED", {
        recipients: n(body.recipients, "error.tooMany"),
        limit: n(body.limit, "error.aCampaign"),
      });
    case "VALIDATION_ERROR":
      return t("error.VALIDATION_ERROR") + (detailsSentence(body.details) || (body.message ? ` ${body.message}.` : ""));
    case "NOT_FOUND":
    case "QUEUE_NOT_FOUND":
      return t("error.NOT_FOUND") + detailsSentence(body.details);
    case "INVALID_CHARACTER": {
      const where = body.codePoint
        ? body.position
          ? t("error.characterAt", { codePoint: body.codePoint, position: body.position })
          : t("error.character", { codePoint: body.codePoint })
        : "";
      return t("error.INVALID_CHARACTER", { where });
    }
    case "TEST_SEND_LIMIT":
      return typeof body.limit === "number"
        ? t("error.TEST_SEND_LIMIT", { limit: body.limit })
        : t("error.TEST_SEND_LIMIT_ANY");
    case "UNKNOWN_MERGE_FIELD":
      return t("error.UNKNOWN_MERGE_FIELD", { field: body.field || t("error.aField") });
    case "MERGE_FIELD_MISSING":
      return t("error.MERGE_FIELD_MISSING", {
        recipients: n(body.recipients, "error.some"),
        field: body.field || t("error.aField"),
      });
    case "ENQUEUE_FAILED":
      return t("error.ENQUEUE_FAILED", { enqueued: body.enqueued ?? 0, refunded: body.refundedCredits ?? 0 });
    case "BAD_REQUEST":
      return status === 403 ? t("error.BAD_REQUEST_403") : t("error.BAD_REQUEST", { message: body.message || "bad request" });
    case "NETWORK":
    case "UNAUTHORIZED":
    case "TERMS_NOT_ACCEPTED":
    case "INSUFFICIENT_SCOPE":
    case "TENANT_NOT_FOUND":
    case "TAG_EXISTS":
    case "SENDER_NAME_REQUIRED":
    case "OPT_OUT_LINK_UNAVAILABLE":
    case "CONTACT_EXISTS":
    case "CONCURRENT_UPDATE":
    case "IDEMPOTENCY_KEY_REUSED":
    case "REQUEST_IN_PROGRESS":
    case "PAYLOAD_TOO_LARGE":
    case "UNSUPPORTED_MEDIA_TYPE":
    case "GATEWAY_TIMEOUT":
    case "AUTHORIZER_FAILURE":
    case "INVALID_SIGNATURE":
    case "NO_TERMS_PUBLISHED":
      return t(`error.${code}`, { reason: body.message || "" });
    case "EXCLUSION_LIST_STALE":
      return body.snapshotDate ? t("error.EXCLUSION_LIST_STALE", { date: body.snapshotDate }) : t("error.EXCLUSION_LIST_NONE");
    default:
      if (status >= 500) return t("error.server");
      return body.message ? `${body.message}.` : t("error.http", { status });
  }
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.append(key, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** One API call. Resolves to the decoded body (null when empty); rejects with ApiError. */
export async function api(method, path, { body, query, headers = {}, contentType = "application/json" } = {}) {
  const init = { method, headers: { ...headers } };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = contentType;
    // A file goes as its bytes (Blob): the API detects the encoding it was saved in.
    init.body = typeof body === "string" || body instanceof Blob ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiBase + withQuery(path, query), init);
  } catch {
    throw new ApiError(0, null);
  }
  const text = await response.text();
  let decoded = null;
  if (text) {
    try {
      decoded = JSON.parse(text);
    } catch {
      decoded = { message: "" };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, decoded);
    if (error.status === 401) window.dispatchEvent(new CustomEvent("api:unauthorized", { detail: error }));
    throw error;
  }
  return decoded;
}

/** A fresh Idempotency-Key. */
export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
