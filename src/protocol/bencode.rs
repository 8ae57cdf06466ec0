//! Minimal bencode writer.
