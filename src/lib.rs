//! staffgate: brokered, instantly revocable access for staff to customer-communication
//! channels. See README.md for the design in brief and `../shared/design.md` for the whole.

pub mod access;
pub mod apikeys;
pub mod app;
pub mod audit;
pub mod broker;
pub mod channels;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod directory;
pub mod domain;
pub mod mail;
pub mod metrics;
pub mod offboarding;
pub mod policy;
pub mod principal;
pub mod provisioning;
pub mod replica;
pub mod secrets;
pub mod signin;
pub mod store;
pub mod tokens;
pub mod web;
