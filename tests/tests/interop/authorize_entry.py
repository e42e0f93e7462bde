"""Signs a MediMint authorization entry with the Python stellar-sdk (a client not written
here): `authorize_entry(entry, keypair, valid_until, passphrase)`, as a wallet would.

usage: authorize_entry.py <entry base64 XDR> <S... secret> <valid until ledger> <passphrase>
prints the signed entry (base64 XDR).
"""

import sys

from stellar_sdk import Keypair
from stellar_sdk.auth import authorize_entry


def main() -> None:
    entry, secret, valid_until, passphrase = sys.argv[1:5]
    signed = authorize_entry(entry, Keypair.from_secret(secret), int(valid_until), passphrase)
    print(signed.to_xdr())


if __name__ == "__main__":
    main()
