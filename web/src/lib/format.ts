// Words and numbers for the screens.

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A Stellar address shortened for tables (the full one goes in a title). */
export function short(address: string): string {
  return address.length > 14 ? `${address.slice(0, 6)}…${address.slice(-6)}` : address;
}

/** Unix seconds as a date and time in the user's locale, or "no end". */
export function until(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "no end";
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The end of the day `yyyy-mm-dd` (local time) in Unix seconds, or undefined if invalid. */
export function endOfDay(date: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59);
  if (d.getMonth() !== Number(m[2]) - 1) return undefined;
  return Math.floor(d.getTime() / 1000);
}

/** `release_approved` → "Release approved". */
export function eventWords(kind: string): string {
  const known: Record<string, string> = {
    release_proposed: "Released by the issuer (waiting for consent)",
    release_approved: "Consent given by the patient",
    release_rejected: "Refused by the patient",
    role_granted: "Access shared",
    role_revoked: "Access revoked",
    access_recorded: "Files opened",
    transfer: "Ownership transferred",
    rekeyed: "Re-keyed: every file re-encrypted under a new key",
    erased: "Erased by the patient: files and keys deleted",
  };
  const words = known[kind];
  if (words) return words;
  const s = kind.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function statusWords(status: string): string {
  const s = status.toLowerCase();
  if (s === "pending") return "Waiting for your consent";
  if (s === "active") return "Active";
  if (s === "rejected") return "Refused";
  if (s === "withdrawn") return "Withdrawn";
  if (s === "lapsed") return "Lapsed";
  if (s === "erased") return "Erased (its files and keys are deleted for good)";
  return status;
}
