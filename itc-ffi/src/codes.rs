//! Reason codes, derived from their one definition.
//!
//! Each reason enum with stable codes is written once, as a list macro in
//! its home crate (`itc_spv::deny_reasons!`, `itc_spv::update_refusals!`,
//! `itc_spv::invalid_reasons!`, `itc_spv::bootstrap_errors!`,
//! `itc_core::seal_refusals!`; the canonical Rust enums are made from them
//! by `itc_core::stable_codes!`). This module passes the same lists to two
//! callbacks:
//!
//! * `ffi_enum!`: the UniFFI enum (Python, Kotlin, Swift see the codes as
//!   the enum's values), its conversions from and to the canonical enum, and
//!   its C description;
//! * `c_enum!`: the C description alone, for reasons that UniFFI reports
//!   as a bare code.
//!
//! The C descriptions ([`C_ENUMS`]) become the `ItcDenyReason`,
//! `ItcInvalidReason`, ... enums of `bindings/c/itc.h`: the header test
//! renders them with [`c_declarations`] into the part of the header that
//! cbindgen takes verbatim. The committed table
//! `itc-ffi/tests/reason_codes.rs` pins every (name, code) pair in every
//! layer.

/// One constant of a C reason enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CConstant {
    /// The variant's Rust name (`"WrongChain"`); the C name is the enum's
    /// prefix plus this name in screaming snake case.
    pub name: &'static str,
    /// The stable code.
    pub code: u32,
    /// The variant's documentation, one line per doc line.
    pub doc: &'static str,
}

/// A reason enum as the C header declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CEnum {
    /// The C type name (`"ItcDenyReason"`), a `uint32_t`.
    pub name: &'static str,
    /// The enum's documentation, one line per doc line.
    pub doc: &'static str,
    /// When the C enum has a `..._NONE = 0` constant (the value a field
    /// holds when there is no reason), its documentation.
    pub none: Option<&'static str>,
    /// Every reason, in code order.
    pub constants: &'static [CConstant],
}

impl CEnum {
    /// The prefix of the enum's constants (`"ITC_DENY_REASON"`).
    pub fn prefix(&self) -> String {
        screaming_snake(self.name)
    }

    /// The C name of the constant for the variant `name` (`"WrongChain"` ->
    /// `"ITC_DENY_REASON_WRONG_CHAIN"`).
    pub fn constant_name(&self, name: &str) -> String {
        format!("{}_{}", self.prefix(), screaming_snake(name))
    }

    /// The declaration, in the form cbindgen gives a `#[repr(u32)]` enum.
    pub fn declaration(&self) -> String {
        let mut out = String::new();
        push_doc(&mut out, "", self.doc);
        out.push_str(&format!(
            "enum {}\n#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L\n  : uint32_t\n\
             #endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L\n {{\n",
            self.name
        ));
        if let Some(doc) = self.none {
            push_doc(&mut out, "  ", doc);
            out.push_str(&format!("  {}_NONE = 0,\n", self.prefix()));
        }
        for constant in self.constants {
            push_doc(&mut out, "  ", constant.doc);
            out.push_str(&format!(
                "  {} = {},\n",
                self.constant_name(constant.name),
                constant.code
            ));
        }
        out.push_str(&format!(
            "}};\n#ifndef __cplusplus\n#if __STDC_VERSION__ >= 202311L\n\
             typedef enum {name} {name};\n#else\ntypedef uint32_t {name};\n\
             #endif // __STDC_VERSION__ >= 202311L\n#endif // __cplusplus\n",
            name = self.name
        ));
        out
    }
}

