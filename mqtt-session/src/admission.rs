//! The checks an operation passes before the session takes it, as pure functions of the
//! protocol version and the server's limits.
//!
//! [`Session::publish`](crate::Session::publish), [`subscribe`](crate::Session::subscribe)
//! and [`unsubscribe`](crate::Session::unsubscribe) run them first. They are public so
//! that a driver whose session lives on another thread can run the same checks on the
//! application's thread, with the limits of the last CONNACK, and refuse a message at
//! the call instead of through the operation's outcome.

use mqtt_proto::{
    Encode, EncodeError, MAX_PACKET_SIZE, PacketId, PacketType, ProtocolVersion, Publish, QoS,
    ReasonCode, Subscribe, Unsubscribe,
};

use crate::error::UsageError;
use crate::event::ServerLimits;

/// Whether QoS 2 is built in (the feature `qos2`). Without it every path into the QoS 2
/// exchange is refused here or in the dispatch of received packets, and the exchange's
/// code folds away.
pub(crate) const QOS2: bool = cfg!(feature = "qos2");

/// Checks a message for [`Session::publish`](crate::Session::publish): properties the
/// client may not set, the server's Maximum QoS and Retain Available, and the packet's
/// size against the server's Maximum Packet Size. `limits` is `None` while not connected
/// (only what holds for every server is checked then).
///
/// The message is normalized as the session would: DUP cleared, no packet identifier
/// (the session assigns it).
pub fn check_publish(
    version: ProtocolVersion,
    limits: Option<&ServerLimits>,
    message: &mut Publish,
) -> Result<(), UsageError> {
    check_reserved(message)?;
    if message.qos == QoS::ExactlyOnce && !QOS2 {
        return Err(UsageError::FeatureNotEnabled {
            what: "a QoS 2 publish",
            feature: "qos2",
        });
    }
    message.dup = false;
    message.packet_id = None;
    if let Some(limits) = limits {
        check_server_limits(limits, message)?;
    }
    if message.qos != QoS::AtMostOnce {
        // A placeholder identifier, so that the size counts its two bytes.
        message.packet_id = Some(PacketId::MAX);
    }
    let size = message.encoded_len(version);
    message.packet_id = None;
    within(size?, limits)
}

/// Checks the reason code of a manual acknowledgement for
/// [`Session::acknowledge`](crate::Session::acknowledge): under 5.0 one a client may send
/// in a PUBACK (`qos` 1) or PUBREC (`qos` 2); under 3.1.1 and 3.1 only success.
pub fn check_acknowledgement(
    version: ProtocolVersion,
    qos: QoS,
    reason_code: ReasonCode,
) -> Result<(), UsageError> {
    if reason_code != ReasonCode::Success && !version.is_v5() {
        return Err(UsageError::RequiresV5("an acknowledgement reason code"));
    }
    let packet = if qos == QoS::ExactlyOnce {
        PacketType::PubRec
    } else {
        PacketType::PubAck
    };
    if !reason_code.client_may_send_in(packet) {
        return Err(UsageError::InvalidPacket(EncodeError::InvalidReasonCode {
            packet_type: packet,
            code: reason_code,
        }));
    }
    Ok(())
}

/// Checks a SUBSCRIBE for [`Session::subscribe`](crate::Session::subscribe): the
/// server's wildcard, shared-subscription and subscription-identifier availability (when
/// connected) and the packet's size. Its packet identifier is not looked at.
pub fn check_subscribe(
    version: ProtocolVersion,
    limits: Option<&ServerLimits>,
    packet: &Subscribe,
) -> Result<(), UsageError> {
    if !QOS2
        && packet
            .subscriptions
            .iter()
            .any(|s| s.options.qos == QoS::ExactlyOnce)
    {
        return Err(UsageError::FeatureNotEnabled {
            what: "a QoS 2 subscription",
            feature: "qos2",
        });
    }
    // Only a 5.0 CONNACK can say a feature is not available (without `v5` this folds
    // away).
    if let Some(l) = limits.filter(|_| version.is_v5()) {
        let subs = &packet.subscriptions;
        if !l.wildcard_subscription_available && subs.iter().any(|s| s.filter.has_wildcards()) {
            return Err(UsageError::WildcardSubscriptionsNotAvailable);
        }
        if !l.shared_subscription_available && subs.iter().any(|s| s.filter.is_shared()) {
            return Err(UsageError::SharedSubscriptionsNotAvailable);
        }
        if !l.subscription_identifier_available
            && packet.properties.subscription_identifier.is_some()
        {
            return Err(UsageError::SubscriptionIdentifiersNotAvailable);
        }
    }
    within(packet.encoded_len(version)?, limits)
}

/// Checks an UNSUBSCRIBE for [`Session::unsubscribe`](crate::Session::unsubscribe): the
/// packet's size.
pub fn check_unsubscribe(
    version: ProtocolVersion,
    limits: Option<&ServerLimits>,
    packet: &Unsubscribe,
) -> Result<(), UsageError> {
    within(packet.encoded_len(version)?, limits)
}

