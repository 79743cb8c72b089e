//! The protocol database (protocol.md §20): the only module that touches rusqlite.
