//! The protocol operations (protocol.md §10–§18), one transaction each.
