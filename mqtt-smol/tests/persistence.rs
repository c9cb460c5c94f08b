//! Persistence across client restarts: mqtt-smol (the body is shared with mqtt-std:
//! driver-tests/).

#[path = "blocking/mod.rs"]
mod blocking;

mod driver {
    pub use crate::blocking::{Client, Events};
    pub use mqtt_smol::*;
}

#[path = "../../driver-tests/persistence.rs"]
mod suite;
