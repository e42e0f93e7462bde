//! `release.json`: what the issuer says the release holds and whom it is for.
//!
//! Parsing is strict and exhaustive: unknown fields are refused, and every missing or
//! malformed field is reported at once, by its JSON path, without echoing its value (the
//! manifest is PHI).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report::{Problem, ProblemCode};

/// The manifest's name inside a release folder.
pub const MANIFEST_NAME: &str = "release.json";
/// Largest manifest read.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// Most files one release may list.
pub const MAX_FILES: usize = 10_000;
/// The manifest format this code reads.
pub const MANIFEST_VERSION: u64 = 1;

/// A parsed, checked manifest. PHI: never log it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version, `1`.
    pub version: u64,
    /// Whom the study is released to.
    pub patient: Patient,
    /// The Study Instance UID every file must carry, if the issuer states it.
    #[serde(default)]
    pub study_instance_uid: Option<String>,
    /// The files of the release, relative to the release folder.
    pub files: Vec<ListedFile>,
}

/// The patient as the issuer knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    /// Where the patient is reached; keys their account.
    pub email: String,
    /// Family name (PN component 1).
    pub family_name: String,
    /// Given name(s) (PN component 2).
    pub given_names: String,
    /// Middle name(s) (PN component 3).
    #[serde(default)]
    pub middle_names: Option<String>,
    /// Name prefix (PN component 4).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Name suffix (PN component 5).
    #[serde(default)]
    pub suffix: Option<String>,
    /// `YYYYMMDD` or `YYYY-MM-DD`.
    pub birth_date: String,
    /// Patient ID / MRN as in (0010,0020).
    pub patient_id: String,
}

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListedFile {
    /// Path relative to the release folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

impl Patient {
    /// The birth date as `YYYYMMDD`.
    pub fn birth_date_da(&self) -> String {
        self.birth_date.replace('-', "")
    }
}

/// Parses and checks a manifest; on failure returns every problem found.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, Vec<Problem>> {
    let problem = |code, field: &str, message: String| Problem {
        code,
        file: Some(MANIFEST_NAME.into()),
        field: Some(field.into()),
        message,
    };
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            // serde_json's message names the position, not the content.
            return Err(vec![problem(
                ProblemCode::ManifestMalformed,
                "$",
                format!(
                    "not valid JSON (line {}, column {}: {})",
                    e.line(),
                    e.column(),
                    e.classify_name()
                ),
            )]);
        }
    };
    let mut problems = Vec::new();
    check_manifest(&value, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    serde_json::from_value(value).map_err(|e| {
        vec![problem(
            ProblemCode::ManifestMalformed,
            "$",
            format!("does not match the schema: {}", e.classify_name()),
        )]
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "wrong type or value",
            serde_json::error::Category::Eof => "unexpected end of input",
        }
    }
}

struct Checker<'a> {
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    fn push(&mut self, code: ProblemCode, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            code,
            file: Some(MANIFEST_NAME.into()),
            field: Some(field.into()),
            message: message.into(),
        });
    }

    /// Reports keys of `obj` not in `allowed`.
    fn unknown(&mut self, obj: &serde_json::Map<String, Value>, path: &str, allowed: &[&str]) {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                // A key name is structure, not a value: safe to name (truncated).
                let shown: String = key.chars().take(64).collect();
                self.push(
                    ProblemCode::ManifestUnknownField,
                    &format!("{path}.{shown}"),
                    "unknown field",
                );
            }
        }
    }

    fn string<'v>(
        &mut self,
        obj: &'v serde_json::Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
    ) -> Option<&'v str> {
        let field = format!("{path}.{key}");
        match obj.get(key) {
            None | Some(Value::Null) if required => {
                self.push(ProblemCode::ManifestMissingField, &field, "missing");
                None
            }
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.push(ProblemCode::ManifestMalformed, &field, "must be a string");
                None
            }
        }
    }
}

fn check_manifest(value: &Value, problems: &mut Vec<Problem>) {
    let mut c = Checker { problems };
    let Some(root) = value.as_object() else {
        c.push(ProblemCode::ManifestMalformed, "$", "must be a JSON object");
        return;
    };
    c.unknown(
        root,
        "$",
        &["version", "patient", "study_instance_uid", "files"],
    );
    match root.get("version") {
        None => c.push(ProblemCode::ManifestMissingField, "$.version", "missing"),
        Some(v) if v.as_u64() == Some(MANIFEST_VERSION) => {}
        Some(_) => c.push(
            ProblemCode::ManifestMalformed,
            "$.version",
            format!("must be {MANIFEST_VERSION}"),
        ),
    }
    match root.get("patient") {
        None => c.push(ProblemCode::ManifestMissingField, "$.patient", "missing"),
        Some(Value::Object(p)) => check_patient(&mut c, p),
        Some(_) => c.push(
            ProblemCode::ManifestMalformed,
            "$.patient",
            "must be an object",
        ),
    }
    if let Some(uid) = c.string(root, "$", "study_instance_uid", false) {
        if !is_uid(uid) {
            c.push(
                ProblemCode::ManifestMalformed,
                "$.study_instance_uid",
                "must be a DICOM UID (digits and dots, at most 64 characters)",
            );
        }
    }
    match root.get("files") {
        None => c.push(ProblemCode::ManifestMissingField, "$.files", "missing"),
        Some(Value::Array(files)) => check_files(&mut c, files),
        Some(_) => c.push(
            ProblemCode::ManifestMalformed,
            "$.files",
            "must be an array",
        ),
    }
}

