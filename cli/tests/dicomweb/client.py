"""DICOMweb conformance of MediMint with a client not written here: dicomweb-client (PyPI).

Searches, retrieves metadata, instances, frames and renderings from the service under
test and compares them with the files that were released (OUT_DIR, MANIFEST from
prepare.py). Exits non-zero on the first difference, naming it.

usage: client.py BASE_URL TOKEN OUT_DIR STUDY_UID MANIFEST_JSON
"""

import io
import json
import os
import sys

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.encaps import generate_frames

NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
# Not decoded by the service's pure-Rust decoders (406): JPEG-LS, 12-bit JPEG Extended.
UNDECODED = {"MR_small_jpeg_ls_lossless.dcm", "JPGExtended.dcm"}
checks = 0


def check(cond, what):
    global checks
    if not cond:
        sys.exit(f"FAILED: {what}")
    checks += 1


def value(ds_json, tag):
    return ds_json.get(tag, {}).get("Value", [None])[0]


def http_status(fn):
    try:
        fn()
    except requests.HTTPError as e:
        return e.response.status_code
    return 200


def native_frames(ds):
    """The native frames of a dataset as the service serves them (little endian)."""
    n = int(ds.get("NumberOfFrames", 1) or 1)
    size = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8
    data = ds.PixelData
    if ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2" and ds.BitsAllocated > 8:
        # pydicom keeps a big endian file's OW bytes as stored; the service answers in
        # little endian, as its Content-Type says.
        step = ds.BitsAllocated // 8
        data = b"".join(data[i : i + step][::-1] for i in range(0, len(data), step))
    return [data[i * size : (i + 1) * size] for i in range(n)]


