//! How a family defines its address types: each [`Definition`] pairs an [`AddressType`] with
//! the parse of its parameters into the family's typed spec, and [`FamilyTypes`] lists a
//! family's definitions for the registry.

use super::error::ParseErrorKind;
use super::params::Params;
use super::table::AddressType;

/// One address type of a family: its description, and how its parameters parse into the
/// family's typed spec `S`.
#[derive(Debug)]
pub struct Definition<S: 'static> {
    /// Names, parameters, option groups and help.
    pub ty: AddressType,
    /// Turns the (already counted) parameters into the family's spec.
    pub parse: fn(&Params<'_>) -> Result<S, ParseErrorKind>,
}

/// Every address type of one family, and the features (`-V`'s `WITH_*` names) it provides.
#[derive(Debug)]
pub struct FamilyTypes<S: 'static> {
    /// The `WITH_*` feature names socat's test suite looks for, without the prefix.
    pub features: &'static [&'static str],
    /// The family's address types, in the order help lists them.
    pub types: &'static [&'static Definition<S>],
}

/// What every family's typed spec says about itself: which address type it is (exactly: the
/// spec knows its row) and how its parameters are written back.
pub trait FamilySpec {
    /// The address type this spec was parsed as, and is displayed as.
    fn address_type(&self) -> &'static AddressType;
    /// Writes the parameters, each preceded by `:`, so that they parse back to `self`.
    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result;
    /// Refuses, when the address is parsed, options that cannot work with this spec (a pure
    /// function of the address; the error names both options). Most families have none.
    fn check(&self, _options: &super::options::Options) -> Result<(), ParseErrorKind> {
        Ok(())
    }
}
