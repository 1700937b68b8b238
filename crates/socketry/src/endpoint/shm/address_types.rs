//! The shared-memory family's address types: `SHM-LISTEN` and `SHM-CONNECT`, which meet at a
//! rendezvous Unix socket.

use crate::address::{
    AddressType, BindDomain, Definition, FamilySpec, FamilyTypes, Groups, Namespace, UnixName,
};

/// A shared-memory address: listen or connect at a rendezvous socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ShmSpec {
    /// Shared memory with every peer that connects to the rendezvous socket at this path.
    Listen(UnixName),
    /// Shared memory with the listener at this rendezvous socket.
    Connect(UnixName),
}

const LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::NAMED)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::PEERCRED)
    .union(Groups::SHM)
    .union(Groups::SHM_LISTEN);
const CONNECT: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::CONNECT)
    .union(Groups::SHM);

static SHM_LISTEN: Definition<ShmSpec> = Definition {
    ty: AddressType::new(
        "SHM-LISTEN",
        &[],
        &["path"],
        LISTEN,
        "shared memory with each peer that meets us at this Unix socket (with fork: every peer)",
    )
    .bind(BindDomain::UnixPath),
    parse: |p| Ok(ShmSpec::Listen(p.unix_name(0, Namespace::Path)?)),
};
static SHM_CONNECT: Definition<ShmSpec> = Definition {
    ty: AddressType::new(
        "SHM-CONNECT",
        &[],
        &["path"],
        CONNECT,
        "shared memory with the SHM-LISTEN at this Unix socket",
    )
    .bind(BindDomain::UnixPath),
    parse: |p| Ok(ShmSpec::Connect(p.unix_name(0, Namespace::Path)?)),
};

/// The shared-memory family: its address types and features.
pub static FAMILY: FamilyTypes<ShmSpec> = FamilyTypes {
    features: &[],
    types: &[&SHM_LISTEN, &SHM_CONNECT],
};

impl FamilySpec for ShmSpec {
    fn address_type(&self) -> &'static AddressType {
        match self {
            ShmSpec::Listen(_) => &SHM_LISTEN.ty,
            ShmSpec::Connect(_) => &SHM_CONNECT.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShmSpec::Listen(name) | ShmSpec::Connect(name) => write!(f, ":{}", name.escaped()),
        }
    }
}
