//! The attributes DICOMweb answers with, as DICOM JSON keys (PS3.18 Annex F).

pub const SOP_CLASS_UID: &str = "00080016";
pub const SOP_INSTANCE_UID: &str = "00080018";
pub const STUDY_DATE: &str = "00080020";
pub const STUDY_TIME: &str = "00080030";
pub const ACCESSION_NUMBER: &str = "00080050";
pub const INSTANCE_AVAILABILITY: &str = "00080056";
pub const MODALITY: &str = "00080060";
pub const MODALITIES_IN_STUDY: &str = "00080061";
pub const REFERRING_PHYSICIAN_NAME: &str = "00080090";
pub const RETRIEVE_URL: &str = "00081190";
pub const STUDY_DESCRIPTION: &str = "00081030";
pub const SERIES_DESCRIPTION: &str = "0008103E";
pub const PATIENT_NAME: &str = "00100010";
pub const PATIENT_ID: &str = "00100020";
pub const PATIENT_BIRTH_DATE: &str = "00100030";
pub const PATIENT_SEX: &str = "00100040";
pub const BODY_PART_EXAMINED: &str = "00180015";
pub const STUDY_INSTANCE_UID: &str = "0020000D";
pub const SERIES_INSTANCE_UID: &str = "0020000E";
pub const STUDY_ID: &str = "00200010";
pub const SERIES_NUMBER: &str = "00200011";
pub const INSTANCE_NUMBER: &str = "00200013";
pub const NUMBER_OF_STUDY_RELATED_SERIES: &str = "00201206";
pub const NUMBER_OF_STUDY_RELATED_INSTANCES: &str = "00201208";
pub const NUMBER_OF_SERIES_RELATED_INSTANCES: &str = "00201209";
pub const SAMPLES_PER_PIXEL: &str = "00280002";
pub const PHOTOMETRIC_INTERPRETATION: &str = "00280004";
pub const NUMBER_OF_FRAMES: &str = "00280008";
pub const ROWS: &str = "00280010";
pub const COLUMNS: &str = "00280011";
pub const BITS_ALLOCATED: &str = "00280100";
pub const PIXEL_DATA: &str = "7FE00010";

/// What a study search answers with (PS3.18 Table 10.6.3-3, PatientID left out).
pub const STUDY_LEVEL: &[&str] = &[
    STUDY_DATE,
    STUDY_TIME,
    ACCESSION_NUMBER,
    REFERRING_PHYSICIAN_NAME,
    STUDY_DESCRIPTION,
    PATIENT_NAME,
    PATIENT_BIRTH_DATE,
    PATIENT_SEX,
    STUDY_INSTANCE_UID,
    STUDY_ID,
];

/// What a series search answers with (PS3.18 Table 10.6.3-4).
pub const SERIES_LEVEL: &[&str] = &[
    MODALITY,
    SERIES_DESCRIPTION,
    BODY_PART_EXAMINED,
    SERIES_INSTANCE_UID,
    SERIES_NUMBER,
];

/// What an instance search answers with (PS3.18 Table 10.6.3-5).
pub const INSTANCE_LEVEL: &[&str] = &[
    SOP_CLASS_UID,
    SOP_INSTANCE_UID,
    INSTANCE_NUMBER,
    ROWS,
    COLUMNS,
    BITS_ALLOCATED,
    NUMBER_OF_FRAMES,
];
