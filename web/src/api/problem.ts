// RFC 9457 problems from the API, and the words the screens show for any failure.

/** The `type` prefix of every MediMint problem. */
export const PROBLEM_PREFIX = "urn:medimint:problem:";

/** An error answer of the API (or a failure to reach it), with words for the user. */
export class ApiError extends Error {
  /** The problem type after `urn:medimint:problem:` (`network` when the API was not reached). */
  readonly kind: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly field: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(init: {
    kind: string;
    status: number;
    title: string;
    detail: string;
    field?: string | undefined;
    retryAfter?: number | undefined;
  }) {
    super(`${init.title}: ${init.detail}`);
    this.name = "ApiError";
    this.kind = init.kind;
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail;
    this.field = init.field;
    this.retryAfter = init.retryAfter;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** Words for a status when the body is not a problem. */
function statusWords(status: number): string {
  if (status === 401) return "You are not signed in, or your session ended: sign in again.";
  if (status === 403) return "Your role does not allow this.";
  if (status === 404) return "Not found, or not available to you.";
  if (status === 413) return "What you sent is too large.";
  if (status === 429) return "Too many requests: wait a moment and try again.";
  if (status >= 500) return "The service failed to answer: try again in a moment.";
  return `The request failed (HTTP ${status}).`;
}

/** Builds the error for a non-2xx answer from its status, body text and headers. */
export function problemFrom(status: number, bodyText: string, headers?: Headers): ApiError {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      body = parsed as Record<string, unknown>;
    }
  } catch {
    body = undefined;
  }
  const type = str(body?.["type"]);
  const kind = type?.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : `http-${status}`;
  const header = headers?.get("retry-after");
  const retry =
    typeof body?.["retry_after"] === "number"
      ? (body["retry_after"] as number)
      : header && /^\d+$/.test(header)
        ? Number(header)
        : undefined;
  return new ApiError({
    kind,
    status,
    title: str(body?.["title"]) ?? `HTTP ${status}`,
    detail: str(body?.["detail"]) ?? str(body?.["error"]) ?? statusWords(status),
    field: str(body?.["field"]),
    retryAfter: retry,
  });
}

/** The error for a request that never got an answer. */
export function networkError(cause: unknown): ApiError {
  const why = cause instanceof Error && cause.message ? ` (${cause.message})` : "";
  return new ApiError({
    kind: "network",
    status: 0,
    title: "No answer",
    detail: `The MediMint service could not be reached${why}: check your connection and try again.`,
  });
}

/** What to tell the user about any failure, in words. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    const more: string[] = [];
    if (err.field && !err.detail.includes(err.field)) more.push(`(field: ${err.field})`);
    if (err.retryAfter !== undefined) more.push(`Try again in ${err.retryAfter} s.`);
    return [err.detail, ...more].join(" ");
  }
  if (err instanceof Error && err.message) return err.message;
  return "Something went wrong: try again.";
}