fn check_patient(c: &mut Checker<'_>, p: &serde_json::Map<String, Value>) {
    let path = "$.patient";
    c.unknown(
        p,
        path,
        &[
            "email",
            "family_name",
            "given_names",
            "middle_names",
            "prefix",
            "suffix",
            "birth_date",
            "patient_id",
        ],
    );
    if let Some(email) = c.string(p, path, "email", true) {
        if !is_email(email) {
            c.push(
                ProblemCode::ManifestMalformed,
                "$.patient.email",
                "must be an email address (local@domain)",
            );
        }
    }
    if let Some(family) = c.string(p, path, "family_name", true) {
        if family.trim().is_empty() {
            c.push(
                ProblemCode::ManifestMalformed,
                "$.patient.family_name",
                "must not be empty",
            );
        }
    }
    for key in ["given_names", "middle_names", "prefix", "suffix"] {
        let required = key == "given_names";
        if let Some(s) = c.string(p, path, key, required) {
            if s.contains(['^', '=', '\\']) {
                c.push(
                    ProblemCode::ManifestMalformed,
                    &format!("{path}.{key}"),
                    "must not contain '^', '=' or '\\' (they are PN delimiters)",
                );
            }
        }
    }
    if let Some(family) = p.get("family_name").and_then(Value::as_str) {
        if family.contains(['^', '=', '\\']) {
            c.push(
                ProblemCode::ManifestMalformed,
                "$.patient.family_name",
                "must not contain '^', '=' or '\\' (they are PN delimiters)",
            );
        }
    }
    if let Some(date) = c.string(p, path, "birth_date", true) {
        if !is_date(date) {
            c.push(
                ProblemCode::ManifestMalformed,
                "$.patient.birth_date",
                "must be a calendar date as YYYYMMDD or YYYY-MM-DD",
            );
        }
    }
    if let Some(id) = c.string(p, path, "patient_id", true) {
        let trimmed = id.trim();
        if trimmed.is_empty() || trimmed.len() > 64 || trimmed.contains('\\') {
            c.push(
                ProblemCode::ManifestMalformed,
                "$.patient.patient_id",
                "must be 1 to 64 characters without '\\'",
            );
        }
    }
}

fn check_files(c: &mut Checker<'_>, files: &[Value]) {
    if files.is_empty() {
        c.push(
            ProblemCode::EmptyRelease,
            "$.files",
            "lists no files: a release holds at least one",
        );
        return;
    }
    if files.len() > MAX_FILES {
        c.push(
            ProblemCode::ManifestMalformed,
            "$.files",
            format!("lists more than {MAX_FILES} files"),
        );
        return;
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in files.iter().enumerate() {
        let path = format!("$.files[{i}]");
        let Some(obj) = f.as_object() else {
            c.push(ProblemCode::ManifestMalformed, &path, "must be an object");
            continue;
        };
        c.unknown(obj, &path, &["path", "size"]);
        if let Some(p) = c.string(obj, &path, "path", true) {
            if medimint_storage::validate_key(p).is_err() || p == MANIFEST_NAME {
                c.push(
                    ProblemCode::ManifestMalformed,
                    &format!("{path}.path"),
                    "must be a relative path without empty, '.' or '..' segments, not release.json",
                );
            } else if !seen.insert(p.to_owned()) {
                c.push(
                    ProblemCode::ManifestMalformed,
                    &format!("{path}.path"),
                    "lists the same file twice",
                );
            }
        }
        match obj.get("size") {
            None => c.push(
                ProblemCode::ManifestMissingField,
                &format!("{path}.size"),
                "missing",
            ),
            Some(v) if v.as_u64().is_some() => {}
            Some(_) => c.push(
                ProblemCode::ManifestMalformed,
                &format!("{path}.size"),
                "must be a non-negative integer",
            ),
        }
    }
}

fn is_uid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('.')
            .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
}

fn is_email(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
                && s.len() <= 254
        }
        None => false,
    }
}

/// `YYYYMMDD` or `YYYY-MM-DD`, a real calendar date.
pub fn is_date(s: &str) -> bool {
    if !s.is_ascii() {
        return false;
    }
    let digits: String = match s.len() {
        8 => s.to_owned(),
        10 if &s[4..5] == "-" && &s[7..8] == "-" => format!("{}{}{}", &s[..4], &s[5..7], &s[8..]),
        _ => return false,
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let y: u32 = digits[..4].parse().unwrap_or(0);
    let m: u32 = digits[4..6].parse().unwrap_or(0);
    let d: u32 = digits[6..].parse().unwrap_or(0);
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1800 && (1..=days).contains(&d)
}
