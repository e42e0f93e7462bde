//! The validation report: every problem found, as JSON for machines and text for people.
//!
//! Problems name files, fields and tags, never the values found (the report sits in storage
//! the issuer can read, and its text may reach logs).

use serde::{Deserialize, Serialize};

/// What kind of problem; stable snake_case names in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// `release.json` is missing.
    ManifestMissing,
    /// `release.json` is not valid JSON or a field has the wrong type or format.
    ManifestMalformed,
    /// A required manifest field is absent.
    ManifestMissingField,
    /// The manifest has a field the schema does not define.
    ManifestUnknownField,
    /// The release lists or holds no files.
    EmptyRelease,
    /// A listed file is not in the upload.
    FileMissing,
    /// The upload holds a file the manifest does not list.
    FileUnlisted,
    /// A file's size differs from the manifest's.
    SizeMismatch,
    /// Not a DICOM Part 10 file.
    NotDicom,
    /// The file ends early.
    Truncated,
    /// An element declares more bytes than remain.
    LengthBeyondEnd,
    /// The header is over the size cap or otherwise unreadable.
    MalformedDicom,
    /// A required attribute is absent.
    MissingAttribute,
    /// Patient's Name differs from the manifest.
    PatientNameMismatch,
    /// Patient's Birth Date differs from the manifest.
    BirthDateMismatch,
    /// Patient ID differs from the manifest.
    PatientIdMismatch,
    /// The files belong to more than one study.
    MultipleStudies,
    /// The study differs from the manifest's `study_instance_uid`.
    StudyUidMismatch,
    /// Two files share a SOP Instance UID.
    DuplicateSopInstance,
    /// The issuer is not a trusted issuer (unknown or suspended).
    UntrustedIssuer,
    /// The same files were already released under another release id.
    AlreadyReleased,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// What kind.
    pub code: ProblemCode,
    /// The file concerned, relative to the release folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The manifest field (JSON path) or DICOM attribute concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A sentence for people.
    pub message: String,
}

impl Problem {
    /// A problem about a file.
    pub fn file(
        code: ProblemCode,
        file: &str,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            file: Some(file.to_owned()),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A problem about the release as a whole.
    pub fn release(code: ProblemCode, message: impl Into<String>) -> Self {
        Self {
            code,
            file: None,
            field: None,
            message: message.into(),
        }
    }
}

/// Report format version.
pub const REPORT_VERSION: u32 = 1;

/// The report kept beside a rejected release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Format version, `1`.
    pub version: u32,
    /// The issuer's address.
    pub issuer: String,
    /// The release id.
    pub release_id: String,
    /// `accepted` or `rejected`.
    pub outcome: String,
    /// Files examined.
    pub files_examined: usize,
    /// Every problem found, in a stable order (manifest first, then by file).
    pub problems: Vec<Problem>,
}

impl Report {
    /// A report for `problems` (rejected if any).
    pub fn new(
        issuer: &str,
        release_id: &str,
        files_examined: usize,
        mut problems: Vec<Problem>,
    ) -> Self {
        problems.sort_by(|a, b| {
            (a.file.is_some(), &a.file, &a.field).cmp(&(b.file.is_some(), &b.file, &b.field))
        });
        Self {
            version: REPORT_VERSION,
            issuer: issuer.to_owned(),
            release_id: release_id.to_owned(),
            outcome: if problems.is_empty() {
                "accepted"
            } else {
                "rejected"
            }
            .into(),
            files_examined,
            problems,
        }
    }

    /// Whether the release was rejected.
    pub fn is_rejected(&self) -> bool {
        !self.problems.is_empty()
    }

    /// The distinct problem codes, for logs (no PHI).
    pub fn codes(&self) -> Vec<ProblemCode> {
        let mut codes: Vec<_> = self.problems.iter().map(|p| p.code).collect();
        codes.sort_by_key(|c| format!("{c:?}"));
        codes.dedup();
        codes
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// Plain text, one problem per line.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Release {} of issuer {}: {} ({} file(s) examined, {} problem(s))\n",
            self.release_id,
            self.issuer,
            self.outcome,
            self.files_examined,
            self.problems.len()
        );
        for p in &self.problems {
            let code = serde_json::to_value(p.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            out.push_str(&format!(
                "- [{code}] {}{}: {}\n",
                p.file.as_deref().unwrap_or("release"),
                p.field
                    .as_deref()
                    .map(|f| format!(" {f}"))
                    .unwrap_or_default(),
                p.message
            ));
        }
        out
    }
}
