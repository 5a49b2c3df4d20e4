// The API client: bearer token from sessionStorage, JSON in and out, every documented error as an ApiError
// whose `sentence` is what the page shows (never the raw body).

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

const FIELD_NAMES = {
  message: "the message",
  tagIds: "the tags",
  sendAt: "the send time",
  purpose: "the purpose",
  country: "the country",
  phone: "the phone number",
  name: "the name",
  recipient: "the recipient",
  from: "the “from” date",
  to: "the “to” date",
  cursor: "the page position",
  limit: "the page size",
  status: "the status",
};

function detailsSentence(details) {
  if (!Array.isArray(details) || details.length === 0) return "";
  const parts = details.slice(0, 4).map((d) => {
    const field = String(d.field || "").split(".").pop();
    return `${FIELD_NAMES[field] || field || "the request"}: ${d.message}`;
  });
  return " " + parts.join("; ") + ".";
}

/** A readable sentence for every error code the API documents (docs/api.md, "Error codes"). */
export function sentence(status, code, body) {
  switch (code) {
    case "NETWORK":
      return "The API could not be reached. Check your connection and try again.";
    case "UNAUTHORIZED":
      return "This token was refused: it is wrong, revoked, or its member was disabled. Sign in with a valid token.";
    case "TERMS_NOT_ACCEPTED":
      return "Read-only: this member has not accepted the current terms of service, so it can look but not send or change anything.";
    case "TENANT_NOT_FOUND":
      return "The account this token belongs to no longer exists.";
    case "INSUFFICIENT_CREDITS":
      return `Not enough credits: this needs ${body.required ?? "more"} and the balance is ${body.available ?? "lower"}. Nothing was sent or charged.`;
    case "TOO_MANY_RECIPIENTS":
      return `These tags reach ${body.recipients ?? "too many"} recipients, over the limit of ${body.limit ?? "a campaign"}. Choose fewer tags.`;
    case "VALIDATION_ERROR":
      return "Some of what was entered is not valid." + (detailsSentence(body.details) || ` ${body.message || ""}`);
    case "NOT_FOUND":
    case "QUEUE_NOT_FOUND":
      return "Not found: it does not exist, or it belongs to another account." + detailsSentence(body.details);
    case "INVALID_CHARACTER":
      return `This name has a character that is invisible or could disguise it${body.codePoint ? ` (${body.codePoint}${body.position ? ` at position ${body.position}` : ""})` : ""}. Remove it and try again.`;
    case "TAG_EXISTS":
      return "A tag with that name already exists (names are compared without case).";
    case "CONTACT_EXISTS":
      return "A contact with that phone number already exists.";
    case "CONCURRENT_UPDATE":
      return "Someone else kept changing this at the same time, and nothing was saved. Try again.";
    case "IDEMPOTENCY_KEY_REUSED":
      return "This send was already made with different content. Reload the page to compose a new message.";
    case "REQUEST_IN_PROGRESS":
      return "The same send is still being processed. Wait a few seconds and look at the campaigns.";
    case "PAYLOAD_TOO_LARGE":
      return "What was sent is too large (a CSV sent directly may be at most 256 KiB).";
    case "UNSUPPORTED_MEDIA_TYPE":
      return "The API did not accept this kind of content.";
    case "ENQUEUE_FAILED":
      return `The campaign was only partly queued: ${body.enqueued ?? 0} messages queued, ${body.refundedCredits ?? 0} credits refunded for the rest.`;
    case "GATEWAY_TIMEOUT":
      return "The API took too long to answer. The request may still complete: look at the campaigns before trying again.";
    case "AUTHORIZER_FAILURE":
      return "Sign-in checks are temporarily unavailable. Try again in a moment.";
    case "INVALID_SIGNATURE":
      return "The request's signature was not valid.";
    case "BAD_REQUEST":
      return status === 403
        ? "This action is not available on this API (it may not be deployed yet)."
        : `The API refused the request: ${body.message || "bad request"}.`;
    default:
      if (status >= 500) return "The service had a problem and did not finish. Try again in a moment.";
      return body.message ? `${body.message}.` : `The request failed (HTTP ${status}).`;
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
    init.body = typeof body === "string" ? body : JSON.stringify(body);
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
