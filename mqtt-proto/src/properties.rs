//! [`Properties`]: a packet's MQTT 5.0 property block, kept out of line.
//!
//! Most packets carry no properties at all: every 3.1.1 packet, and most 5.0 PUBLISHes and
//! acknowledgements. Storing a block inline would make each of them as large as all its
//! optional fields together (160 bytes for a PUBLISH), and that size is moved on every
//! decode. `Properties<T>` is one pointer: no block is no allocation, and the block is
//! allocated the first time it is written to.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::ops::{Deref, DerefMut};

use bytes::BytesMut;

use crate::packet::{
    AckProperties, AuthProperties, DisconnectProperties, PublishProperties, SubscribeProperties,
    UnsubscribeProperties,
};
use crate::property::{PropertyList, Sink};

/// A packet's property block `T`, stored out of line.
///
/// It reads as a `T` (it dereferences to one; an absent block reads as the empty block)
/// and is written as a `T`: the first mutable access allocates the block. Two values are
/// equal when their blocks are, so an absent block equals an empty one.
///
/// ```
/// use mqtt_proto::{Properties, PublishProperties};
///
/// let mut properties = Properties::<PublishProperties>::default();
/// assert!(properties.is_empty() && properties.get().is_none()); // nothing allocated
/// assert_eq!(properties.message_expiry_interval, None);
/// properties.message_expiry_interval = Some(60); // allocates the block
/// assert_eq!(properties.get().unwrap().message_expiry_interval, Some(60));
/// assert_eq!(properties, Properties::new(PublishProperties {
///     message_expiry_interval: Some(60),
///     ..PublishProperties::default()
/// }));
/// ```
pub struct Properties<T>(Option<Box<T>>);

impl<T> Properties<T> {
    /// No properties (nothing allocated).
    #[inline]
    pub const fn none() -> Properties<T> {
        Properties(None)
    }

    /// The block `properties`, allocated.
    pub fn new(properties: T) -> Properties<T> {
        Properties(Some(Box::new(properties)))
    }

    /// The block, if one was allocated (decoding allocates one only for a packet that
    /// carries at least one property).
    #[inline]
    pub fn get(&self) -> Option<&T> {
        self.0.as_deref()
    }

    /// Takes the block out, leaving no properties.
    pub fn take(&mut self) -> Option<T> {
        self.0.take().map(|b| *b)
    }
}

impl<T: Default> Properties<T> {
    /// The block for writing, allocated (empty) if there was none.
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }

    /// The block by value (the empty block if none was allocated).
    pub fn into_inner(self) -> T {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl<T> Default for Properties<T> {
    #[inline]
    fn default() -> Self {
        Properties(None)
    }
}

impl<T: Clone> Clone for Properties<T> {
    #[inline]
    fn clone(&self) -> Self {
        Properties(self.0.clone())
    }
}

impl<T: Default> DerefMut for Properties<T>
where
    Properties<T>: Deref<Target = T>,
{
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.get_mut()
    }
}

impl<T: fmt::Debug> fmt::Debug for Properties<T>
where
    Properties<T>: Deref<Target = T>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: PartialEq> PartialEq for Properties<T>
where
    Properties<T>: Deref<Target = T>,
{
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            _ => **self == **other,
        }
    }
}

impl<T: Eq> Eq for Properties<T> where Properties<T>: Deref<Target = T> {}

impl<T: PropertyList> PropertyList for Properties<T> {
    #[inline]
    fn visit<S: Sink>(&self, sink: &mut S) {
        if let Some(block) = &self.0 {
            block.visit(sink);
        }
    }

    #[inline]
    fn content_len(&self) -> usize {
        self.0.as_ref().map_or(0, |block| block.content_len())
    }

    #[inline]
    fn write(&self, content_len: usize, buf: &mut BytesMut) {
        match &self.0 {
            Some(block) => block.write(content_len, buf),
            None => bytes::BufMut::put_u8(buf, 0),
        }
    }
}

/// `Deref` for each block type, onto a `static` empty block (a block type's fields are
/// all `None` or empty when it is empty, so the static needs no allocation).
macro_rules! empty_block {
    ($($ty:ident { $($field:ident: $empty:expr),* $(,)? })*) => {$(
        impl Properties<$ty> {
            /// Whether no property is set (true without a look when nothing is allocated).
            #[inline]
            pub fn is_empty(&self) -> bool {
                self.0.as_ref().is_none_or(|block| block.is_empty())
            }
        }

        impl From<$ty> for Properties<$ty> {
            /// The block, allocated unless it is empty.
            fn from(properties: $ty) -> Self {
                if properties.is_empty() {
                    Properties::none()
                } else {
                    Properties::new(properties)
                }
            }
        }

        impl Deref for Properties<$ty> {
            type Target = $ty;
            #[inline]
            fn deref(&self) -> &$ty {
                static EMPTY: $ty = $ty { $($field: $empty),* };
                self.0.as_deref().unwrap_or(&EMPTY)
            }
        }
    )*};
}

empty_block! {
    PublishProperties {
        payload_format_indicator: None,
        message_expiry_interval: None,
        topic_alias: None,
        response_topic: None,
        correlation_data: None,
        user_properties: Vec::new(),
        subscription_identifiers: Vec::new(),
        content_type: None,
    }
    AckProperties { reason_string: None, user_properties: Vec::new() }
    DisconnectProperties {
        session_expiry_interval: None,
        reason_string: None,
        user_properties: Vec::new(),
        server_reference: None,
    }
    AuthProperties {
        authentication_method: None,
        authentication_data: None,
        reason_string: None,
        user_properties: Vec::new(),
    }
    SubscribeProperties { subscription_identifier: None, user_properties: Vec::new() }
    UnsubscribeProperties { user_properties: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_block_reads_as_empty_and_allocates_on_first_write() {
        let mut p = Properties::<AckProperties>::none();
        assert!(p.is_empty());
        assert!(p.reason_string.is_none());
        assert!(p.get().is_none());
        p.user_properties.clear(); // a mutable access allocates
        assert!(p.get().is_some());
        assert!(p.is_empty());
        assert_eq!(p, Properties::none());
        assert_eq!(Properties::none(), p);
    }

    #[test]
    fn an_absent_block_encodes_as_a_zero_property_length() {
        let p = Properties::<PublishProperties>::none();
        assert_eq!(p.content_len(), 0);
        assert_eq!(p.wire_len(), 1);
        let mut buf = BytesMut::new();
        p.write(0, &mut buf);
        assert_eq!(&buf[..], [0]);
    }

    #[test]
    fn take_and_into_inner_give_the_block_back() {
        let mut p = Properties::new(UnsubscribeProperties::default());
        assert!(p.take().is_some());
        assert!(p.get().is_none());
        assert_eq!(p.into_inner(), UnsubscribeProperties::default());
    }
}
