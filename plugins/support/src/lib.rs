//! WIP
pub mod chunk;
pub mod faq;
pub mod index;
pub mod kb;
