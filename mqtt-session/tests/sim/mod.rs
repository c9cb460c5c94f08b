//! A deterministic simulation for testing the session end to end: a simulated broker
//! ([`broker`]), a seeded network between it and the session ([`network`]), checks on the
//! bytes the client writes and reads ([`monitor`]), and the driver tying them together in
//! simulated time ([`world`]).

pub mod broker;
pub mod monitor;
pub mod network;
pub mod rng;
pub mod world;
