//! The client handles' view of what the session will take: the protocol version, the
//! limits of the current connection and whether the client is closed, kept current by
//! the engine. A handle runs the session's own checks
//! ([`mqtt_session::admission`]) against it on the application's thread, so that a
//! message the session would refuse is refused at the call, before anything is queued.
//!
//! The view can be a moment behind the session (a reconnect to a server with other
//! limits between the call and the driver taking the command): the session checks again
//! and then fails the operation's [`Pending`](crate::Pending) with the same error.

use std::sync::{Arc, Mutex, MutexGuard};

use mqtt_proto::{
    PacketId, ProtocolVersion, Publish, ReasonCode, Subscribe, SubscribeProperties, Subscription,
    TopicFilter, Unsubscribe, UnsubscribeProperties,
};
use mqtt_session::{AckToken, AcknowledgeError, ServerLimits, Session, UsageError, admission};

use crate::command::Command;
use crate::completion::Reply;
use crate::error::Error;

#[derive(Debug)]
struct View {
    version: ProtocolVersion,
    /// `None` while not connected.
    limits: Option<ServerLimits>,
    closed: bool,
}

/// The checks a client handle makes before queueing a command (see the module docs).
#[derive(Debug)]
pub struct Admission {
    view: Mutex<View>,
}

impl Admission {
    pub(crate) fn new(version: ProtocolVersion) -> Arc<Admission> {
        Arc::new(Admission {
            view: Mutex::new(View {
                version,
                limits: None,
                closed: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the session's state (the engine calls it when the connection or the
    /// session's state changed, before the events that tell of it are handed out).
    pub(crate) fn update(&self, session: &Session) {
        let mut view = self.lock();
        // A protocol version fallback changes the version.
        view.version = session.protocol_version();
        view.limits = session.connected_limits().cloned();
        view.closed = session.is_closed();
    }

    fn open(&self) -> Result<MutexGuard<'_, View>, Error> {
        let view = self.lock();
        if view.closed {
            return Err(Error::Closed);
        }
        Ok(view)
    }

    /// The session's checks for a publish (DUP and the packet identifier normalized as
    /// the session would); on success, what makes its [`Command`] once its reply slot
    /// exists.
    pub fn publish(
        &self,
        mut message: Publish,
    ) -> Result<impl FnOnce(Reply) -> Command + use<>, Error> {
        {
            let view = self.open()?;
            admission::check_publish(view.version, view.limits.as_ref(), &mut message)?;
        }
        Ok(move |done| Command::Publish { message, done })
    }

    /// The session's checks for a subscribe; on success, what makes its [`Command`].
    pub fn subscribe(
        &self,
        subscriptions: Vec<Subscription>,
        properties: SubscribeProperties,
    ) -> Result<impl FnOnce(Reply) -> Command + use<>, Error> {
        let packet = Subscribe {
            packet_id: PacketId::MAX,
            subscriptions,
            properties: properties.into(),
        };
        {
            let view = self.open()?;
            admission::check_subscribe(view.version, view.limits.as_ref(), &packet)?;
        }
        Ok(move |done| Command::Subscribe {
            subscriptions: packet.subscriptions,
            properties: packet.properties.into_inner(),
            done,
        })
    }

    /// The session's checks for an unsubscribe; on success, what makes its [`Command`].
    pub fn unsubscribe(
        &self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<impl FnOnce(Reply) -> Command + use<>, Error> {
        let packet = Unsubscribe {
            packet_id: PacketId::MAX,
            filters,
            properties: properties.into(),
        };
        {
            let view = self.open()?;
            admission::check_unsubscribe(view.version, view.limits.as_ref(), &packet)?;
        }
        Ok(move |done| Command::Unsubscribe {
            filters: packet.filters,
            properties: packet.properties.into_inner(),
            done,
        })
    }

    /// The session's checks for a manual acknowledgement (its reason code under the
    /// version); on success, what makes its [`Command`]. A refusal hands the token back.
    pub fn acknowledge(
        &self,
        token: AckToken,
        reason_code: ReasonCode,
    ) -> Result<impl FnOnce(Reply) -> Command + use<>, AcknowledgeError> {
        let checked = match self.open() {
            Err(_) => Err(UsageError::Closed),
            Ok(view) => admission::check_acknowledgement(view.version, token.qos(), reason_code),
        };
        match checked {
            Ok(()) => Ok(move |done| Command::Acknowledge {
                token,
                reason_code,
                done,
            }),
            Err(error @ UsageError::Closed) => Err(AcknowledgeError { error, token: None }),
            Err(error) => Err(AcknowledgeError {
                error,
                token: Some(token),
            }),
        }
    }
}