fn push_doc(out: &mut String, indent: &str, doc: &str) {
    for line in doc.lines() {
        out.push_str(indent);
        out.push_str("//");
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// `"ItcDenyReason"` -> `"ITC_DENY_REASON"`, `"NotARecipient"` ->
/// `"NOT_A_RECIPIENT"` (cbindgen's `ScreamingSnakeCase`).
fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Callback for a home crate's reason list: the UniFFI enum `$name` with the
/// list's variants, docs and codes (as `#[repr(u32)]` discriminants, which
/// the generated bindings expose as the values), `ALL`, `code()`,
/// `from_code()`, conversions from and to the canonical enum, and its C
/// description `C_ENUM`.
macro_rules! ffi_enum {
    (
        $(#[doc = $doc:tt])*
        pub enum $name:ident = $core:ty, code $code_type:ty $(, fallback $fallback:ident)?;
        c { $(#[doc = $c_doc:literal])* } $(none $none:literal)?
        {
            $(
                $(#[doc = $variant_doc:tt])*
                $variant:ident = $code:tt => $message:literal
            ),+ $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $(
                $(#[doc = $variant_doc])*
                $variant = $code,
            )+
        }

        impl $name {
            /// Every variant, in code order.
            pub const ALL: [$name; {
                let names: &[&str] = &[$(stringify!($variant)),+];
                names.len()
            }] = [$($name::$variant),+];

            /// The stable code (the canonical enum's).
            pub const fn code(self) -> $code_type {
                self as u32 as $code_type
            }

            /// The variant with stable code `code`, `None` for an unknown
            /// code.
            pub const fn from_code(code: $code_type) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The variant for a canonical value (`None` only if the
            /// canonical enum gained a variant this build does not know,
            /// which the shared list rules out).
            pub fn from_core(core: $core) -> Option<Self> {
                type Core = $core;
                match core {
                    $(Core::$variant => Some($name::$variant),)+
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            /// The canonical value.
            pub const fn to_core(self) -> $core {
                type Core = $core;
                match self {
                    $($name::$variant => Core::$variant,)+
                }
            }

            /// How the C header declares this enum.
            pub const C_ENUM: $crate::codes::CEnum = c_enum!(@describe
                concat!("Itc", stringify!($name)), [$($c_doc)*], [$($none)?],
                $([$($variant_doc)*] $variant = $code),+
            );
        }

        impl From<$name> for $core {
            fn from(ours: $name) -> Self {
                ours.to_core()
            }
        }

        $(
            impl From<$core> for $name {
                // The same variant; the fallback only for a variant newer
                // than this build, which the shared list rules out.
                fn from(core: $core) -> Self {
                    $name::from_core(core).unwrap_or($name::$fallback)
                }
            }
        )?
    };
}

/// Callback for a home crate's reason list: only the C description, as the
/// constant `$const_name`.
macro_rules! c_enum {
    (
        $(#[doc = $c_doc:literal])*
        pub const $const_name:ident = $c_name:literal $(, none $none:literal)?;
        {
            $(
                $(#[doc = $variant_doc:literal])*
                $variant:ident = $code:literal => $message:literal
            ),+ $(,)?
        }
    ) => {
        $(#[doc = $c_doc])*
        pub const $const_name: $crate::codes::CEnum = c_enum!(@describe
            $c_name, [$($c_doc)*], [$($none)?],
            $([$($variant_doc)*] $variant = $code),+
        );
    };
    // The C description, shared with `ffi_enum!`.
    (@describe $c_name:expr, [$($c_doc:tt)*], [$($none:literal)?],
        $([$($variant_doc:tt)*] $variant:ident = $code:tt),+
    ) => {
        $crate::codes::CEnum {
            name: $c_name,
            doc: concat!($($c_doc, "\n"),*),
            none: c_enum!(@none $($none)?),
            constants: &[$($crate::codes::CConstant {
                name: stringify!($variant),
                code: $code,
                doc: concat!($($variant_doc, "\n"),*),
            }),+],
        }
    };
    (@none) => { None };
    (@none $none:literal) => { Some($none) };
}

itc_spv::deny_reasons!(ffi_enum! {
    /// Why the lamp refused a command: itc-spv's `DenyReason`, with the same
    /// stable codes (the enum's values in Python, Kotlin and Swift).
    pub enum DenyReason = itc_spv::DenyReason, code u16, fallback NotGranted;
    c {
        /// Why the lamp refused a command (the `deny_reason` of
        /// `ItcLampVerdict`). The numbers are itc-spv's stable
        /// `DenyReason` codes.
    } none " Not denied."
});

itc_spv::update_refusals!(ffi_enum! {
    /// Why a device refuses an update: itc-spv's `UpdateRefusal`, with the
    /// same stable codes (the C ABI's `itc_last_error_reason()` after
    /// `ITC_STATUS_UPDATE_REFUSED`).
    pub enum UpdateRefusal = itc_spv::firmware::UpdateRefusal, code u32;
    c {
        /// Why a device refuses an update: the code `itc_last_error_reason()`
        /// gives after `ITC_STATUS_UPDATE_REFUSED`. The numbers are itc-spv's
        /// stable `UpdateRefusal` codes.
    }
});

itc_core::seal_refusals!(ffi_enum! {
    /// Why a payload could not be sealed or opened: itc-core's
    /// `SealRefusal`, with the same stable codes (the C ABI's
    /// `itc_last_error_reason()` after `ITC_STATUS_SEAL_REFUSED`).
    pub enum SealRefusal = itc_core::seal::SealRefusal, code u32;
    c {
        /// Why a payload could not be sealed or opened: the code
        /// `itc_last_error_reason()` gives after `ITC_STATUS_SEAL_REFUSED`.
        /// The numbers are itc-core's stable `SealRefusal` codes.
    }
});

itc_spv::invalid_reasons!(c_enum! {
    /// Why a header update is invalid (the `invalid_reason` of
    /// `ItcUpdateVerdict`). The numbers are itc-spv's stable
    /// `InvalidReason` codes.
    pub const INVALID_REASON = "ItcInvalidReason", none " Not invalid.";
});

itc_spv::bootstrap_errors!(c_enum! {
    /// Why a bootstrap was refused: the code `itc_last_error_reason()` gives
    /// after `ITC_STATUS_BOOTSTRAP_REJECTED`. The numbers are itc-spv's
    /// stable `BootstrapError` codes.
    pub const BOOTSTRAP_ERROR = "ItcBootstrapError", none " Not a bootstrap refusal.";
});

/// Every reason enum of the C header, in header order.
pub const C_ENUMS: [CEnum; 5] = [
    INVALID_REASON,
    BOOTSTRAP_ERROR,
    DenyReason::C_ENUM,
    SealRefusal::C_ENUM,
    UpdateRefusal::C_ENUM,
];

/// The C declarations of every reason enum ([`C_ENUMS`]), for the header
/// (cbindgen cannot see enums made by macros; the header test appends these
/// to the verbatim part of its configuration).
pub fn c_declarations() -> String {
    C_ENUMS
        .iter()
        .map(CEnum::declaration)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_ffi_enums_agree() {
        for (ours, core) in DenyReason::ALL.iter().zip(itc_spv::DenyReason::ALL) {
            assert_eq!((ours.code(), ours.to_core()), (core.code(), core));
            assert_eq!(DenyReason::from(core), *ours);
        }
        assert_eq!(DenyReason::ALL.len(), itc_spv::DenyReason::ALL.len());
        for (ours, core) in UpdateRefusal::ALL
            .iter()
            .zip(itc_spv::firmware::UpdateRefusal::ALL)
        {
            assert_eq!(ours.code(), u32::from(core.code()));
            assert_eq!(UpdateRefusal::from_core(core), Some(*ours));
        }
        for (ours, core) in SealRefusal::ALL
            .iter()
            .zip(itc_core::seal::SealRefusal::ALL)
        {
            assert_eq!(ours.code(), u32::from(core.code()));
            assert_eq!(SealRefusal::from_core(core), Some(*ours));
        }
    }

    #[test]
    fn c_names_are_screaming_snake_case() {
        assert_eq!(
            DenyReason::C_ENUM.constant_name("WrongChain"),
            "ITC_DENY_REASON_WRONG_CHAIN"
        );
        assert_eq!(
            SealRefusal::C_ENUM.constant_name("NotARecipient"),
            "ITC_SEAL_REFUSAL_NOT_A_RECIPIENT"
        );
    }
}
