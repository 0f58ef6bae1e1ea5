//! Huawei Cloud RDS v3 and VPC v3 reads for the "no public exposure" pre-check
//! (`checks::exposure`): the target instance (its EIPs, port, security group) and the group's
//! rules. Signed with the DRS credentials by the DRS signer; the DRS emulator serves both reads.

pub mod client;
pub mod model;

pub use client::{CloudClient, CloudError};
