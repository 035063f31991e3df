//! The Graph client: one instance per process, every Graph call of a service goes through it.

pub mod observer;

pub use observer::GraphObserver;
