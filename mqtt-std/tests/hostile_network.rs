//! Bad input from the network (huge, dripping, silent and flooding brokers): mqtt-std
//! (the body is shared with mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/hostile_network.rs"]
mod suite;
