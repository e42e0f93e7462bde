// Hash routes: the server serves one page, and routes carry only token ids, never names or
// other PHI.

import type { Relation } from "../api/client";

export type Route =
  | { name: "studies"; role: Relation }
  | { name: "study"; token: number }
  | { name: "viewer"; token: number }
  | { name: "explorer"; token: number | undefined }
  | { name: "account" }
  | { name: "issuers" }
  | { name: "releases" }
  | { name: "release"; id: string }
  | { name: "upload" }
  | { name: "requests" }
  | { name: "emergency" }
  | { name: "not-found" };

const RELATIONS: readonly Relation[] = ["owned", "shared", "pending"];

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#?\/?/, "").split("/").filter((p) => p.length > 0);
  const [head, arg] = parts;
  if (parts.length === 0) return { name: "studies", role: "owned" };
  if (head === "studies" && parts.length === 1) return { name: "studies", role: "owned" };
  if (head === "studies" && parts.length === 2 && arg !== undefined) {
    if ((RELATIONS as readonly string[]).includes(arg)) return { name: "studies", role: arg as Relation };
    if (/^\d{1,9}$/.test(arg)) return { name: "study", token: Number(arg) };
  }
  if (head === "studies" && parts.length === 3 && parts[2] === "view" && arg !== undefined && /^\d{1,9}$/.test(arg)) {
    return { name: "viewer", token: Number(arg) };
  }
  if (head === "explorer" && parts.length === 1) return { name: "explorer", token: undefined };
  if (head === "explorer" && parts.length === 2 && arg !== undefined && /^\d{1,10}$/.test(arg) && Number(arg) <= 4294967295) {
    return { name: "explorer", token: Number(arg) };
  }
  if (head === "account" && parts.length === 1) return { name: "account" };
  if (head === "issuers" && parts.length === 1) return { name: "issuers" };
  if (head === "releases" && parts.length === 1) return { name: "releases" };
  if (head === "requests" && parts.length === 1) return { name: "requests" };
  if (head === "emergency" && parts.length === 1) return { name: "emergency" };
  if (head === "releases" && arg === "new" && parts.length === 2) return { name: "upload" };
  if (head === "releases" && parts.length === 2 && arg !== undefined && /^[A-Za-z0-9_-]{1,80}$/.test(arg)) {
    return { name: "release", id: arg };
  }
  return { name: "not-found" };
}

export function href(route: Route): string {
  switch (route.name) {
    case "studies":
      return `#/studies/${route.role}`;
    case "study":
      return `#/studies/${route.token}`;
    case "viewer":
      return `#/studies/${route.token}/view`;
    case "explorer":
      return route.token === undefined ? "#/explorer" : `#/explorer/${route.token}`;
    case "account":
      return "#/account";
    case "issuers":
      return "#/issuers";
    case "releases":
      return "#/releases";
    case "release":
      return `#/releases/${encodeURIComponent(route.id)}`;
    case "upload":
      return "#/releases/new";
    case "requests":
      return "#/requests";
    case "emergency":
      return "#/emergency";
    case "not-found":
      return "#/";
  }
}
