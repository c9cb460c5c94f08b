//! A tour of the codec: builds the packets of a client's life cycle, encodes them for
//! each protocol version, then decodes the byte stream back in small random-sized pieces,
//! as a socket would deliver it.
//!
//! Run: `cargo run -p mqtt-proto --example codec_tour`

use bytes::BytesMut;
use mqtt_proto::{
    Connect, Decoder, Disconnect, Encode, MqttString, Packet, PacketId, ProtocolVersion, Publish,
    QoS, ReasonCode, Subscribe, Subscription, TopicFilter, TopicName, Unsubscribe, Will,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for version in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        println!("== {version}");
        let mut connect = Connect::new(version, MqttString::try_from("tour-client")?);
        connect.keep_alive = 30;
        connect.user_name = Some(MqttString::try_from("alice")?);
        connect.password = Some("secret".into());
        connect.will = Some(Will::new(
            TopicName::try_from("clients/tour/status")?,
            "offline",
        ));
        let packets: Vec<Packet> = vec![
            connect.into(),
            Subscribe::new(
                PacketId::new(1).unwrap(),
                vec![
                    Subscription::new(
                        TopicFilter::try_from("sensors/+/temperature")?,
                        QoS::AtLeastOnce,
                    ),
                    Subscription::new(TopicFilter::try_from("alerts/#")?, QoS::ExactlyOnce),
                ],
            )
            .into(),
            Publish::new(TopicName::try_from("sensors/kitchen/temperature")?, "21.5").into(),
            Publish::new(TopicName::try_from("alerts/door")?, "open")
                .with_qos(QoS::ExactlyOnce, PacketId::new(2))
                .with_retain(true)
                .into(),
            Unsubscribe::new(
                PacketId::new(3).unwrap(),
                vec![TopicFilter::try_from("alerts/#")?],
            )
            .into(),
            Disconnect::new(ReasonCode::NORMAL_DISCONNECTION).into(),
        ];

        let mut stream = BytesMut::new();
        for packet in &packets {
            let size = packet.encode(version, &mut stream)?;
            println!(
                "  encoded {:<11} {size:>3} bytes",
                packet.packet_type().name()
            );
        }

        // Deliver the stream in pieces of 1 to 7 bytes and decode as they arrive.
        let mut decoder = Decoder::new(version);
        let mut received = BytesMut::new();
        let mut decoded = Vec::new();
        let mut piece = 1;
        while !stream.is_empty() {
            let n = piece.min(stream.len());
            received.extend_from_slice(&stream.split_to(n));
            piece = piece % 7 + 1;
            while let Some(packet) = decoder.decode(&mut received)? {
                decoded.push(packet);
            }
        }
        assert_eq!(decoded, packets);
        println!("  decoded all {} packets back, identical", decoded.len());

        let filter = TopicFilter::try_from("sensors/+/temperature")?;
        let topic = TopicName::try_from("sensors/kitchen/temperature")?;
        println!("  '{filter}' matches '{topic}': {}", filter.matches(&topic));
    }
    Ok(())
}
