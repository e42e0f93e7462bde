import { describe, expect, it } from "vitest";
import { Api, type EmergencyRecord, type Fetch } from "../../src/api/client";
import { parseRoute, href } from "../../src/lib/route";
import {
  appendPage,
  breakGlassRequest,
  FormError,
  reasonWords,
  REASONS,
  stateWords,
  type BreakGlassForm,
} from "../../src/screens/emergency/emergency";

const good: BreakGlassForm = { token: "#12", reason: "life_threatening", hours: "6", note: "  unresponsive after a fall  ", confirmed: true };

const record = (token: number, opened: number, state = "open"): EmergencyRecord => ({
  token_id: token,
  issuer: "GER",
  patient: "GJANE",
  reason: "unconscious",
  note: "n",
  opened_at: opened,
  expires_at: opened + 3600,
  state,
});

describe("emergency access", () => {
  it("builds the request from the form, trimmed", () => {
    expect(breakGlassRequest(good)).toEqual({ token: 12, body: { reason: "life_threatening", hours: 6, note: "unresponsive after a fall" } });
  });

  it("names the field of each wrong value, as the API does", () => {
    const cases: [Partial<BreakGlassForm>, string][] = [
      [{ token: "" }, "token"],
      [{ token: "12a" }, "token"],
      [{ token: "99999999999" }, "token"],
      [{ reason: "bored" }, "reason"],
      [{ hours: "0" }, "hours"],
      [{ hours: "73" }, "hours"],
      [{ hours: "2.5" }, "hours"],
      [{ note: "   " }, "note"],
      [{ note: "x".repeat(1001) }, "note"],
      [{ confirmed: false }, "confirmed"],
    ];
    for (const [change, field] of cases) {
      let err: unknown;
      try {
        breakGlassRequest({ ...good, ...change });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(change)).toBeInstanceOf(FormError);
      expect((err as FormError).field).toBe(field);
    }
    expect(breakGlassRequest({ ...good, note: "é".repeat(1000) }).body.note).toHaveLength(1000);
  });

  it("has the contract's four reasons, in words, and the review's states", () => {
    expect(REASONS.map((r) => r.value)).toEqual(["unconscious", "life_threatening", "patient_unreachable", "other"]);
    expect(reasonWords("patient_unreachable")).toBe("The patient cannot be reached in time");
    expect(reasonWords("new_reason")).toBe("new reason");
    expect([stateWords("open"), stateWords("expired"), stateWords("ended")]).toEqual(["Active", "Ended (expired)", "Ended early"]);
  });

  it("appends the review's pages, each access once, and keeps the next cursor", () => {
    const one = appendPage([], { items: [record(3, 30), record(2, 20)], next_cursor: "e:20:2:GER" });
    expect(one.next).toBe("e:20:2:GER");
    const two = appendPage(one.items, { items: [record(2, 20), record(1, 10)], next_cursor: null });
    expect(two.items.map((r) => r.token_id)).toEqual([3, 2, 1]);
    expect(two.next).toBeUndefined();
  });

  it("has its own route", () => {
    expect(parseRoute("#/emergency")).toEqual({ name: "emergency" });
    expect(href({ name: "emergency" })).toBe("#/emergency");
    expect(parseRoute("#/emergency/x")).toEqual({ name: "not-found" });
  });

  it("calls the API's emergency routes", async () => {
    const calls: string[] = [];
    const bodies: unknown[] = [];
    const answers = [
      () => ({ token: "t", refresh_token: "r", expires_in: 900, token_type: "Bearer" }),
      () => record(12, 100),
      () => ({ items: [], next_cursor: null }),
      () => ({ token_id: 12, issuer: "GER" }),
    ];
    const fetchImpl: Fetch = async (url, init) => {
      calls.push(`${init?.method ?? "GET"} ${url}`);
      bodies.push(typeof init?.body === "string" ? JSON.parse(init.body) : undefined);
      const next = answers.shift();
      if (!next) throw new Error(`unexpected ${url}`);
      return new Response(JSON.stringify(next()), { status: calls.length === 2 ? 201 : 200 });
    };
    const api = new Api("", fetchImpl);
    await api.verifyCode("ed@county.example", "123456");
    const req = breakGlassRequest(good);
    expect((await api.openEmergency(req.token, req.body)).token_id).toBe(12);
    await api.emergencies("e:20:2:GER", 10);
    await api.endEmergency(12, "GER");
    expect(calls.slice(1)).toEqual([
      "POST /v1/studies/12/emergency",
      "GET /v1/emergency?limit=10&cursor=e%3A20%3A2%3AGER",
      "DELETE /v1/studies/12/emergency/GER",
    ]);
    expect(bodies[1]).toEqual(req.body);
  });
});
