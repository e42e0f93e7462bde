"""DICOMweb benchmark against `medimint up` (docs/performance.md, "DICOMweb").

Starts `medimint up` on a fresh data directory, releases two generated studies through the
CLI (a CT of --ct instances of 512 x 512 16-bit pixels, and a study of --big small
instances), approves them as the patient (email code from the local outbox), and measures
over HTTP with `requests` (a client not written here):

- first image: what a viewer does to put the first CT image on screen, cold (first request
  of the session: the viewing's transaction, the index built from the encrypted metadata)
  and warm: QIDO series, the series' metadata, frame 1 of the first instance (as stored,
  the viewer decodes it), and the same with `/rendered` (the server decodes);
- frames served per second, one client and four, one pass over every instance of the CT;
- `/metadata` of the big study: the first call and the median of the next ones;
- with --browser, before the HTTP figures (so that its first image is the session's first
  viewing): the web app's viewer in Chromium (web/scripts/bench-viewer.mjs): the first CT
  image drawn on screen, cold and warm, and frames drawn per second scrolling the CT.

usage: python3 bench/dicomweb.py [--medimint PATH] [--ct N] [--big N] [--browser] [--json FILE]
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pydicom
import requests
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_study(out, study_uid, count, rows, cols, modality):
    os.makedirs(out, exist_ok=True)
    # Short UIDs keep the metadata object of a large study small (metadata of any size is
    # stored now, so this only keeps the figures comparable with earlier runs).
    series = f"{study_uid}.1"
    pixels = bytes((i * 7) % 251 for i in range(rows * cols * 2))
    for n in range(1, count + 1):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = f"{study_uid}.1.{n}"
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName = "DOE^JANE"
        ds.PatientID = "MRN-16"
        ds.PatientBirthDate = "19800102"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series
        ds.Modality = modality
        ds.SeriesNumber = 1
        ds.InstanceNumber = n
        ds.StudyDate = "20260101"
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = pixels
        ds.save_as(os.path.join(out, f"{n:05}.dcm"), enforce_file_format=True)


class Up:
    def __init__(self, medimint, data):
        self.medimint = medimint
        self.env = dict(os.environ)
        self.env["MEDIMINT_DATA_DIR"] = data
        self.env["MEDIMINT_RPC_URL"] = f"http://127.0.0.1:{free_port()}"
        self.data = data
        self.proc = subprocess.Popen(
            [medimint, "up", "--ledger-ms", "100", "--poll-ms", "100", "--api-port", "0"],
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.api = None
        deadline = time.time() + 300
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("api:"):
                self.api = line.split()[1].replace("/v1/health", "")
            if line == "ready":
                break
            if time.time() > deadline:
                raise SystemExit("medimint up did not get ready")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def cli(self, *args):
        out = subprocess.run(
            [self.medimint, *args, "--json"], env=self.env, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise SystemExit(f"medimint {args}: {out.stderr}")
        return json.loads(out.stdout)

    def code_for(self, email):
        """A fresh sign-in code for `email`, from the local outbox."""
        r = requests.post(f"{self.api}/auth/email", json={"email": email})
        r.raise_for_status()
        outbox = os.path.join(self.data, "outbox")
        newest = sorted(os.listdir(outbox))
        for name in reversed(newest):
            text = open(os.path.join(outbox, name)).read()
            if text.startswith(f"To: {email}\nSubject: Your MediMint sign-in code\n"):
                return re.search(r"\b(\d{6})\b", text.split("\n\n", 1)[1]).group(1)
        raise SystemExit(f"no sign-in code for {email} in {outbox}")

    def sign_in(self, email):
        code = self.code_for(email)
        r = requests.post(f"{self.api}/auth/email/verify", json={"email": email, "code": code})
        r.raise_for_status()
        return r.json()["token"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--medimint", default="target/release/medimint")
    p.add_argument("--ct", type=int, default=100)
    p.add_argument("--big", type=int, default=1000)
    p.add_argument("--browser", action="store_true", help="also measure the web app's viewer in Chromium")
    p.add_argument("--json")
    a = p.parse_args()
    data = tempfile.mkdtemp(prefix="medimint-dwbench-")
    up = Up(a.medimint, data)
    result = {"ct_instances": a.ct, "big_instances": a.big}
    try:
        issuer = up.cli(
            "issuer", "add", "--email", "pacs@general.example", "--name", "General Hospital",
            "--kind", "hospital", "--jurisdiction", "US-CA", "--evidence", "NPI 1234567890",
        )["issuer"]
        studies = {}
        for name, count, size, modality in [("ct", a.ct, 512, "CT"), ("big", a.big, 16, "OT")]:
            uid = f"2.25.{int(time.time())}{len(studies)}"
            folder = os.path.join(data, "export", name)
            write_study(folder, uid, count, size, size, modality)
            t = time.perf_counter()
            token = up.cli(
                "release", folder, "--issuer", issuer, "--patient-email", "jane@example.org",
                "--patient-name", "DOE^JANE", "--birth-date", "1980-01-02", "--patient-id", "MRN-16",
            )["token_id"]
            result[f"{name}_release_s"] = round(time.perf_counter() - t, 2)
            studies[name] = (uid, token)
        jane = up.sign_in("jane@example.org")
        auth = {"Authorization": f"Bearer {jane}"}
        for uid, token in studies.values():
            requests.post(
                f"{up.api}/v1/studies/{token}/consent", json={"decision": "approve"}, headers=auth
            ).raise_for_status()
        if a.browser:
            web = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web")
            out = subprocess.run(
                ["node", "scripts/bench-viewer.mjs", up.api, "jane@example.org",
                 up.code_for("jane@example.org"), str(studies["ct"][1])],
                cwd=web, capture_output=True, text=True,
            )
            if out.returncode != 0:
                raise SystemExit(f"bench-viewer.mjs: {out.stderr}")
            result["browser"] = json.loads(out.stdout)
        dw = f"{up.api}/dicomweb"
        s = requests.Session()
        s.headers.update(auth)
        ct_uid = studies["ct"][0]

        def first_image(rendered):
            series = s.get(f"{dw}/studies/{ct_uid}/series")
            series.raise_for_status()
            se = series.json()[0]["0020000E"]["Value"][0]
            meta = s.get(f"{dw}/studies/{ct_uid}/series/{se}/metadata")
            meta.raise_for_status()
            first = sorted(meta.json(), key=lambda m: m["00200013"]["Value"][0])[0]
            sop = first["00080018"]["Value"][0]
            base = f"{dw}/studies/{ct_uid}/series/{se}/instances/{sop}"
            if rendered:
                r = s.get(f"{base}/rendered", headers={"Accept": "image/jpeg"})
            else:
                r = s.get(
                    f"{base}/frames/1",
                    headers={"Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"},
                )
            r.raise_for_status()
            return se, [m["00080018"]["Value"][0] for m in meta.json()]

        t = time.perf_counter()
        se, sops = first_image(False)
        result["first_image_cold_s"] = round(time.perf_counter() - t, 3)
        warm = [timed(lambda: first_image(False)) for _ in range(3)]
        result["first_image_warm_s"] = round(statistics.median(warm), 3)
        rendered = [timed(lambda: first_image(True)) for _ in range(3)]
        result["first_image_rendered_warm_s"] = round(statistics.median(rendered), 3)

        def frames_for(workers):
            """One pass over the CT's instances (frame 1 each), shared by `workers` clients.

            One pass each, not a timed loop: /dicomweb allows 6,000 requests a minute from one
            address and account (docs/dicomweb.md, limits)."""
            urls = [
                f"{dw}/studies/{ct_uid}/series/{se}/instances/{sop}/frames/1" for sop in sops
            ]

            def run(w):
                sess = requests.Session()
                sess.headers.update(auth)
                for u in urls[w::workers]:
                    r = sess.get(u, headers={"Accept": "multipart/related; type=application/octet-stream"})
                    r.raise_for_status()

            t = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(workers) as ex:
                list(ex.map(run, range(workers)))
            return round(len(urls) / (time.perf_counter() - t), 1)

        result["frames_per_s_1_client"] = frames_for(1)
        result["frames_per_s_4_clients"] = frames_for(4)
        rendered_urls = [f"{dw}/studies/{ct_uid}/series/{se}/instances/{sop}/rendered" for sop in sops[:20]]
        t = time.perf_counter()
        for u in rendered_urls:
            s.get(u).raise_for_status()
        result["rendered_per_s_1_client"] = round(len(rendered_urls) / (time.perf_counter() - t), 1)

        big_uid = studies["big"][0]
        url = f"{dw}/studies/{big_uid}/metadata"
        t = time.perf_counter()
        r = s.get(url)
        r.raise_for_status()
        result["big_metadata_first_s"] = round(time.perf_counter() - t, 3)
        result["big_metadata_bytes"] = len(r.content)
        assert len(r.json()) == a.big
        later = [timed(lambda: s.get(url).raise_for_status()) for _ in range(20)]
        result["big_metadata_after_first_median_s"] = round(statistics.median(later), 4)
        result["big_metadata_after_first_max_s"] = round(max(later), 4)
    finally:
        up.stop()
        shutil.rmtree(data, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if a.json:
        open(a.json, "w").write(text)


if __name__ == "__main__":
    main()
