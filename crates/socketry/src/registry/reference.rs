//! README's address reference, written from the registry: one table row per address type.
//! A test compares README's marked section with [`reference()`], so the two cannot drift.

use std::fmt::Write as _;

use super::{address_types, features};

/// The comment that starts README's generated address reference.
pub const BEGIN: &str = "<!-- address-types: begin (generated from the registry; `SOCKETRY_BLESS=1 cargo test -p socketry --test readme` rewrites it) -->";
/// The comment that ends it.
pub const END: &str = "<!-- address-types: end -->";

/// The Markdown table of every address type, family by family, between [`BEGIN`] and [`END`].
pub fn reference() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut text = format!("{BEGIN}\n\n| address | also | what it is |\n| --- | --- | --- |\n");
    for ty in address_types() {
        let aliases = ty
            .aliases
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            text,
            "| `{}` | {} | {} |",
            cell(&ty.usage()),
            aliases,
            cell(ty.help)
        );
    }
    let _ = write!(
        text,
        "\nLayers, left of an address in a chain (`LAYER|...|ADDRESS`):\n\n| layer | also | what it is |\n| --- | --- | --- |\n"
    );
    for ty in super::layers::layer_types() {
        let aliases = ty
            .aliases
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            text,
            "| `{}` | {} | {} |",
            cell(&ty.usage()),
            aliases,
            cell(ty.help)
        );
    }
    let _ = write!(
        text,
        "\nThe families give `-V` these features: {}.\n\n{END}\n",
        features()
            .iter()
            .map(|f| format!("`WITH_{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    text
}
