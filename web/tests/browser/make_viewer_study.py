"""Writes the viewer's test study from pydicom's own test files (real DICOM, not made
here): one study, one series per kind of image the viewer must show, with the patient's
details and fresh UIDs. Prints the series descriptions in Series Number order.

  CT       CT_small.dcm, 6 instances (explicit VR little endian, 16-bit greyscale, a window)
  MR       MR_small.dcm, 3 instances
  RGB      examples_rgb_color.dcm (ultrasound, native RGB)
  Cine     examples_ybr_color.dcm (ultrasound, 30 frames, JPEG baseline YBR)
  J2K      693_J2KI.dcm (CT 512 x 512, JPEG 2000)
  Palette  examples_palette.dcm (palette colour)

usage: make_viewer_study.py OUT_DIR FAMILY^GIVEN YYYYMMDD PATIENT_ID
"""
import sys
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

SERIES = [
    ("CT", "CT_small.dcm", 6),
    ("MR", "MR_small.dcm", 3),
    ("RGB", "examples_rgb_color.dcm", 1),
    ("Cine", "examples_ybr_color.dcm", 1),
    ("J2K", "693_J2KI.dcm", 1),
    ("Palette", "examples_palette.dcm", 1),
]

out, name, birth, pid = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
study_uid = generate_uid()
for number, (label, source, count) in enumerate(SERIES, start=1):
    path = get_testdata_file(source, download=False)
    if path is None:
        sys.exit(f"{source} is not in pydicom's bundled test files")
    series_uid = generate_uid()
    for n in range(1, count + 1):
        ds = pydicom.dcmread(path)
        ds.PatientName = name
        ds.PatientBirthDate = birth
        ds.PatientID = pid
        ds.StudyInstanceUID = study_uid
        ds.StudyDescription = "Viewer test study"
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = number
        ds.SeriesDescription = f"{label} {source[:-4]}"
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = n
        target = out / f"S{number:02d}" / f"IM{n}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
    print(ds.SeriesDescription)
