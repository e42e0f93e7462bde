"""Writes a two-series DICOM study for the browser tests from pydicom's own test files
(real DICOM, not made here), with the patient's details and fresh UIDs.

usage: make_study.py OUT_DIR FAMILY^GIVEN YYYYMMDD PATIENT_ID
"""
import sys
from pathlib import Path

from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
import pydicom

out, name, birth, pid = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
study_uid = generate_uid()
for series, source in (("S01", "CT_small.dcm"), ("S02", "MR_small.dcm")):
    series_uid = generate_uid()
    for n in (1, 2):
        ds = pydicom.dcmread(get_testdata_file(source))
        ds.PatientName = name
        ds.PatientBirthDate = birth
        ds.PatientID = pid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = n
        path = out / series / f"IM{n}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
print(study_uid)
