//! QIDO-RS queries (PS3.18 §10.6): matching keys, `limit`/`offset`, `includefield`.

use dicom_core::dictionary::DataDictionary;
use dicom_dictionary_std::StandardDataDictionary;
use serde_json::{Map, Value};

use super::tags;

/// Most results one search returns.
pub const MAX_LIMIT: usize = 1000;
/// Results when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 100;
/// Most matching keys and include fields one query names.
const MAX_KEYS: usize = 64;

/// Why a query is refused (400). `field` names the parameter.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct QueryError {
    /// The parameter.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> QueryError {
    QueryError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A parsed search.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Results skipped.
    pub offset: usize,
    /// Results returned at most.
    pub limit: usize,
    /// `includefield=all`.
    pub include_all: bool,
    /// Further attributes to return (DICOM JSON keys).
    pub include: Vec<String>,
    /// (attribute, value) pairs that must match.
    pub matches: Vec<(String, String)>,
    /// `fuzzymatching=true`: person names match case-insensitively anywhere.
    pub fuzzy: bool,
}

/// An attribute's key from a keyword (`PatientName`) or a tag (`00100010`).
///
/// # Errors
/// Unknown keywords, nested paths.
pub fn tag_of(name: &str) -> Result<String, String> {
    if name.len() == 8 && name.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(name.to_ascii_uppercase());
    }
    if name.contains('.') {
        return Err("attributes inside sequences are not searched".into());
    }
    StandardDataDictionary
        .by_name(name)
        .map(|e| {
            let t = e.tag.inner();
            format!("{:04X}{:04X}", t.group(), t.element())
        })
        .ok_or_else(|| format!("{name:?} is neither a DICOM keyword nor an 8-digit tag"))
}

impl Query {
    /// Parses the query string's pairs.
    ///
    /// # Errors
    /// [`QueryError`] naming the parameter: a bad number, an unknown attribute, PatientID
    /// (never a matching key: the caller is the patient or was given the study).
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, QueryError> {
        let mut q = Query {
            limit: DEFAULT_LIMIT,
            ..Default::default()
        };
        if pairs.len() > MAX_KEYS {
            return Err(bad("query", format!("at most {MAX_KEYS} parameters")));
        }
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => {
                    q.limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            bad("limit", format!("not a number from 1 to {MAX_LIMIT}"))
                        })?
                }
                "offset" => {
                    q.offset = v.parse().map_err(|_| bad("offset", "not a whole number"))?
                }
                "fuzzymatching" => q.fuzzy = v == "true",
                "includefield" => {
                    for f in v.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                        if f == "all" {
                            q.include_all = true;
                        } else {
                            let t = tag_of(f).map_err(|m| bad("includefield", m))?;
                            if t != tags::PATIENT_ID {
                                q.include.push(t);
                            }
                        }
                    }
                }
                other => {
                    let t = tag_of(other).map_err(|m| bad(other, m))?;
                    if t == tags::PATIENT_ID {
                        return Err(bad(
                            other,
                            "PatientID is not a matching key here: every study listed is the \
                             caller's own or was shared with them",
                        ));
                    }
                    q.matches.push((t, v.clone()));
                }
            }
        }
        if q.include.len() > MAX_KEYS {
            return Err(bad(
                "includefield",
                format!("at most {MAX_KEYS} attributes"),
            ));
        }
        Ok(q)
    }

    /// Whether `record` satisfies every matching key.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        self.matches.iter().all(|(tag, want)| {
            if want.is_empty() {
                return true;
            }
            let Some(el) = record.get(tag) else {
                return false;
            };
            let vr = el.get("vr").and_then(Value::as_str).unwrap_or("");
            let values = strings(el);
            values
                .iter()
                .any(|have| matches_one(vr, have, want, self.fuzzy))
        })
    }

    /// The answer's object: `defaults`, the matching keys and the included attributes that
    /// `record` holds (`source` holds the attributes only `includefield` asks for).
    pub fn project(
        &self,
        record: &Map<String, Value>,
        source: &Map<String, Value>,
        defaults: &[&str],
    ) -> Map<String, Value> {
        let mut out = std::collections::BTreeMap::new();
        let mut put = |t: &str| {
            if t == tags::PATIENT_ID {
                return;
            }
            if let Some(v) = record.get(t).or_else(|| source.get(t)) {
                out.insert(t.to_owned(), v.clone());
            }
        };
        for t in defaults {
            put(t);
        }
        for (t, _) in &self.matches {
            put(t);
        }
        for t in &self.include {
            put(t);
        }
        if self.include_all {
            for t in record.keys().chain(source.keys()) {
                put(t);
            }
        }
        out.into_iter().collect()
    }
}

