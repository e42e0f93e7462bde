import { describe as group, expect, it } from "vitest";
import { ApiError, describe, networkError, problemFrom } from "../../src/api/problem";

group("problems in words", () => {
  it("reads an RFC 9457 problem of the API", () => {
    const e = problemFrom(
      400,
      JSON.stringify({
        type: "urn:medimint:problem:invalid-request",
        title: "Invalid request",
        status: 400,
        detail: "decision: must be approve or reject",
        field: "decision",
      }),
    );
    expect(e.kind).toBe("invalid-request");
    expect(e.field).toBe("decision");
    expect(describe(e)).toBe("decision: must be approve or reject");
  });

  it("names the field when the detail does not, and the wait of a rate limit", () => {
    const e = problemFrom(
      429,
      JSON.stringify({ type: "urn:medimint:problem:rate-limited", title: "Too many", status: 429, detail: "Slow down." }),
      new Headers({ "retry-after": "30" }),
    );
    expect(e.retryAfter).toBe(30);
    expect(describe(e)).toBe("Slow down. Try again in 30 s.");
    const f = problemFrom(400, JSON.stringify({ type: "urn:medimint:problem:invalid-request", title: "x", status: 400, detail: "wrong", field: "until" }));
    expect(describe(f)).toBe("wrong (field: until)");
  });

  it("gives words for a body that is not a problem", () => {
    expect(problemFrom(502, "<html>bad gateway</html>").detail).toMatch(/failed to answer/);
    expect(problemFrom(404, "").kind).toBe("http-404");
    expect(problemFrom(418, "[1,2]").detail).toBe("The request failed (HTTP 418).");
  });

  it("says when the service was not reached", () => {
    const e = networkError(new TypeError("Failed to fetch"));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.kind).toBe("network");
    expect(describe(e)).toMatch(/could not be reached \(Failed to fetch\)/);
    expect(describe("x")).toBe("Something went wrong: try again.");
  });
});
