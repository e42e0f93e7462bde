#!/usr/bin/env python3
"""Reference ingest pipeline in Python, for the benchmark (bench/, docs/performance.md).

Does the same work as medimint-ingest's pipeline on a local folder, with the usual Python
tools: pydicom reads each header (stop_before_pixels, pixel data never loaded), hashlib
hashes every byte, cryptography's AESGCM encrypts in 64 KiB chunks in MediMint's stream
format (docs/formats.md section 1: HKDF-derived payload key and nonce prefix per file, nonce =
prefix | chunk index | last flag, frame word before each chunk), and the ciphertext files
are written and fsynced like LocalDirStore does.

Two passes, like the pipeline: (1) validate: hash every file and check its header against
release.json; (2) seal: hash again (the file must not have changed), encrypt, store; then
the metadata object (headers as DICOM JSON) is encrypted and stored too.

    reference_ingest.py STUDY_DIR OUT_DIR

prints one JSON line: seconds, bytes, files, peak_rss_kib.
"""

import hashlib
import io
import json
import os
import struct
import sys
import time

import pydicom
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CHUNK = 64 * 1024
READ = 1024 * 1024
MAGIC = b"MEDIMINT"


def peak_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def hkdf(salt, key, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def pn_components(pn):
    alphabetic = pn.split("\\")[0].split("=")[0]
    parts = [" ".join(p.split()).lower() for p in alphabetic.split("^")]
    while parts and not parts[-1]:
        parts.pop()
    return parts


def hash_file(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            block = f.read(READ)
            if not block:
                break
            h.update(block)
            size += len(block)
    return h.digest(), size


def merkle_root(digests):
    def mth(leaves):
        if not leaves:
            return hashlib.sha256(b"").digest()
        if len(leaves) == 1:
            return hashlib.sha256(b"\x00" + leaves[0]).digest()
        k = 1 << ((len(leaves) - 1).bit_length() - 1)
        return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

    return mth(sorted(digests))


def encrypt_stream(study_key, fin, dst):
    """Encrypts the file object fin into the file dst in the stream format; returns the
    plaintext's SHA-256."""
    salt = os.urandom(32)
    payload = AESGCM(hkdf(salt, study_key, b"medimint stream v1 payload key", 32))
    prefix = hkdf(salt, study_key, b"medimint stream v1 nonce prefix", 7)
    commitment = hkdf(salt, study_key, b"medimint stream v1 key commitment", 32)
    header = MAGIC + b"\x01\x01" + struct.pack(">I", CHUNK) + salt + commitment
    header += hashlib.sha256(header).digest()[:8]
    h = hashlib.sha256()
    tmp = dst + ".part"
    with open(tmp, "wb") as fout:
        fout.write(header)
        index = 0
        chunk = fin.read(CHUNK)
        while True:
            nxt = fin.read(CHUNK) if len(chunk) == CHUNK else b""
            last = not nxt
            h.update(chunk)
            nonce = prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")
            sealed = payload.encrypt(nonce, chunk, None)
            fout.write(struct.pack(">I", len(sealed) | (0x80000000 if last else 0)))
            fout.write(sealed)
            if last:
                break
            chunk = nxt
            index += 1
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(tmp, dst)
    return h.digest()


def main():
    study_dir, out_dir = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    with open(os.path.join(study_dir, "release.json"), "rb") as f:
        manifest = json.load(f)
    patient = manifest["patient"]
    want_name = [
        " ".join(patient.get(k, "").split()).lower()
        for k in ("family_name", "given_names")
    ]
    while want_name and not want_name[-1]:
        want_name.pop()
    want_dob = patient["birth_date"].replace("-", "")

    # Pass 1: validate.
    examined = []
    sops = set()
    problems = []
    for entry in manifest["files"]:
        path = os.path.join(study_dir, entry["path"])
        digest, size = hash_file(path)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if size != entry["size"]:
            problems.append(("size_mismatch", entry["path"]))
        if pn_components(str(ds.PatientName)) != want_name:
            problems.append(("patient_name_mismatch", entry["path"]))
        if str(ds.PatientBirthDate).replace(".", "") != want_dob:
            problems.append(("birth_date_mismatch", entry["path"]))
        if str(ds.PatientID).strip() != patient["patient_id"]:
            problems.append(("patient_id_mismatch", entry["path"]))
        if str(ds.StudyInstanceUID) != manifest.get("study_instance_uid", ds.StudyInstanceUID):
            problems.append(("study_uid_mismatch", entry["path"]))
        if ds.SOPInstanceUID in sops:
            problems.append(("duplicate_sop_instance", entry["path"]))
        sops.add(ds.SOPInstanceUID)
        examined.append((entry["path"], digest, size, ds.to_json_dict()))
    if problems:
        print(json.dumps({"error": "rejected", "problems": problems[:10]}))
        sys.exit(1)
    root = merkle_root([d for _, d, _, _ in examined])

    # Pass 2: seal and store.
    study_key = AESGCM.generate_key(bit_length=256)
    files_dir = os.path.join(out_dir, "studies", "files")
    os.makedirs(files_dir, exist_ok=True)
    for rel, digest, _, _ in examined:
        with open(os.path.join(study_dir, rel), "rb") as fin:
            seen = encrypt_stream(study_key, fin, os.path.join(files_dir, digest.hex()))
        if seen != digest:
            print(json.dumps({"error": f"{rel} changed while it was being released"}))
            sys.exit(1)
    meta = {
        "version": 1,
        "checksum_root": root.hex(),
        "files": [
            {"path": p, "sha256": d.hex(), "size": s, "header": j} for p, d, s, j in examined
        ],
    }
    meta_bytes = json.dumps(meta).encode()
    encrypt_stream(study_key, io.BytesIO(meta_bytes), os.path.join(out_dir, "meta.sealed"))
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "bytes": sum(s for _, _, s, _ in examined),
                "files": len(examined),
                "peak_rss_kib": peak_rss_kib(),
                "checksum_root": root.hex(),
            }
        )
    )


if __name__ == "__main__":
    main()
