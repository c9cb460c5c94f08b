//! What an application needs beside the client itself, re-exported by both drivers at
//! their crate root so that one `use` line serves: `use mqtt_smol::{Client, ClientOptions,
//! Event, QoS};`.

pub use crate::completion::{Completion, Pending};
pub use crate::error::Error;
pub use crate::options::ClientOptions;
pub use crate::store::{Durability, FileStore, MemoryStore, SessionStore};
pub use crate::tls::TlsOptions;
pub use crate::url::{BrokerUrl, Scheme};

pub use mqtt_proto::{
    MqttString, ProtocolVersion, Publish, PublishProperties, QoS, ReasonCode, RetainHandling,
    SubscribeProperties, Subscription, SubscriptionOptions, TopicFilter, TopicName,
    UnsubscribeProperties, UserProperty, Will, WillProperties,
};
pub use mqtt_session::{
    AckToken, AcknowledgeError, Connected, DisconnectOptions, DisconnectReason, Event,
    IncomingMessage, OperationError, ReconnectPolicy, ServerLimits, UsageError,
};
