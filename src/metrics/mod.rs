//! Figures the engine exports: the DRS client's call log ([`calls`]) and the Prometheus
//! endpoint ([`prom`], `engine.metrics_listen`).

pub mod calls;
pub mod prom;
