//! Contract values: building arguments and decoding return values and events into Rust types.

use stellar_xdr::{
    ContractEvent, ContractEventBody, Int128Parts, ScBytes, ScString, ScSymbol, ScVal, ScVec,
    UInt128Parts,
};

use crate::address::{address_string, contract_strkey, sc_address};
use crate::error::{Error, Result};

/// Builders for the argument kinds MediMint's contracts take.
pub mod arg {
    use super::*;

    /// A `u32`.
    pub fn u32(v: u32) -> ScVal {
        ScVal::U32(v)
    }
    /// A `u64`.
    pub fn u64(v: u64) -> ScVal {
        ScVal::U64(v)
    }
    /// An `i128` (token amounts).
    pub fn i128(v: i128) -> ScVal {
        ScVal::I128(Int128Parts {
            hi: (v >> 64) as i64,
            lo: v as u64,
        })
    }
    /// A `bool`.
    pub fn bool(v: bool) -> ScVal {
        ScVal::Bool(v)
    }
    /// An `Address` from a `G…` or `C…` strkey.
    ///
    /// # Errors
    /// [`Error::InvalidAddress`].
    pub fn address(strkey: &str) -> Result<ScVal> {
        Ok(ScVal::Address(sc_address(strkey)?))
    }
    /// `Bytes` or `BytesN`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if longer than XDR allows.
    pub fn bytes(v: &[u8]) -> Result<ScVal> {
        Ok(ScVal::Bytes(ScBytes(v.to_vec().try_into().map_err(
            |_| Error::InvalidArgument("bytes argument too long".into()),
        )?)))
    }
    /// A `String`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if longer than XDR allows.
    pub fn string(v: &str) -> Result<ScVal> {
        Ok(ScVal::String(ScString(v.try_into().map_err(|_| {
            Error::InvalidArgument("string argument too long".into())
        })?)))
    }
    /// A `Symbol` (also how unit enum variants are passed, inside a one-element vec).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if not a valid symbol.
    pub fn symbol(v: &str) -> Result<ScVal> {
        Ok(ScVal::Symbol(super::symbol(v)?))
    }
    /// A `Vec` of values.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if too many.
    pub fn vec(items: Vec<ScVal>) -> Result<ScVal> {
        Ok(ScVal::Vec(Some(ScVec(items.try_into().map_err(|_| {
            Error::InvalidArgument("vec argument too long".into())
        })?))))
    }
}

/// A Soroban symbol: 1 to 32 characters of `[a-zA-Z0-9_]`.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the text.
pub fn symbol(v: &str) -> Result<ScSymbol> {
    let valid =
        (1..=32).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Error::InvalidArgument(format!(
            "{v:?} is not a Soroban symbol (1 to 32 characters of a-z, A-Z, 0-9, _)"
        )));
    }
    Ok(ScSymbol(v.try_into().map_err(|_| {
        Error::InvalidArgument(format!("{v:?} is not a Soroban symbol"))
    })?))
}

fn mismatch(expected: &'static str, got: &ScVal) -> Error {
    Error::Decode {
        expected,
        got: got.name().to_string(),
    }
}

/// A Rust type a contract value decodes into.
pub trait FromScVal: Sized {
    /// Decodes `v`.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the expected and found kinds.
    fn from_sc_val(v: &ScVal) -> Result<Self>;
}

macro_rules! simple {
    ($t:ty, $variant:ident, $name:literal) => {
        impl FromScVal for $t {
            fn from_sc_val(v: &ScVal) -> Result<Self> {
                match v {
                    ScVal::$variant(x) => Ok((*x).into()),
                    other => Err(mismatch($name, other)),
                }
            }
        }
    };
}
simple!(u32, U32, "u32");
simple!(i32, I32, "i32");
simple!(u64, U64, "u64");
simple!(i64, I64, "i64");
simple!(bool, Bool, "bool");

impl FromScVal for i128 {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::I128(Int128Parts { hi, lo }) => Ok((i128::from(*hi) << 64) | i128::from(*lo)),
            other => Err(mismatch("i128", other)),
        }
    }
}

impl FromScVal for u128 {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::U128(UInt128Parts { hi, lo }) => Ok((u128::from(*hi) << 64) | u128::from(*lo)),
            other => Err(mismatch("u128", other)),
        }
    }
}

impl FromScVal for () {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::Void => Ok(()),
            other => Err(mismatch("void", other)),
        }
    }
}