/// What a client never puts in a PUBLISH.
pub(crate) fn check_reserved(message: &Publish) -> Result<(), UsageError> {
    if message.properties.topic_alias.is_some() {
        // The session assigns topic aliases itself.
        return Err(UsageError::ReservedProperty("Topic Alias"));
    }
    if !message.properties.subscription_identifiers.is_empty() {
        // [MQTT-3.3.4-6]: never in a client's PUBLISH.
        return Err(UsageError::ReservedProperty("Subscription Identifier"));
    }
    Ok(())
}

/// The server's Maximum QoS and Retain Available.
pub(crate) fn check_server_limits(l: &ServerLimits, p: &Publish) -> Result<(), UsageError> {
    if p.qos > l.maximum_qos {
        return Err(UsageError::QoSNotSupported {
            requested: p.qos,
            maximum: l.maximum_qos,
        });
    }
    if p.retain && !l.retain_available {
        return Err(UsageError::RetainNotAvailable);
    }
    Ok(())
}

fn within(size: usize, limits: Option<&ServerLimits>) -> Result<(), UsageError> {
    let maximum = limits.map_or(MAX_PACKET_SIZE, |l| l.maximum_packet_size);
    if size > maximum {
        return Err(UsageError::PacketTooLarge { size, maximum });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::default_limits;
    use mqtt_proto::{
        PublishProperties, SubscribeProperties, Subscription, TopicFilter, TopicName,
    };

    fn message(qos: QoS, payload: usize) -> Publish {
        Publish::new(
            TopicName::try_from("a/b").unwrap(),
            alloc::vec![0u8; payload],
        )
        .with_qos(qos, None)
    }

    #[test]
    fn limits_of_the_server_apply_only_while_connected() {
        let mut limits = default_limits();
        limits.maximum_qos = QoS::AtLeastOnce;
        limits.retain_available = false;
        let v = ProtocolVersion::V5;
        let mut m = message(QoS::ExactlyOnce, 1);
        assert!(matches!(
            check_publish(v, Some(&limits), &mut m),
            Err(UsageError::QoSNotSupported { .. })
        ));
        assert!(check_publish(v, None, &mut m).is_ok());
        let mut m = message(QoS::AtMostOnce, 1);
        m.retain = true;
        assert_eq!(
            check_publish(v, Some(&limits), &mut m),
            Err(UsageError::RetainNotAvailable)
        );
    }

    #[test]
    fn size_counts_the_packet_identifier_and_the_message_is_normalized() {
        let mut limits = default_limits();
        // QoS 1, 3.1.1: 2 fixed header + 2+3 topic + 2 id + payload.
        limits.maximum_packet_size = 20;
        let v = ProtocolVersion::V3_1_1;
        let mut fits = message(QoS::AtLeastOnce, 11);
        fits.dup = true;
        assert_eq!(check_publish(v, Some(&limits), &mut fits), Ok(()));
        assert!(!fits.dup && fits.packet_id.is_none());
        let mut over = message(QoS::AtLeastOnce, 12);
        assert_eq!(
            check_publish(v, Some(&limits), &mut over),
            Err(UsageError::PacketTooLarge {
                size: 21,
                maximum: 20
            })
        );
        // The same message at QoS 0 has no identifier: it fits.
        assert_eq!(
            check_publish(v, Some(&limits), &mut message(QoS::AtMostOnce, 12)),
            Ok(())
        );
    }

    #[test]
    fn a_client_never_sets_a_subscription_identifier_on_publish() {
        // [MQTT-3.3.4-6]
        let mut properties = PublishProperties::default();
        properties.subscription_identifiers.push(1);
        let mut m = message(QoS::AtMostOnce, 0).with_properties(properties);
        assert_eq!(
            check_publish(ProtocolVersion::V5, None, &mut m),
            Err(UsageError::ReservedProperty("Subscription Identifier"))
        );
    }

    #[test]
    fn subscribe_meets_the_servers_abilities() {
        let mut limits = default_limits();
        limits.wildcard_subscription_available = false;
        let packet = Subscribe {
            packet_id: PacketId::MAX,
            subscriptions: alloc::vec![Subscription::new(
                TopicFilter::try_from("a/#").unwrap(),
                QoS::AtMostOnce
            )],
            properties: SubscribeProperties::default().into(),
        };
        let v = ProtocolVersion::V5;
        assert_eq!(
            check_subscribe(v, Some(&limits), &packet),
            Err(UsageError::WildcardSubscriptionsNotAvailable)
        );
        assert_eq!(check_subscribe(v, None, &packet), Ok(()));
        limits.wildcard_subscription_available = true;
        limits.maximum_packet_size = 8;
        assert!(matches!(
            check_subscribe(v, Some(&limits), &packet),
            Err(UsageError::PacketTooLarge { .. })
        ));
    }
}
