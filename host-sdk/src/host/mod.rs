//! host side