/// Strings and symbols both decode to `String`.
impl FromScVal for String {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::String(s) => Ok(s.to_utf8_string_lossy()),
            ScVal::Symbol(s) => Ok(s.to_utf8_string_lossy()),
            other => Err(mismatch("string", other)),
        }
    }
}

impl FromScVal for Vec<u8> {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::Bytes(b) => Ok(b.to_vec()),
            other => Err(mismatch("bytes", other)),
        }
    }
}

impl FromScVal for [u8; 32] {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::Bytes(b) => b.as_slice().try_into().map_err(|_| Error::Decode {
                expected: "BytesN<32>",
                got: format!("{} bytes", b.len()),
            }),
            other => Err(mismatch("BytesN<32>", other)),
        }
    }
}

/// `Option<T>` is `Void` or a `T`, as soroban-sdk encodes it.
impl<T: FromScVal> FromScVal for Option<T> {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::Void => Ok(None),
            other => T::from_sc_val(other).map(Some),
        }
    }
}

impl<T: FromScVal> FromScVal for Vec<T> {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::Vec(Some(items)) => items.iter().map(T::from_sc_val).collect(),
            ScVal::Vec(None) => Ok(Vec::new()),
            other => Err(mismatch("vec", other)),
        }
    }
}

/// A Stellar address decoded from a contract value, as its strkey.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address(pub String);

impl FromScVal for Address {
    fn from_sc_val(v: &ScVal) -> Result<Self> {
        match v {
            ScVal::Address(a) => Ok(Address(address_string(a))),
            other => Err(mismatch("address", other)),
        }
    }
}

/// Decodes a value into `T`.
///
/// # Errors
/// [`Error::Decode`].
pub fn decode<T: FromScVal>(v: &ScVal) -> Result<T> {
    T::from_sc_val(v)
}

/// A contract event in readable form.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The emitting contract's `C…` id.
    pub contract: Option<String>,
    /// The topics (the first is by convention the event's name as a symbol).
    pub topics: Vec<ScVal>,
    /// The event's data.
    pub data: ScVal,
}

impl Event {
    /// Converts the XDR event.
    pub fn from_xdr(e: &ContractEvent) -> Self {
        let ContractEventBody::V0(body) = &e.body;
        Self {
            contract: e.contract_id.as_ref().map(|c| contract_strkey(&c.0 .0)),
            topics: body.topics.to_vec(),
            data: body.data.clone(),
        }
    }

    /// The event's name: its first topic, when that is a symbol or string.
    pub fn name(&self) -> Option<String> {
        self.topics
            .first()
            .and_then(|t| String::from_sc_val(t).ok())
    }

    /// Decodes topic `i` into `T`.
    ///
    /// # Errors
    /// [`Error::Decode`] if missing or of another type.
    pub fn topic<T: FromScVal>(&self, i: usize) -> Result<T> {
        let t = self.topics.get(i).ok_or(Error::Decode {
            expected: "a topic",
            got: format!("{} topics", self.topics.len()),
        })?;
        T::from_sc_val(t)
    }
}

/// Whether an address value refers to the given strkey (handy when filtering events).
pub fn is_address(v: &ScVal, strkey: &str) -> bool {
    matches!(v, ScVal::Address(a) if sc_address(strkey).map(|b| *a == b).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_including_negative_i128() {
        for v in [0i128, 1, -1, i128::MAX, i128::MIN, 1 << 70] {
            assert_eq!(decode::<i128>(&arg::i128(v)).unwrap(), v);
        }
        assert_eq!(decode::<u32>(&arg::u32(7)).unwrap(), 7);
        assert_eq!(decode::<Option<u32>>(&ScVal::Void).unwrap(), None);
        assert_eq!(decode::<Option<u32>>(&arg::u32(3)).unwrap(), Some(3));
    }

    #[test]
    fn wrong_kind_names_both_sides() {
        let err = decode::<u32>(&arg::bool(true)).unwrap_err().to_string();
        assert!(err.contains("u32") && err.contains("Bool"), "{err}");
        let err = decode::<[u8; 32]>(&arg::bytes(&[1, 2]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 bytes"), "{err}");
    }

    #[test]
    fn strings_vecs_addresses() {
        let v = arg::vec(vec![arg::string("a").unwrap(), arg::symbol("b").unwrap()]).unwrap();
        assert_eq!(decode::<Vec<String>>(&v).unwrap(), vec!["a", "b"]);
        let c = contract_strkey(&[4; 32]);
        let a = arg::address(&c).unwrap();
        assert_eq!(decode::<Address>(&a).unwrap(), Address(c.clone()));
        assert!(is_address(&a, &c));
        assert!(arg::symbol("has space").is_err());
    }
}
