//! How soroban-sdk encodes `#[contracttype]` values: a struct is a map keyed by field-name
//! symbols in sorted order; a unit enum variant is a one-element vec holding its name.

use stellar_xdr::{ScMap, ScMapEntry, ScVal};

use crate::error::{Error, Result};
use crate::scval::{arg, symbol, FromScVal};

/// A `#[contracttype]` struct from `(field, value)` pairs, in any order.
///
/// # Errors
/// [`Error::InvalidArgument`] for a field name that is not a symbol.
pub fn contract_struct(mut fields: Vec<(&str, ScVal)>) -> Result<ScVal> {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let entries = fields
        .into_iter()
        .map(|(k, v)| {
            Ok(ScMapEntry {
                key: ScVal::Symbol(symbol(k)?),
                val: v,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ScVal::Map(Some(ScMap(entries.try_into().map_err(
        |_| Error::InvalidArgument("too many fields".into()),
    )?))))
}

/// A unit variant of a `#[contracttype]` enum.
///
/// # Errors
/// [`Error::InvalidArgument`] for a name that is not a symbol.
pub fn unit_variant(name: &str) -> Result<ScVal> {
    arg::vec(vec![arg::symbol(name)?])
}

/// The name of a unit variant.
///
/// # Errors
/// [`Error::Decode`] if `v` is not a one-symbol vec.
pub fn variant_name(v: &ScVal) -> Result<String> {
    match v {
        ScVal::Vec(Some(items)) if items.len() == 1 => String::from_sc_val(&items[0]),
        other => Err(Error::Decode {
            expected: "enum variant",
            got: other.name().to_string(),
        }),
    }
}

/// Field `name` of a decoded struct.
///
/// # Errors
/// [`Error::Decode`] if `v` is not a map or lacks the field.
/// The field `name` of a `#[contracttype]` struct value.
///
/// # Errors
/// Not a struct, or no such field.
pub fn field<'a>(v: &'a ScVal, name: &'static str) -> Result<&'a ScVal> {
    let ScVal::Map(Some(map)) = v else {
        return Err(Error::Decode {
            expected: "struct",
            got: v.name().to_string(),
        });
    };
    map.iter()
        .find(|e| matches!(&e.key, ScVal::Symbol(s) if s.as_slice() == name.as_bytes()))
        .map(|e| &e.val)
        .ok_or(Error::Decode {
            expected: name,
            got: "a struct without that field".into(),
        })
}

/// A contract's `Vec` of records, each decoded by `each` (`expected` names the type in the
/// error when the value is not a vector).
pub(crate) fn vec_of<T>(
    v: &ScVal,
    expected: &'static str,
    each: impl Fn(&ScVal) -> Result<T>,
) -> Result<Vec<T>> {
    match v {
        ScVal::Vec(Some(items)) => items.iter().map(each).collect(),
        ScVal::Vec(None) => Ok(Vec::new()),
        other => Err(Error::Decode {
            expected,
            got: other.name().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_fields_are_sorted_and_variants_are_symbol_vecs() {
        let s = contract_struct(vec![("zeta", arg::u32(1)), ("alpha", arg::u32(2))]).unwrap();
        let ScVal::Map(Some(m)) = &s else {
            panic!("not a map")
        };
        assert_eq!(m[0].key, arg::symbol("alpha").unwrap());
        assert_eq!(m[1].key, arg::symbol("zeta").unwrap());
        assert_eq!(u32::from_sc_val(field(&s, "zeta").unwrap()).unwrap(), 1);
        assert!(field(&s, "beta").is_err());
        let v = unit_variant("Viewer").unwrap();
        assert_eq!(variant_name(&v).unwrap(), "Viewer");
        assert!(variant_name(&arg::u32(1)).is_err());
    }
}
