//! A small synthetic DICOM study for the demo and the tests: explicit VR little endian
//! Part 10 files with a tiny 8-bit image each. The patient is fictitious.

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

/// Secondary Capture Image Storage.
const SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.7";
/// Explicit VR Little Endian.
const TRANSFER_SYNTAX: &str = "1.2.840.10008.1.2.1";

/// Who the synthetic study belongs to (DICOM forms).
#[derive(Debug, Clone)]
pub struct SyntheticPatient {
    /// PN, e.g. `DEMO^PAT`.
    pub name: String,
    /// `YYYYMMDD`.
    pub birth_date: String,
    /// Patient ID.
    pub id: String,
}

/// `series` series of `per_series` instances under one study UID: `(path, bytes)` with
/// paths `S01/IM0001.dcm`….
///
/// # Errors
/// A message if dicom-object refuses to write a file.
pub fn generate_study(
    patient: &SyntheticPatient,
    study_uid: &str,
    series: u32,
    per_series: u32,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    for s in 1..=series {
        let series_uid = format!("{study_uid}.{s}");
        for i in 1..=per_series {
            let sop_uid = format!("{series_uid}.{i}");
            let bytes = instance(patient, study_uid, &series_uid, &sop_uid, s, i)?;
            files.push((format!("S{s:02}/IM{i:04}.dcm"), bytes));
        }
    }
    Ok(files)
}

fn instance(
    patient: &SyntheticPatient,
    study_uid: &str,
    series_uid: &str,
    sop_uid: &str,
    series: u32,
    number: u32,
) -> Result<Vec<u8>, String> {
    const SIDE: u16 = 16;
    let mut obj = InMemDicomObject::new_empty();
    obj.put_str(tags::SOP_CLASS_UID, VR::UI, SOP_CLASS);
    obj.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop_uid);
    obj.put_str(tags::STUDY_DATE, VR::DA, "20240115");
    obj.put_str(
        tags::MODALITY,
        VR::CS,
        if series == 1 { "CT" } else { "OT" },
    );
    obj.put_str(tags::STUDY_DESCRIPTION, VR::LO, "MEDIMINT DEMO");
    obj.put_str(tags::PATIENT_NAME, VR::PN, &patient.name);
    obj.put_str(tags::PATIENT_ID, VR::LO, &patient.id);
    obj.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, &patient.birth_date);
    obj.put_str(tags::BODY_PART_EXAMINED, VR::CS, "CHEST");
    obj.put_str(tags::STUDY_INSTANCE_UID, VR::UI, study_uid);
    obj.put_str(tags::SERIES_INSTANCE_UID, VR::UI, series_uid);
    obj.put_str(tags::SERIES_NUMBER, VR::IS, series.to_string());
    obj.put_str(tags::INSTANCE_NUMBER, VR::IS, number.to_string());
    obj.put(DataElement::new(
        tags::SAMPLES_PER_PIXEL,
        VR::US,
        PrimitiveValue::from(1u16),
    ));
    obj.put_str(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(SIDE),
    ));
    obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(SIDE),
    ));
    obj.put(DataElement::new(
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(8u16),
    ));
    obj.put(DataElement::new(
        tags::BITS_STORED,
        VR::US,
        PrimitiveValue::from(8u16),
    ));
    obj.put(DataElement::new(
        tags::HIGH_BIT,
        VR::US,
        PrimitiveValue::from(7u16),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(0u16),
    ));
    let pixels: Vec<u8> = (0..u32::from(SIDE) * u32::from(SIDE))
        .map(|p| ((p * 7 + series * 31 + number * 13) % 256) as u8)
        .collect();
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(pixels),
    ));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(TRANSFER_SYNTAX)
                .media_storage_sop_class_uid(SOP_CLASS)
                .media_storage_sop_instance_uid(sop_uid),
        )
        .map_err(|e| format!("building a DICOM file: {e}"))?;
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| format!("writing a DICOM file: {e}"))?;
    Ok(out)
}
