"""Writes one study for the DICOMweb conformance test from pydicom's bundled test files.

Each file keeps its pixel data and transfer syntax; it gets the test patient, one Study
Instance UID, its own series (numbered, described by the file's name) and a fresh SOP
Instance UID (several of pydicom's files are the same instance in other encodings).
A native multi-frame RGB file is made by decoding SC_rgb_rle_2frame with pydicom's own RLE
decoder. Prints a JSON manifest: for each file its name, UIDs and transfer syntax.

usage: prepare.py OUT_DIR STUDY_UID
"""

import json
import os
import sys

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

FILES = [
    "CT_small.dcm",  # explicit VR little endian, CT
    "MR_small_implicit.dcm",  # implicit VR little endian
    "MR_small_bigendian.dcm",  # explicit VR big endian
    "JPEG2000.dcm",  # JPEG 2000 (openjp2)
    "JPGExtended.dcm",  # JPEG extended, 12 bits
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline, YBR
    "SC_rgb_rle_2frame.dcm",  # RLE, RGB, 2 frames
    "examples_palette.dcm",  # palette color
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS: no pure-Rust decoder, 406 when rendered
]


def bundled(name):
    path = get_testdata_file(name, download=False)
    if path is None:
        sys.exit(f"{name} is not in pydicom's bundled test files")
    return path


def main():
    out, study_uid = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    sources = [(name, pydicom.dcmread(bundled(name))) for name in FILES]
    native = pydicom.dcmread(bundled("SC_rgb_rle_2frame.dcm"))
    native.decompress()  # pydicom's pure-Python RLE decoder
    native.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sources.append(("SC_rgb_2frame_native.dcm", native))
    manifest = []
    for number, (name, ds) in enumerate(sources, start=1):
        ds.PatientName = "DOE^JANE"
        ds.PatientID = "MRN-16"
        ds.PatientBirthDate = "19800102"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = generate_uid()
        ds.SeriesNumber = number
        ds.SeriesDescription = name[:-4]
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = 1
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = os.path.join(out, name)
        ds.save_as(path, enforce_file_format=True)
        manifest.append(
            {
                "file": name,
                "series": ds.SeriesInstanceUID,
                "instance": ds.SOPInstanceUID,
                "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
                "frames": int(ds.get("NumberOfFrames", 1) or 1),
                "modality": ds.get("Modality", ""),
            }
        )
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
