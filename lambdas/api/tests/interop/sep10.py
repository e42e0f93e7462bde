"""The Python stellar-sdk's SEP-10 (sep.stellar_web_authentication) against MediMint's.

Two commands, driven by tests/interop.rs:

  read  CHALLENGE SERVER_ACCOUNT HOME_DOMAIN WEB_AUTH_DOMAIN NETWORK CLIENT_SECRET
        Reads our challenge as a wallet does (read_challenge_transaction), signs it with
        the client's key, checks it with
        verify_challenge_transaction_signed_by_client_master_key, prints the signed XDR.
  build SERVER_SECRET CLIENT_ACCOUNT HOME_DOMAIN WEB_AUTH_DOMAIN NETWORK CLIENT_SECRET
        Builds a challenge with build_challenge_transaction (the SDK's server side) and
        signs it with the client's key; prints the XDR for our server to accept.

Needs `pip install stellar-sdk`.
"""

import sys

try:
    from stellar_sdk import Keypair, TransactionEnvelope
    from stellar_sdk.sep.stellar_web_authentication import (
        build_challenge_transaction,
        read_challenge_transaction,
        verify_challenge_transaction_signed_by_client_master_key,
    )
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f"stellar-sdk is missing ({e}); run: python3 -m pip install stellar-sdk", file=sys.stderr)
    sys.exit(3)


def read(challenge, server_account, home_domain, web_auth_domain, network, client_secret):
    client = Keypair.from_secret(client_secret)
    info = read_challenge_transaction(
        challenge, server_account, home_domain, web_auth_domain, network
    )
    assert info.client_account_id == client.public_key, info.client_account_id
    assert info.matched_home_domain == home_domain, info.matched_home_domain
    envelope = TransactionEnvelope.from_xdr(challenge, network)
    envelope.sign(client)
    signed = envelope.to_xdr()
    verify_challenge_transaction_signed_by_client_master_key(
        signed, server_account, home_domain, web_auth_domain, network
    )
    print(signed)


def build(server_secret, client_account, home_domain, web_auth_domain, network, client_secret):
    challenge = build_challenge_transaction(
        server_secret=server_secret,
        client_account_id=client_account,
        home_domain=home_domain,
        web_auth_domain=web_auth_domain,
        network_passphrase=network,
        timeout=900,
    )
    envelope = TransactionEnvelope.from_xdr(challenge, network)
    envelope.sign(Keypair.from_secret(client_secret))
    print(envelope.to_xdr())


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"read": read, "build": build}[command](*args)
