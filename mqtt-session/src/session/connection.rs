//! The connection life cycle: opening, CONNECT / CONNACK, enhanced authentication,
//! DISCONNECT both ways, protocol violations and reconnecting.

use alloc::boxed::Box;
use alloc::string::ToString;
use bytes::Bytes;
use core::num::{NonZeroU16, NonZeroU32};
use mqtt_proto::{
    Auth, ConnAck, Connect, ConnectProperties, Disconnect, DisconnectProperties, Encode,
    MqttString, Packet, ProtocolVersion, QoS, ReasonCode, UserProperty,
};

use super::{Session, State, decoder_for, default_limits};
use crate::admission::QOS2;
use crate::alias::{IncomingAliases, OutgoingAliases};
use crate::error::{OperationError, ProtocolViolation, UsageError};
use crate::event::{Action, Connected, DisconnectReason, Event, ServerLimits};
use crate::time::Instant;

/// How the application ends a session ([`Session::disconnect`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisconnectOptions {
    /// Publish the Will Message anyway (5.0 reason 0x04); otherwise the server drops it.
    pub publish_will: bool,
    /// A new Session Expiry Interval (5.0; not allowed when CONNECT sent 0).
    pub session_expiry_interval: Option<u32>,
    /// A Reason String (5.0).
    pub reason_string: Option<MqttString>,
    /// User Properties (5.0).
    pub user_properties: alloc::vec::Vec<UserProperty>,
}

/// CONNACK reason codes after which reconnecting cannot help without a change of
/// configuration: the session closes instead of hammering the server.
fn refusal_is_final(code: ReasonCode) -> bool {
    matches!(
        code,
        ReasonCode::UnsupportedProtocolVersion
            | ReasonCode::ClientIdentifierNotValid
            | ReasonCode::BadUserNameOrPassword
            | ReasonCode::NotAuthorized
            | ReasonCode::Banned
            | ReasonCode::BadAuthenticationMethod
    )
}

