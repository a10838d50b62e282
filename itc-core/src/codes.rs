//! Stable numeric codes for fieldless reason enums, written once.
//!
//! A reason that crosses a boundary (the C ABI, UniFFI, logs, a device's
//! flash) carries a number that never changes. Each such list is written
//! exactly once, in its home crate, as a *list macro* that hands the list
//! to a callback macro; [`stable_codes!`](crate::stable_codes) is the
//! callback that turns it into the canonical Rust enum, and the bindings
//! (`itc-ffi`) pass their own callbacks to the same list to derive the
//! UniFFI enum and the C constants. Nothing retypes the variants or their
//! numbers.
//!
//! A list macro looks like this (the callback and the caller's prefix
//! tokens come first, the list is appended in braces):
//!
//! ```
//! // In a home crate this macro is `#[macro_export]`ed.
//! macro_rules! example_reasons {
//!     ($($callback:ident)::+ ! { $($prefix:tt)* }) => {
//!         $($callback)::+! { $($prefix)* {
//!             /// The first reason.
//!             First = 1 => "the first reason",
//!             /// The second reason.
//!             Second = 2 => "the second reason",
//!         } }
//!     };
//! }
//!
//! example_reasons!(itc_core::stable_codes! {
//!     /// Why something was refused.
//!     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
//!     pub enum ExampleReason: u8, code u16
//! });
//!
//! assert_eq!(ExampleReason::Second.code(), 2u16);
//! assert_eq!(ExampleReason::from_code(1), Some(ExampleReason::First));
//! assert_eq!(ExampleReason::from_code(3), None);
//! assert_eq!(ExampleReason::ALL, [ExampleReason::First, ExampleReason::Second]);
//! assert_eq!(ExampleReason::Second.name(), "Second");
//! assert_eq!(ExampleReason::First.to_string(), "the first reason");
//! ```
//!
//! Codes are integer literals in the list, so each is visible where it is
//! defined; a test per list (`itc-ffi/tests/reason_codes.rs`) pins every
//! (name, code) pair so that none ever changes.

/// Define a fieldless enum with stable codes from a list (see the
/// [module docs](crate::codes)).
///
/// Input: the enum's attributes, `vis enum Name: repr, code CodeType`, then
/// the list `{ Variant = code => "message", ... }` (each variant with its
/// doc comment). Output: the enum with `#[repr(repr)]` and the codes as
/// discriminants; `ALL` (every variant, in list order), `code()`,
/// `from_code()`, `name()` and `message()`; `Display` (the message) and
/// `core::error::Error`.
#[macro_export]
macro_rules! stable_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $repr:ident, code $code_type:ty
        {
            $(
                $(#[doc = $doc:literal])*
                $variant:ident = $code:literal => $message:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr($repr)]
        $vis enum $name {
            $(
                $(#[doc = $doc])*
                $variant = $code,
            )+
        }

        impl $name {
            /// Every variant, in code order.
            pub const ALL: [$name; {
                let names: &[&str] = &[$(stringify!($variant)),+];
                names.len()
            }] = [$($name::$variant),+];

            /// The stable code.
            pub const fn code(self) -> $code_type {
                self as $repr as $code_type
            }

            /// The variant with stable code `code`, `None` for a code this
            /// version does not know.
            pub const fn from_code(code: $code_type) -> ::core::option::Option<Self> {
                match code {
                    $($code => ::core::option::Option::Some($name::$variant),)+
                    _ => ::core::option::Option::None,
                }
            }

            /// The variant's name, as written in Rust (`"WrongChain"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                }
            }

            /// A short lowercase explanation (also the `Display` text).
            pub const fn message(self) -> &'static str {
                match self {
                    $($name::$variant => $message,)+
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.message())
            }
        }

        impl ::core::error::Error for $name {}
    };
}