def main():
    base, token, out, study_uid, manifest = sys.argv[1:6]
    files = json.loads(manifest)
    client = DICOMwebClient(url=base, headers={"Authorization": f"Bearer {token}"})

    # QIDO-RS: the study, and nothing else.
    studies = client.search_for_studies()
    check(len(studies) == 1, f"one study, got {len(studies)}")
    s = studies[0]
    check(value(s, "0020000D") == study_uid, "the study's UID")
    check("00100020" not in s, "PatientID is never offered")
    check(int(value(s, "00201208")) == len(files), "NumberOfStudyRelatedInstances")
    check(int(value(s, "00201206")) == len(files), "NumberOfStudyRelatedSeries")
    check(value(s, "00100010")["Alphabetic"] == "DOE^JANE", "PatientName")
    check(
        len(client.search_for_studies(search_filters={"PatientName": "DOE*"})) == 1,
        "PatientName wildcard matches",
    )
    check(
        len(client.search_for_studies(search_filters={"PatientName": "SMITH*"})) == 0,
        "another name matches nothing",
    )
    check(
        http_status(lambda: client.search_for_studies(search_filters={"PatientID": "MRN-16"}))
        == 400,
        "PatientID as a matching key is refused (400)",
    )

    series = client.search_for_series(study_uid)
    check(len(series) == len(files), f"{len(files)} series, got {len(series)}")
    numbers = [int(value(x, "00200011")) for x in series]
    check(numbers == list(range(1, len(files) + 1)), f"series in number order: {numbers}")
    mr = client.search_for_series(study_uid, search_filters={"Modality": "MR"})
    want_mr = [f for f in files if f["modality"] == "MR"]
    check(len(mr) == len(want_mr), f"{len(want_mr)} MR series, got {len(mr)}")
    page = client.search_for_series(study_uid, limit=2, offset=3)
    check(
        [value(x, "0020000E") for x in page] == [value(x, "0020000E") for x in series[3:5]],
        "limit and offset",
    )
    with_desc = client.search_for_series(
        study_uid, fields=["SeriesDescription"], search_filters={"SeriesNumber": "1"}
    )
    check(value(with_desc[0], "0008103E") == files[0]["file"][:-4], "includefield")

    for f in files:
        insts = client.search_for_instances(study_uid, f["series"])
        check(len(insts) == 1 and value(insts[0], "00080018") == f["instance"], f"{f['file']}: instance search")
    everything = client.search_for_instances(study_uid)
    check(len(everything) == len(files), "study-level instance search")

    # WADO-RS metadata: every instance, pixel data as a BulkDataURI.
    metadata = client.retrieve_study_metadata(study_uid)
    check(len(metadata) == len(files), "study metadata has every instance")
    by_sop = {value(m, "00080018"): m for m in metadata}
    for f in files:
        m = by_sop[f["instance"]]
        original = pydicom.dcmread(os.path.join(out, f["file"]))
        check(value(m, "00280010") == original.Rows, f"{f['file']}: Rows in metadata")
        uri = m.get("7FE00010", {}).get("BulkDataURI", "")
        check(uri.startswith(base) and "/frames/" in uri, f"{f['file']}: pixel data BulkDataURI")
        ds = pydicom.Dataset.from_json(m)
        check(ds.SOPInstanceUID == f["instance"], f"{f['file']}: metadata reads as a dataset")
    one = client.retrieve_instance_metadata(study_uid, files[0]["series"], files[0]["instance"])
    check(value(one, "00080018") == files[0]["instance"], "instance metadata")
    sm = client.retrieve_series_metadata(study_uid, files[1]["series"])
    check(len(sm) == 1, "series metadata")

    # WADO-RS instances: the original bytes.
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    for f in files:
        original_bytes = open(os.path.join(out, f["file"]), "rb").read()
        ds = client.retrieve_instance(study_uid, f["series"], f["instance"])
        original = pydicom.dcmread(os.path.join(out, f["file"]))
        check(ds.SOPInstanceUID == f["instance"], f"{f['file']}: retrieved instance parses")
        check(ds.PixelData == original.PixelData, f"{f['file']}: retrieved pixel data")
        url = f"{base}/studies/{study_uid}/series/{f['series']}/instances/{f['instance']}"
        r = session.get(url, headers={"Accept": 'multipart/related; type="application/dicom"'})
        check(r.status_code == 200, f"{f['file']}: raw retrieve {r.status_code}")
        parts = list(client._decode_multipart_message(r, stream=False))
        check(len(parts) == 1 and parts[0] == original_bytes, f"{f['file']}: byte for byte the original")
    whole = client.retrieve_study(study_uid)
    check(len(whole) == len(files), "study retrieval has every instance")
    check(
        sorted(d.SOPInstanceUID for d in whole) == sorted(f["instance"] for f in files),
        "study retrieval's instances",
    )
    s1 = client.retrieve_series(study_uid, files[0]["series"])
    check(len(s1) == 1, "series retrieval")
    compressed = next(f for f in files if f["transfer_syntax"] not in NATIVE)
    check(
        http_status(
            lambda: client.retrieve_instance(
                study_uid,
                compressed["series"],
                compressed["instance"],
                media_types=(("application/dicom", "1.2.840.10008.1.2.1"),),
            )
        )
        == 406,
        "a transcoding the service does not do is 406",
    )

    # WADO-RS frames.
    for f in files:
        original = pydicom.dcmread(os.path.join(out, f["file"]))
        n = f["frames"]
        numbers = list(range(1, n + 1))
        ts = f["transfer_syntax"]
        if ts in NATIVE:
            got = client.retrieve_instance_frames(study_uid, f["series"], f["instance"], numbers)
            check(got == native_frames(original), f"{f['file']}: native frames")
        else:
            got = client.retrieve_instance_frames(
                study_uid,
                f["series"],
                f["instance"],
                numbers,
                media_types=(("application/octet-stream", "*"),),
            )
            want = list(generate_frames(original.PixelData, number_of_frames=n))
            anything = client.retrieve_instance_frames(study_uid, f["series"], f["instance"], numbers)
            check(anything == got, f"{f['file']}: frames with any type accepted are the stored ones")
            check(
                [g.rstrip(b"\0") for g in got] == [w.rstrip(b"\0") for w in want],
                f"{f['file']}: stored frames equal the original fragments",
            )
            # Asked as octet-stream without a transfer syntax: decoded to native pixels.
            decoded_types = ("application/octet-stream",)
            status = http_status(
                lambda: client.retrieve_instance_frames(
                    study_uid, f["series"], f["instance"], [1], media_types=decoded_types
                )
            )
            if f["file"] in UNDECODED:
                check(status == 406, f"{f['file']}: undecodable frames asked decoded are 406 ({status})")
            else:
                check(status == 200, f"{f['file']}: frames decoded to native ({status})")
                decoded = client.retrieve_instance_frames(
                    study_uid, f["series"], f["instance"], [1], media_types=decoded_types
                )
                size = original.Rows * original.Columns * original.SamplesPerPixel * original.BitsAllocated // 8
                check(len(decoded[0]) == size, f"{f['file']}: a decoded frame's size")
    check(
        http_status(
            lambda: client.retrieve_instance_frames(study_uid, files[0]["series"], files[0]["instance"], [2])
        )
        == 404,
        "a frame past the last is 404",
    )

    # Renderings.
    for f in files:
        if f["file"] in UNDECODED:
            status = http_status(
                lambda: client.retrieve_instance_rendered(study_uid, f["series"], f["instance"])
            )
            check(status == 406, f"{f['file']}: rendering it is 406 ({status})")
            continue
        jpeg = client.retrieve_instance_rendered(study_uid, f["series"], f["instance"])
        check(jpeg[:2] == b"\xff\xd8", f"{f['file']}: rendered JPEG")
        png = client.retrieve_instance_rendered(
            study_uid, f["series"], f["instance"], media_types=("image/png",)
        )
        check(png[:8] == b"\x89PNG\r\n\x1a\n", f"{f['file']}: rendered PNG")
        last = client.retrieve_instance_frames_rendered(
            study_uid, f["series"], f["instance"], [f["frames"]], params={"window": "40,400"}
        )
        check(last[:2] == b"\xff\xd8", f"{f['file']}: rendered last frame with a window")
    thumb = session.get(
        f"{base}/studies/{study_uid}/series/{files[0]['series']}/thumbnail",
        headers={"Accept": "image/png"},
    )
    check(thumb.status_code == 200 and thumb.content[:4] == b"\x89PNG", "series thumbnail")

    # Errors per PS3.18.
    check(
        http_status(lambda: client.retrieve_study_metadata("1.2.3.4.5")) == 404,
        "an unknown study is 404",
    )
    check(
        http_status(lambda: client.search_for_series(study_uid, search_filters={"NoSuchKey": "x"})) == 400,
        "an unknown matching key is 400",
    )
    print(json.dumps({"checks": checks}))


if __name__ == "__main__":
    main()
