//! Figures the engine exports: the DRS client's call log ([`calls`]).

pub mod calls;
