//! tt host library.
