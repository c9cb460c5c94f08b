//! The clients' convenience calls (`publish(topic, qos, retain, payload)`,
//! `subscribe(filter, qos)`, `unsubscribe(filter)`) turned into the session's request
//! types, in one place for both drivers. Invalid topics are refused here, at the call.

use bytes::Bytes;
use mqtt_proto::{Publish, QoS, Subscription, TopicFilter, TopicName};

use crate::error::Error;

/// The message of `publish(topic, qos, retain, payload)`.
pub fn message(
    topic: &str,
    qos: QoS,
    retain: bool,
    payload: impl Into<Bytes>,
) -> Result<Publish, Error> {
    let topic = TopicName::try_from(topic)?;
    Ok(Publish::new(topic, payload)
        .with_qos(qos, None)
        .with_retain(retain))
}

/// The subscriptions of `subscribe(filter, qos)`.
pub fn subscription(filter: &str, qos: QoS) -> Result<Vec<Subscription>, Error> {
    Ok(vec![Subscription::new(TopicFilter::try_from(filter)?, qos)])
}

/// The filters of `unsubscribe(filter)`.
pub fn filters(filter: &str) -> Result<Vec<TopicFilter>, Error> {
    Ok(vec![TopicFilter::try_from(filter)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_topics_are_refused_at_the_call() {
        assert!(matches!(
            message("a/+", QoS::AtMostOnce, false, ""),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            subscription("a/#/b", QoS::AtMostOnce),
            Err(Error::Usage(_))
        ));
        assert!(filters("").is_err());
        let m = message("a/b", QoS::ExactlyOnce, true, "x").unwrap();
        assert!(m.retain && m.qos == QoS::ExactlyOnce && m.packet_id.is_none());
    }
}
