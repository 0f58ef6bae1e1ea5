//! `wavedeck bench checksum` (filled in below).
