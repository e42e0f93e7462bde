// The devnet as the web app will use it, through SDF's JavaScript SDK: the friendbot by
// `rpc.Server.requestAirdrop` (a POST), then a payment built, sent and polled to SUCCESS.
// Usage: node airdrop.mjs <rpc-url>. Prints one JSON line; exits non-zero on any failure.
import { Asset, Keypair, Networks, Operation, TransactionBuilder, rpc } from "@stellar/stellar-sdk";

const url = process.argv[2];
if (!url) {
  console.error("usage: node airdrop.mjs <rpc-url>");
  process.exit(2);
}
const server = new rpc.Server(url, { allowHttp: true });
const network = await server.getNetwork();
if (network.passphrase !== Networks.STANDALONE) {
  throw new Error(`unexpected passphrase ${network.passphrase}`);
}
const alice = Keypair.random();
const bob = Keypair.random();
// requestAirdrop POSTs to the friendbotUrl that getNetwork reports.
const account = await server.requestAirdrop(alice.publicKey());
await server.requestAirdrop(bob.publicKey());
const loaded = await server.getAccount(alice.publicKey());
if (loaded.sequenceNumber() !== account.sequenceNumber()) {
  throw new Error(`sequence ${loaded.sequenceNumber()} != ${account.sequenceNumber()}`);
}
const tx = new TransactionBuilder(loaded, { fee: "100", networkPassphrase: network.passphrase })
  .addOperation(Operation.payment({ destination: bob.publicKey(), asset: Asset.native(), amount: "12.5" }))
  .setTimeout(60)
  .build();
tx.sign(alice);
const sent = await server.sendTransaction(tx);
if (sent.status !== "PENDING") {
  throw new Error(`sendTransaction: ${sent.status}`);
}
const done = await server.pollTransaction(sent.hash, { attempts: 50 });
if (done.status !== "SUCCESS") {
  throw new Error(`pollTransaction: ${done.status}`);
}
console.log(JSON.stringify({ funded: alice.publicKey(), sequence: account.sequenceNumber(), payment: sent.hash, ledger: done.ledger }));
