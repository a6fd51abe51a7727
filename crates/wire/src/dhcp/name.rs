//! Domain and host names: checks (RFC 1035 2.3.4, RFC 1123 2.1) and the option 119 form
//! (RFC 3397).

use core::fmt;

/// Why a domain name cannot be encoded (RFC 1035 section 2.3.4: labels of 1 to 63
/// octets, names of at most 255 octets; RFC 1123 section 2.1 host name syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty, or an empty label (`a..b`, a leading dot).
    EmptyLabel,
    /// A label longer than 63 octets.
    LabelTooLong,
    /// The name is longer than 253 characters (255 octets encoded).
    NameTooLong,
    /// A character other than letters, digits, `-` and `_`, or a label starting or
    /// ending with `-`.
    BadCharacter,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::EmptyLabel => "it has an empty label (RFC 1035 2.3.4)",
            NameError::LabelTooLong => "a label is longer than 63 characters (RFC 1035 2.3.4)",
            NameError::NameTooLong => "it is longer than 253 characters (RFC 1035 2.3.4)",
            NameError::BadCharacter => {
                "only letters, digits, '-' and '_' are allowed, and no label may start or end \
                 with '-' (RFC 1123 2.1)"
            }
        })
    }
}

impl std::error::Error for NameError {}

/// Check a domain or host name: dot-separated labels (one trailing dot allowed) as
/// [`NameError`] describes.
pub fn check_name(name: &str) -> core::result::Result<(), NameError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > 253 {
        return Err(NameError::NameTooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameError::LabelTooLong);
        }
        let ok = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok || label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::BadCharacter);
        }
    }
    Ok(())
}

/// Append `names` to `out` in the form of option 119 (RFC 3397 section 2: "the list
/// of domain names ... encoded as specified in section 3.1 of RFC 1035"), each name as
/// length-prefixed labels ending in a zero octet, without compression (allowed: "a
/// server MAY use compression"). Configuration time only: it allocates.
pub fn encode_domain_search<S: AsRef<str>>(
    names: &[S],
    out: &mut Vec<u8>,
) -> core::result::Result<(), NameError> {
    for name in names {
        let name = name.as_ref();
        check_name(name)?;
        for label in name.strip_suffix('.').unwrap_or(name).split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }
    Ok(())
}
