//! Getting replies onto a platform: splitting long text at natural boundaries
//! ([`split`]), staying inside the platform's rate limits ([`Pacer`]), and
//! streaming a reply by editing its message as text arrives ([`Courier`]), and
//! screening what may not be said, even mid-stream ([`screen`]).
//!
//! One [`Courier`] exists per attached outbox, so its pacer sees every send and
//! edit of that platform: per chat, per group and globally.

mod courier;
mod pacer;
pub mod screen;
pub mod split;

pub use courier::{Courier, ReplyEvent, StreamEnd, Streamed};
pub use pacer::{PaceKey, Pacer, Priority, headroom};
pub use screen::{OutputFilter, Part, Screened};
