//! walletwatch: complaint analytics and fraud patterns for digital wallets and payment apps.
//!
//! Stages, each a module, each reading and writing the [`store`]:
//! [`ingest`] → [`normalise`] → [`classify`] → [`detect`] → [`score`] → [`export`].
//! The [`cli`] only parses arguments and calls the stages.

pub mod classify;
pub mod cli;
pub mod detect;
pub mod export;
pub mod ingest;
pub mod normalise;
pub mod progress;
pub mod report;
pub mod schema;
pub mod score;
pub mod store;
