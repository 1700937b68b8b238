//! How an address type is described: its names, parameters, the option groups that apply and
//! its help line. The rows themselves belong to the families (each family module defines its
//! own types); the registry collects them. Nothing here knows a concrete family.

use super::options::{BindDomain, Groups};

/// The description of one address type: what parsing, help and error messages need to know.
#[derive(Debug)]
pub struct AddressType {
    /// The canonical name, as `Display` and help write it: `TCP-LISTEN`.
    pub name: &'static str,
    /// Other names the type is also known by (socat's aliases): `TCP-L`.
    pub aliases: &'static [&'static str],
    /// The parameters' names, for usage text: `TCP:<host>:<port>`.
    pub params: &'static [&'static str],
    /// How many of `params` must be given; the rest may be left out (`PIPE` or `PIPE:path`).
    pub required: usize,
    /// The option groups that apply to this type.
    pub groups: Groups,
    /// What a `bind=` option of this type names, and which protocol's service names a port
    /// option is looked up by.
    pub bind: BindDomain,
    /// A short form that names this type without its name (`-`, a bare number, a bare path).
    pub shorthand: Option<Shorthand>,
    /// One line for `-h` and the reference.
    pub help: &'static str,
    /// Whether the last parameter takes the rest of the address's head, `:` included (a
    /// URL: `WS-CONNECT:ws://host:8080/path`).
    pub last_takes_rest: bool,
}

impl AddressType {
    /// A type with every parameter required, internet `bind=` values without service names,
    /// and no short form; the other `const` methods change those.
    pub const fn new(
        name: &'static str,
        aliases: &'static [&'static str],
        params: &'static [&'static str],
        groups: Groups,
        help: &'static str,
    ) -> AddressType {
        AddressType {
            name,
            aliases,
            params,
            required: params.len(),
            groups,
            bind: BindDomain::Ip(None),
            shorthand: None,
            help,
            last_takes_rest: false,
        }
    }

    /// The same type with only the first `required` parameters required.
    pub const fn required(mut self, required: usize) -> AddressType {
        self.required = required;
        self
    }

    /// The same type with `bind=` (and ports) read for `bind`.
    pub const fn bind(mut self, bind: BindDomain) -> AddressType {
        self.bind = bind;
        self
    }

    /// The same type, whose last parameter takes the rest of the head, `:` included.
    pub const fn last_takes_rest(mut self) -> AddressType {
        self.last_takes_rest = true;
        self
    }

    /// The same type, also named by the short form `shorthand`.
    pub const fn shorthand(mut self, shorthand: Shorthand) -> AddressType {
        self.shorthand = Some(shorthand);
        self
    }

    /// `NAME:<param>:<param>`, as shown in help and errors.
    pub fn usage(&self) -> String {
        let mut usage = self.name.to_owned();
        for (i, param) in self.params.iter().enumerate() {
            let optional = i >= self.required;
            usage.push_str(if optional { "[:<" } else { ":<" });
            usage.push_str(param);
            usage.push_str(if optional { ">]" } else { ">" });
        }
        usage
    }

    /// Whether `name` is this type's name or one of its aliases, case-insensitively.
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// The name and every alias.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

/// A way of writing an address without its type's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shorthand {
    /// An unquoted `-` alone.
    Dash,
    /// A number alone: `3`.
    Number,
    /// A word containing `/` with no parameters: `/tmp/file`, `./file`.
    Path,
}