/// Every value of an element as text (a PN's alphabetic form).
fn strings(el: &Value) -> Vec<String> {
    el.get("Value")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Object(o) => o.get("Alphabetic")?.as_str().map(str::to_owned),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn matches_one(vr: &str, have: &str, want: &str, fuzzy: bool) -> bool {
    match vr {
        "UI" => want.split([',', '\\']).any(|w| w.trim() == have),
        "DA" | "TM" | "DT" => match want.split_once('-') {
            Some((from, to)) => {
                let have = have.trim();
                (from.is_empty() || have >= from) && (to.is_empty() || have <= to)
            }
            None => have.trim() == want,
        },
        "PN" => {
            let (h, w) = (have.to_lowercase(), want.to_lowercase());
            if fuzzy {
                h.split(['^', ' ']).any(|part| wildcard(part, &w)) || wildcard(&h, &w)
            } else {
                wildcard(&h, &w)
            }
        }
        _ => wildcard(have.trim(), want),
    }
}

/// `*` matches any run, `?` one character.
fn wildcard(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn keywords_and_tags_resolve_and_patient_id_is_refused() {
        assert_eq!(tag_of("PatientName").unwrap(), "00100010");
        assert_eq!(tag_of("0020000d").unwrap(), "0020000D");
        assert!(tag_of("NoSuchKeyword").is_err());
        let e = Query::parse(&pairs(&[("PatientID", "MRN-7")])).unwrap_err();
        assert_eq!(e.field, "PatientID");
        let e = Query::parse(&pairs(&[("00100020", "x")])).unwrap_err();
        assert!(e.message.contains("PatientID"));
        assert_eq!(
            Query::parse(&pairs(&[("limit", "0")])).unwrap_err().field,
            "limit"
        );
        assert_eq!(
            Query::parse(&pairs(&[("limit", "5000")]))
                .unwrap_err()
                .field,
            "limit"
        );
        assert_eq!(
            Query::parse(&pairs(&[("offset", "-1")])).unwrap_err().field,
            "offset"
        );
        let q = Query::parse(&pairs(&[("includefield", "PatientID,StudyDescription")])).unwrap();
        assert_eq!(q.include, vec!["00081030".to_owned()]);
    }

    #[test]
    fn values_match_by_their_vr() {
        let rec: Map<String, Value> = serde_json::from_value(json!({
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]},
            "00080020": {"vr": "DA", "Value": ["20240105"]},
            "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
            "00080060": {"vr": "CS", "Value": ["CT"]},
            "00200011": {"vr": "IS", "Value": [4]}
        }))
        .unwrap();
        let m = |q: &[(&str, &str)]| Query::parse(&pairs(q)).unwrap().matches(&rec);
        assert!(m(&[("PatientName", "doe*")]));
        assert!(!m(&[("PatientName", "smith*")]));
        assert!(m(&[("PatientName", "jane"), ("fuzzymatching", "true")]));
        assert!(!m(&[("PatientName", "jane")]));
        assert!(m(&[("StudyDate", "20240101-20240131")]));
        assert!(!m(&[("StudyDate", "20240201-")]));
        assert!(m(&[("StudyInstanceUID", "9.9,1.2.3")]));
        assert!(!m(&[("StudyInstanceUID", "1.2.30")]));
        assert!(m(&[("Modality", "C?")]));
        assert!(m(&[("SeriesNumber", "4")]));
        assert!(!m(&[("AccessionNumber", "A1")]));
        assert!(m(&[("AccessionNumber", "")]));
    }
}