impl Session {
    /// Starts connecting: asks the driver to open a transport ([`Action::Open`]). Calling
    /// it again while a connection is up or being made does nothing.
    pub fn connect(&mut self, now: Instant) -> Result<(), UsageError> {
        self.clock(now);
        match self.state {
            State::Closed => Err(UsageError::Closed),
            State::Idle | State::WaitingToReconnect { .. } => {
                let mut probe = self.connect_packet();
                probe.clean_start = !self.has_session;
                probe
                    .encoded_len(self.version())
                    .map_err(UsageError::InvalidPacket)?;
                self.open();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Ends the session: sends DISCONNECT if connected, asks the driver to close the
    /// transport, and fails every pending operation with
    /// [`OperationError::SessionClosed`]. The session stays closed.
    pub fn disconnect(
        &mut self,
        now: Instant,
        options: DisconnectOptions,
    ) -> Result<(), UsageError> {
        let now = self.clock(now);
        if self.state == State::Closed {
            return Err(UsageError::Closed);
        }
        let v5 = self.version().is_v5();
        if !v5 && (options.publish_will || options.session_expiry_interval.is_some()) {
            return Err(UsageError::RequiresV5(
                "a DISCONNECT reason code or session expiry",
            ));
        }
        if options.session_expiry_interval.is_some_and(|s| s > 0)
            && self.options.session_expiry_interval == 0
        {
            // U5-30: 0 in CONNECT cannot become non-zero on DISCONNECT.
            return Err(UsageError::InvalidPacket(
                mqtt_proto::EncodeError::InvalidPropertyValue {
                    property: mqtt_proto::PropertyId::SessionExpiryInterval,
                    value: options.session_expiry_interval.unwrap_or(0),
                },
            ));
        }
        if self.state == State::Connected {
            let mut packet = Disconnect::new(if options.publish_will {
                ReasonCode::DisconnectWithWillMessage
            } else {
                ReasonCode::NORMAL_DISCONNECTION
            });
            if v5 {
                packet.properties = DisconnectProperties {
                    session_expiry_interval: options.session_expiry_interval,
                    reason_string: options.reason_string,
                    user_properties: options.user_properties,
                    server_reference: None,
                }
                .into();
                packet.fit_within(self.version(), self.limits.maximum_packet_size);
            }
            self.send(now, &packet).map_err(UsageError::from)?;
        }
        if matches!(
            self.state,
            State::Opening | State::AwaitingConnAck { .. } | State::Connected
        ) {
            // [MQTT-3.14.4-1] / [MQTT-3.14.4-2]: nothing after DISCONNECT; close.
            self.actions.push_back(Action::Close);
            self.events.push_back(Event::Disconnected {
                reason: DisconnectReason::Requested,
                reconnect_at: None,
            });
        }
        self.close_for_good();
        Ok(())
    }

    /// Ends the session at once because the driver cannot go on, for example because its
    /// session store failed: `reason` says why, in
    /// [`DisconnectReason::Aborted`], on the [`Event::Disconnected`] this reports.
    ///
    /// Unlike [`Session::disconnect`], no DISCONNECT is sent and unsent output is
    /// dropped: to the server the connection was lost, so it publishes the Will and keeps
    /// the session (for its expiry interval), and a client restarted from its last stored
    /// state can resume it. Messages received but not yet taken from
    /// [`Session::poll_event`] are dropped too: their acknowledgements were not sent, so
    /// the server delivers them again (QoS 1 and 2). With [`Options::journal`](crate::Options::journal) on,
    /// nothing is recorded from here on: the store keeps the session as it was. Every
    /// pending operation fails with
    /// [`OperationError::SessionClosed`]; the session stays closed. Nothing happens if it
    /// is closed already.
    pub fn abort(&mut self, now: Instant, reason: alloc::string::String) {
        let _ = self.clock(now);
        if self.state == State::Closed {
            return;
        }
        if matches!(
            self.state,
            State::Opening | State::AwaitingConnAck { .. } | State::Connected
        ) {
            self.actions.push_back(Action::Close);
        }
        self.tx.clear();
        self.events.retain(|e| !matches!(e, Event::Message(_)));
        // As a crash: the store keeps what it has; ending the operations below is not a
        // change of the stored session.
        self.outbound.journal.on = false;
        self.inbound.journal.on = false;
        self.events.push_back(Event::Disconnected {
            reason: DisconnectReason::Aborted(reason),
            reconnect_at: None,
        });
        self.close_for_good();
    }

    /// The driver opened the transport asked for by [`Action::Open`]: the session writes
    /// CONNECT ([MQTT-3.1.0-1]) and waits for CONNACK.
    pub fn handle_connected(&mut self, now: Instant) {
        let now = self.clock(now);
        if self.state != State::Opening {
            return;
        }
        self.connection = self.connection.wrapping_add(1);
        self.tx.clear();
        self.decoder = decoder_for(&self.options);
        self.limits = default_limits();
        self.limits.keep_alive = self.options.keep_alive;
        self.incoming_aliases = IncomingAliases::new(self.options.topic_alias_maximum);
        self.outgoing_aliases = OutgoingAliases::new(0);
        self.ping_deadline = None;
        self.reauthenticating = false;
        self.auth_challenge = false;
        self.outbound.new_connection();
        self.resuming = self.has_session;
        let connect = self.connect_packet();
        if self.send(now, &connect).is_err() {
            // The options cannot be encoded: nothing will ever connect.
            self.actions.push_back(Action::Close);
            self.events.push_back(Event::Disconnected {
                reason: DisconnectReason::ProtocolViolation(ProtocolViolation::Authentication(
                    "CONNECT cannot be encoded",
                )),
                reconnect_at: None,
            });
            self.close_for_good();
            return;
        }
        self.state = State::AwaitingConnAck {
            deadline: now + self.options.connect_timeout,
        };
    }

    fn connect_packet(&self) -> Connect {
        let o = &self.options;
        let v5 = o.protocol_version.is_v5();
        let properties = if v5 {
            ConnectProperties {
                session_expiry_interval: (o.session_expiry_interval > 0)
                    .then_some(o.session_expiry_interval),
                receive_maximum: NonZeroU16::new(o.receive_maximum).filter(|r| r.get() != 65_535),
                maximum_packet_size: o.maximum_packet_size.and_then(NonZeroU32::new),
                topic_alias_maximum: (o.topic_alias_maximum > 0).then_some(o.topic_alias_maximum),
                request_response_information: o.request_response_information.then_some(true),
                request_problem_information: o.request_problem_information,
                user_properties: o.user_properties.clone(),
                authentication_method: o.authentication_method.clone(),
                authentication_data: o.authentication_data.clone(),
            }
        } else {
            ConnectProperties::default()
        };
        Connect {
            protocol_version: o.protocol_version,
            clean_start: !self.resuming,
            keep_alive: o.keep_alive,
            client_id: self.client_id.clone(),
            will: o.will.clone(),
            user_name: o.user_name.clone(),
            password: o.password.clone(),
            properties,
        }
    }

    /// Asks the driver to open a transport to the next server.
    pub(crate) fn open(&mut self) {
        let server = match self.redirect.take() {
            Some(s) => s,
            None => {
                let servers = &self.options.servers;
                if servers.is_empty() {
                    alloc::string::String::new()
                } else {
                    servers[self.server_index % servers.len()].clone()
                }
            }
        };
        self.state = State::Opening;
        self.actions.push_back(Action::Open { server });
    }

    /// Dispatches one packet from the server.
    pub(crate) fn handle_packet(
        &mut self,
        now: Instant,
        packet: Packet,
    ) -> Result<(), ProtocolViolation> {
        let awaiting = matches!(self.state, State::AwaitingConnAck { .. });
        if self.options.request_problem_information == Some(false) && self.version().is_v5() {
            let ack = match &packet {
                Packet::PubAck(a) => Some(&a.properties),
                Packet::PubRec(a) => Some(&a.properties),
                Packet::PubRel(a) => Some(&a.properties),
                Packet::PubComp(a) => Some(&a.properties),
                Packet::SubAck(a) => Some(&a.properties),
                Packet::UnsubAck(a) => Some(&a.properties),
                _ => None,
            };
            let auth = match &packet {
                Packet::Auth(a) => {
                    a.properties.reason_string.is_some() || !a.properties.user_properties.is_empty()
                }
                _ => false,
            };
            if auth || ack.is_some_and(|p| !p.is_empty()) {
                // [MQTT-3.1.2-29].
                return Err(ProtocolViolation::UnexpectedPacket(
                    "a Reason String or User Property after Request Problem Information 0",
                ));
            }
        }
        match packet {
            Packet::ConnAck(c) if awaiting => self.handle_connack(now, *c),
            // AUTH is 5.0's (a 3.x decoder refuses its packet type); without the `v5`
            // feature this arm folds away, and enhanced authentication with it.
            Packet::Auth(_) if !self.version().is_v5() => Err(ProtocolViolation::UnexpectedPacket(
                "AUTH, which only MQTT 5.0 has",
            )),
            Packet::Auth(a) => self.handle_auth(now, a, awaiting),
            // [MQTT-3.2.0-1]: nothing but CONNACK or AUTH before CONNACK; [MQTT-3.2.0-2]:
            // one CONNACK per connection; [MQTT-3.14.0-1]: no DISCONNECT before it.
            _ if awaiting => Err(ProtocolViolation::UnexpectedPacket(
                "a packet before CONNACK",
            )),
            Packet::ConnAck(_) => Err(ProtocolViolation::UnexpectedPacket("a second CONNACK")),
            // Without the `qos2` feature nothing is ever sent or subscribed at QoS 2, so
            // the acknowledgements of an outgoing one are the server's error (and the
            // code folds away). PUBREL is still answered: a restored state may hold
            // incoming QoS 2 identifiers.
            Packet::PubRec(_) | Packet::PubComp(_) if !QOS2 => {
                Err(ProtocolViolation::UnexpectedPacket(
                    "a QoS 2 acknowledgement, but no QoS 2 was used",
                ))
            }
            #[cfg(not(feature = "unsubscribe"))]
            Packet::UnsubAck(_) => Err(ProtocolViolation::UnexpectedPacket(
                "an UNSUBACK, but no UNSUBSCRIBE was sent",
            )),
            Packet::Publish(p) => self.handle_publish(now, p),
            Packet::PubAck(a) => {
                self.prove_connection();
                self.handle_puback(now, a)
            }
            Packet::PubRec(a) => {
                self.prove_connection();
                self.handle_pubrec(now, a)
            }
            Packet::PubRel(a) => self.handle_pubrel(now, a),
            Packet::PubComp(a) => {
                self.prove_connection();
                self.handle_pubcomp(now, a)
            }
            Packet::SubAck(a) => {
                self.prove_connection();
                self.handle_suback(now, a)
            }
            #[cfg(feature = "unsubscribe")]
            Packet::UnsubAck(a) => {
                self.prove_connection();
                self.handle_unsuback(now, a)
            }
            Packet::PingResp => {
                self.prove_connection();
                self.ping_deadline = None;
                Ok(())
            }
            Packet::Disconnect(d) => {
                self.handle_server_disconnect(now, d);
                Ok(())
            }
            // The decoder refuses packets only a client sends (`Role::Server`).
            _ => Err(ProtocolViolation::UnexpectedPacket(
                "a packet only a client sends",
            )),
        }
    }

    // Rare packets out of line: the hot path's stack frame stays small (an idle
    // client thread's memory is the stack it ever touched).
    #[inline(never)]
    fn handle_connack(&mut self, now: Instant, c: ConnAck) -> Result<(), ProtocolViolation> {
        let method = self.options.authentication_method.as_ref();
        if c.reason_code == ReasonCode::UnsupportedProtocolVersion {
            let reason = DisconnectReason::Refused {
                reason_code: c.reason_code,
                reason_string: c.properties.reason_string,
            };
            self.version_refused(now, reason);
            return Ok(());
        }
        if c.reason_code.is_error() {
            // [MQTT-3.2.2-5] (v3.1.1) / [MQTT-3.2.2-7] (v5): the attempt failed; the server
            // closes the connection.
            self.follow_redirect(c.reason_code, c.properties.server_reference.as_ref());
            self.actions.push_back(Action::Close);
            let reason = DisconnectReason::Refused {
                reason_code: c.reason_code,
                reason_string: c.properties.reason_string,
            };
            if refusal_is_final(c.reason_code) {
                self.events.push_back(Event::Disconnected {
                    reason,
                    reconnect_at: None,
                });
                self.close_for_good();
            } else {
                self.connection_lost(now, reason);
            }
            return Ok(());
        }
        if c.properties.authentication_method.as_ref() != method && self.version().is_v5() {
            // [MQTT-4.12.0-5] / [MQTT-4.12.0-6].
            return Err(ProtocolViolation::Authentication(
                "CONNACK Authentication Method differs from CONNECT's",
            ));
        }
        if c.session_present && !self.resuming {
            // [MQTT-3.2.2-4]: a session we did not ask to resume.
            return Err(ProtocolViolation::UnexpectedSessionPresent);
        }
        let p = &c.properties;
        let session_expiry = p.session_expiry_interval;
        self.limits = if !self.version().is_v5() {
            // 3.x has no CONNACK properties (and without `v5` this folds away).
            ServerLimits {
                keep_alive: self.options.keep_alive,
                ..default_limits()
            }
        } else {
            ServerLimits {
                receive_maximum: p.receive_maximum.map_or(65_535, NonZeroU16::get),
                maximum_qos: p.maximum_qos.unwrap_or(QoS::ExactlyOnce),
                retain_available: p.retain_available.unwrap_or(true),
                maximum_packet_size: p
                    .maximum_packet_size
                    .map_or(mqtt_proto::MAX_PACKET_SIZE, |m| m.get() as usize),
                topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
                wildcard_subscription_available: p.wildcard_subscription_available.unwrap_or(true),
                subscription_identifier_available: p
                    .subscription_identifier_available
                    .unwrap_or(true),
                shared_subscription_available: p.shared_subscription_available.unwrap_or(true),
                // [MQTT-3.1.2-21]: the server's keep alive replaces ours.
                keep_alive: p.server_keep_alive.unwrap_or(self.options.keep_alive),
            }
        };
        if self.options.outgoing_topic_aliases {
            self.outgoing_aliases = OutgoingAliases::new(self.limits.topic_alias_maximum);
        }
        if let Some(assigned) = &p.assigned_client_identifier {
            // [MQTT-3.1.3-7] / [MQTT-3.2.2-16]: adopt the assigned identifier.
            self.client_id = assigned.clone();
        }
        // MQTT 3.1 has no Session Present flag: a session asked for is resumed.
        let session_present = c.session_present
            || (self.version() == mqtt_proto::ProtocolVersion::V3_1 && self.resuming);
        let session_lost = self.resuming && !session_present;
        self.state = State::Connected;
        // The back-off starts again only once the server acknowledges something on this
        // connection (`proven`): a server that accepts the connection and then drops it
        // on the first message must not be hammered.
        self.proven = false;
        self.events.push_back(Event::Connected(Box::new(Connected {
            session_present,
            session_lost,
            client_id: self.client_id.clone(),
            limits: self.limits.clone(),
            properties: c.properties,
        })));
        if session_present {
            // [MQTT-4.4.0-1]: re-send unacknowledged PUBLISH (DUP) and PUBREL first.
            self.resume_session(now);
        } else {
            // [MQTT-3.2.2-5] (v5): without a session on the server, discard ours.
            self.start_new_session(now);
        }
        // The server's Session Expiry Interval, if it sent one, decides whether the
        // session outlives this connection.
        self.session_persists = match (self.version().is_v5(), session_expiry) {
            (true, Some(interval)) => interval > 0,
            _ => self.options.session_persists(),
        };
        self.has_session = self.session_persists;
        // Acknowledgements decided while disconnected (QoS 2) go out now.
        self.flush_acks(now);
        self.pump(now);
        if session_present && !c.session_present && self.options.on_session_loss.resubscribe {
            // MQTT 3.1 cannot say whether the server kept the session: subscribing again
            // is harmless if it did and restores the flow if it did not.
            self.resubscribe(now);
        }
        // A CONNACK later than a keep-alive period after CONNECT: PINGREQ is due now.
        self.keep_alive_tick(now);
        Ok(())
    }

    #[inline(never)]
    fn handle_auth(
        &mut self,
        _now: Instant,
        a: Auth,
        awaiting: bool,
    ) -> Result<(), ProtocolViolation> {
        let Some(method) = self.options.authentication_method.clone() else {
            // [MQTT-4.12.0-6]: AUTH without having asked for enhanced authentication.
            return Err(ProtocolViolation::Authentication(
                "AUTH without an Authentication Method in CONNECT",
            ));
        };
        if a.properties.authentication_method.as_ref() != Some(&method) {
            return Err(ProtocolViolation::Authentication(
                "AUTH with a different Authentication Method",
            ));
        }
        match a.reason_code {
            // [MQTT-4.12.0-2]: the server asks for another step.
            ReasonCode::ContinueAuthentication => {
                if !awaiting && !self.reauthenticating {
                    return Err(ProtocolViolation::Authentication(
                        "AUTH 0x18 outside an authentication exchange",
                    ));
                }
                self.auth_challenge = true;
                self.events.push_back(Event::AuthChallenge {
                    method,
                    data: a.properties.into_inner().authentication_data,
                });
                Ok(())
            }
            ReasonCode::Success if !awaiting && self.reauthenticating => {
                self.reauthenticating = false;
                self.events.push_back(Event::ReAuthenticated);
                Ok(())
            }
            _ => Err(ProtocolViolation::Authentication(
                "unexpected AUTH reason code",
            )),
        }
    }

    /// Answers an [`Event::AuthChallenge`] with the next authentication data (AUTH 0x18,
    /// [MQTT-4.12.0-3]).
    pub fn authenticate(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), UsageError> {
        let now = self.clock(now);
        if self.version().is_v5() && !self.auth_challenge {
            return Err(UsageError::NoAuthentication);
        }
        self.send_auth(now, ReasonCode::ContinueAuthentication, data)?;
        self.auth_challenge = false;
        Ok(())
    }

    /// Starts re-authentication on a connected session (AUTH 0x19 with the CONNECT's
    /// method, [MQTT-4.12.1-1]).
    pub fn reauthenticate(&mut self, now: Instant, data: Option<Bytes>) -> Result<(), UsageError> {
        let now = self.clock(now);
        if self.state != State::Connected {
            return Err(UsageError::NoAuthentication);
        }
        self.send_auth(now, ReasonCode::ReAuthenticate, data)?;
        self.reauthenticating = true;
        Ok(())
    }

    fn send_auth(
        &mut self,
        now: Instant,
        code: ReasonCode,
        data: Option<Bytes>,
    ) -> Result<(), UsageError> {
        if !self.version().is_v5() {
            return Err(UsageError::RequiresV5("enhanced authentication"));
        }
        // [MQTT-4.12.0-7]: never AUTH without an Authentication Method in CONNECT.
        let method = self
            .options
            .authentication_method
            .clone()
            .ok_or(UsageError::NoAuthentication)?;
        if !matches!(self.state, State::AwaitingConnAck { .. } | State::Connected) {
            return Err(UsageError::NoAuthentication);
        }
        self.send(now, &Auth::new(code, method, data))
            .map_err(UsageError::from)
    }

    #[inline(never)]
    fn handle_server_disconnect(&mut self, now: Instant, d: Disconnect) {
        self.follow_redirect(d.reason_code, d.properties.server_reference.as_ref());
        // U5-31: close on DISCONNECT.
        self.actions.push_back(Action::Close);
        let reason = if self.reauthenticating && d.reason_code.is_error() {
            DisconnectReason::AuthenticationFailed(d.reason_code)
        } else {
            DisconnectReason::ServerDisconnect {
                reason_code: d.reason_code,
                reason_string: d.properties.into_inner().reason_string,
            }
        };
        self.connection_lost(now, reason);
    }

    /// U5-40: a CONNACK or DISCONNECT with 0x9C and a Server Reference makes the next
    /// attempt use that server; 0x9D (moved) also replaces the current entry of the
    /// server list. Any other reason code, or no reference, changes nothing.
    fn follow_redirect(&mut self, code: ReasonCode, reference: Option<&MqttString>) {
        // Only 5.0 has Server References (and without the `v5` feature this folds away).
        if !self.version().is_v5()
            || !matches!(code, ReasonCode::UseAnotherServer | ReasonCode::ServerMoved)
        {
            return;
        }
        let Some(first) = reference.and_then(|r| r.split(' ').find(|s| !s.is_empty())) else {
            return;
        };
        if code == ReasonCode::ServerMoved && !self.options.servers.is_empty() {
            let i = self.server_index % self.options.servers.len();
            self.options.servers[i] = first.to_string();
        }
        self.redirect = Some(first.to_string());
    }

    /// The server acknowledged something on this connection: it works, and the
    /// reconnect back-off starts again from its minimum.
    #[inline]
    pub(crate) fn prove_connection(&mut self) {
        if !self.proven {
            self.proven = true;
            self.backoff.reset();
        }
    }

    /// The server does not speak our protocol version: fall back to the next lower one at
    /// once ([`Options::version_fallback`](crate::Options::version_fallback)), or stop.
    #[inline(never)]
    pub(crate) fn version_refused(&mut self, now: Instant, reason: DisconnectReason) {
        let requested = self.version();
        self.actions.push_back(Action::Close);
        let lower = match requested {
            ProtocolVersion::V5 => Some(ProtocolVersion::V3_1_1),
            ProtocolVersion::V3_1_1 => Some(ProtocolVersion::V3_1),
            _ => None,
        };
        match lower.filter(|_| self.options.version_fallback) {
            Some(version) => {
                self.options.protocol_version = version;
                self.session_persists = self.options.session_persists();
                self.retry_at_once = true;
                self.connection_lost(now, reason);
            }
            None => {
                self.events.push_back(Event::Disconnected {
                    reason,
                    reconnect_at: None,
                });
                self.close_for_good();
            }
        }
    }

    /// The server broke the protocol: under 5.0 send DISCONNECT with the reason code
    /// (§4.13.1), then close ([MQTT-4.13.2-1]); under 3.1.1 just close ([MQTT-4.8.0-1]).
    #[inline(never)]
    pub(crate) fn protocol_violation(&mut self, now: Instant, violation: ProtocolViolation) {
        if !matches!(self.state, State::AwaitingConnAck { .. } | State::Connected) {
            return;
        }
        if self.version().is_v5() {
            let _ = self.send(now, &Disconnect::new(violation.reason_code()));
        }
        self.actions.push_back(Action::Close);
        self.connection_lost(now, DisconnectReason::ProtocolViolation(violation));
    }

    /// The connection is gone: forget per-connection state, keep the session, and plan
    /// the next attempt by the reconnect policy.
    pub(crate) fn connection_lost(&mut self, now: Instant, reason: DisconnectReason) {
        if self.state == State::Closed {
            return;
        }
        let was_connected = self.state == State::Connected;
        if was_connected && !self.proven {
            self.closed_unproven();
        }
        let at_once = core::mem::take(&mut self.retry_at_once);
        self.ping_deadline = None;
        self.reauthenticating = false;
        self.auth_challenge = false;
        self.inbound.connection_lost();
        if !was_connected && self.redirect.is_none() && !at_once {
            // A failed attempt moves on to the next server in the list.
            self.server_index = self.server_index.wrapping_add(1);
        }
        if !self.session_persists {
            // Clean session: its state ends with the connection ([MQTT-3.1.2-6] v3.1.1).
            self.has_session = false;
        }
        let reconnect_at = if self.options.reconnect.enabled {
            let delay = if self.redirect.is_some() || at_once {
                core::time::Duration::ZERO
            } else {
                self.backoff.next_delay(&self.options.reconnect)
            };
            Some(now + delay)
        } else {
            None
        };
        self.events.push_back(Event::Disconnected {
            reason,
            reconnect_at,
        });
        match reconnect_at {
            Some(at) => self.state = State::WaitingToReconnect { at },
            None => self.close_for_good(),
        }
    }

    /// Closes the session for good and fails every pending operation.
    pub(crate) fn close_for_good(&mut self) {
        self.state = State::Closed;
        while let Some(id) = self.outbound.pop_operation() {
            self.fail_operation(id, OperationError::SessionClosed);
        }
        while let Some(p) = self.subscriptions.pending.pop_front() {
            if let Some(id) = p.operation {
                self.fail_operation(id, OperationError::SessionClosed);
            }
        }
    }
}
