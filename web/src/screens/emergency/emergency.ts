// Emergency access (break-glass) without React: the reasons of the contract's closed list
// in words, the states of the review, the form's checks (each naming its field) and the
// review's pages (docs/emergency-access.md).

import type { EmergencyPage, EmergencyRecord, EmergencyRequest } from "../../api/client";

/** The contract's closed list, as the API spells it, with words for people. */
export const REASONS: readonly { value: string; label: string }[] = [
  { value: "unconscious", label: "The patient is unconscious" },
  { value: "life_threatening", label: "A life-threatening condition" },
  { value: "patient_unreachable", label: "The patient cannot be reached in time" },
  { value: "other", label: "Another emergency (say which in the note)" },
];

/** The longest access the contract allows, in hours (the admin may set a lower bound). */
export const MAX_HOURS = 72;
/** The contract's default. */
export const DEFAULT_HOURS = 24;
/** The longest note the API takes, in characters. */
export const MAX_NOTE = 1000;

export function reasonWords(reason: string): string {
  return REASONS.find((r) => r.value === reason)?.label ?? reason.replace(/_/g, " ");
}

/** `open` → active; `expired` and `ended` (revoked or renounced) are both over. */
export function stateWords(state: string | undefined): string {
  if (state === "open") return "Active";
  if (state === "expired") return "Ended (expired)";
  if (state === "ended") return "Ended early";
  return state ?? "unknown";
}

export function isActive(r: EmergencyRecord): boolean {
  return r.state === "open";
}

export interface BreakGlassForm {
  token: string;
  reason: string;
  hours: string;
  note: string;
  confirmed: boolean;
}

/** A form value the API would refuse, naming the field as the API does. */
export class FormError extends Error {
  constructor(
    readonly field: "token" | "reason" | "hours" | "note" | "confirmed",
    message: string,
  ) {
    super(message);
    this.name = "FormError";
  }
}

/** The request of a filled form, or a {@link FormError} naming what is wrong. */
export function breakGlassRequest(f: BreakGlassForm): { token: number; body: EmergencyRequest } {
  const t = f.token.trim().replace(/^#/, "");
  if (!/^\d{1,10}$/.test(t) || Number(t) > 4294967295) {
    throw new FormError("token", "Study number: enter the study's token id (a whole number, as #12 shows it).");
  }
  if (!REASONS.some((r) => r.value === f.reason)) {
    throw new FormError("reason", "Reason: choose one of the listed reasons.");
  }
  const h = f.hours.trim();
  if (!/^\d{1,2}$/.test(h) || Number(h) < 1 || Number(h) > MAX_HOURS) {
    throw new FormError("hours", `Hours: from 1 to ${MAX_HOURS} (the admin may allow fewer).`);
  }
  const note = f.note.trim();
  if (note.length === 0) {
    throw new FormError("note", "Note: say why the study is needed now (kept off the ledger; the patient and the admin read it).");
  }
  if ([...note].length > MAX_NOTE) {
    throw new FormError("note", `Note: at most ${MAX_NOTE} characters.`);
  }
  if (!f.confirmed) {
    throw new FormError("confirmed", "Confirm that this is an emergency and that the patient will be told.");
  }
  return { token: Number(t), body: { reason: f.reason, hours: Number(h), note } };
}

/** The review so far plus the next page, each access once (by token and issuer and time). */
export function appendPage(
  have: EmergencyRecord[],
  page: EmergencyPage,
): { items: EmergencyRecord[]; next: string | undefined } {
  const key = (r: EmergencyRecord) => `${r.token_id}/${r.issuer}/${r.opened_at}`;
  const seen = new Set(have.map(key));
  const items = [...have, ...page.items.filter((r) => !seen.has(key(r)))];
  return { items, next: page.next_cursor ?? undefined };
}
