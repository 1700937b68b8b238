//! README's address reference is the one the registry generates: a new address type shows up
//! in README, or this test fails. `SOCKETRY_BLESS=1 cargo test -p socketry --test readme`
//! rewrites the section from the registry.

use socketry::registry::reference::{reference, BEGIN, END};

#[test]
fn readme_address_reference_is_the_registrys() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let start = readme
        .find(BEGIN)
        .unwrap_or_else(|| panic!("README.md has no line {BEGIN}"));
    let stop = readme[start..]
        .find(END)
        .map(|i| start + i + END.len() + 1)
        .unwrap_or_else(|| panic!("README.md has no line {END} after {BEGIN}"));
    let expected = reference();
    if readme.get(start..stop) == Some(expected.as_str()) {
        return;
    }
    if std::env::var_os("SOCKETRY_BLESS").is_some() {
        let rewritten = format!(
            "{}{expected}{}",
            &readme[..start],
            &readme[stop.min(readme.len())..]
        );
        std::fs::write(path, rewritten).expect("README.md is writable");
        return;
    }
    panic!(
        "README.md's address reference differs from the registry's; run SOCKETRY_BLESS=1 cargo test -p socketry --test readme, or put this between the markers:\n{expected}"
    );
}
