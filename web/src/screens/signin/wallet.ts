// SEP-10 sign-in with the Freighter browser extension. Loaded only when the user picks the
// wallet, so it costs nothing on first load. Without the extension it says so in words.

import type { Api } from "../../api/client";

function fail(what: string, error: unknown): never {
  const msg =
    error && typeof error === "object" && "message" in error && typeof error.message === "string"
      ? error.message
      : String(error);
  throw new Error(`${what}: ${msg}`);
}

export async function signInWithFreighter(api: Api): Promise<void> {
  const freighter = await import("@stellar/freighter-api");
  const connected = await freighter.isConnected();
  if (connected.error || !connected.isConnected) {
    throw new Error(
      "No Freighter wallet was found in this browser: install the Freighter extension, or sign in with your email.",
    );
  }
  const access = await freighter.requestAccess();
  if (access.error) fail("Freighter did not share your address", access.error);
  const challenge = await api.challenge(access.address);
  const signed = await freighter.signTransaction(challenge.transaction, {
    networkPassphrase: challenge.network_passphrase,
    address: access.address,
  });
  if (signed.error) fail("Freighter did not sign the sign-in challenge", signed.error);
  await api.signInWithChallenge(signed.signedTxXdr);
}
