//! base64url as JOSE writes it, the two ways to write it wrongly that a lenient decoder accepts,
//! and hex for test vectors.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Canonical base64url (no padding), as JOSE requires.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes canonical base64url; panics on bad test input.
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .expect("test input is canonical base64url")
}

/// A segment re-encoded with `=` padding (panics if the segment needs none: pick another input).
pub fn padded(segment: &str) -> String {
    let pad = (4 - segment.len() % 4) % 4;
    assert!(
        pad > 0,
        "segment {segment:?} needs no padding; choose an input whose length is not a multiple of 3"
    );
    format!("{segment}{}", "=".repeat(pad))
}

/// The same segment with a non-zero bit in the unused low bits of its last character, which
/// decodes to the same bytes under a lenient decoder (panics if the segment has no spare bits).
pub fn with_stray_bits(segment: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let spare_mask = match segment.len() % 4 {
        2 => 0b1111,
        3 => 0b11,
        _ => panic!("segment {segment:?} has no spare bits; choose another input length"),
    };
    let last = *segment.as_bytes().last().unwrap();
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(value & spare_mask, 0, "canonical input has zero spare bits");
    let altered = ALPHABET[value | 1] as char;
    format!("{}{altered}", &segment[..segment.len() - 1])
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case or upper-case hex, even length; panics on anything else (test input is trusted).
pub fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(unhex("00AB7f"), [0x00, 0xab, 0x7f]);
    }

    #[test]
    fn the_lenient_spellings_decode_to_the_same_bytes_elsewhere() {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        let lenient = GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        let segment = b64("ab");
        assert_eq!(lenient.decode(padded(&segment)).unwrap(), b"ab");
        assert_eq!(lenient.decode(with_stray_bits(&segment)).unwrap(), b"ab");
        assert_ne!(with_stray_bits(&segment), segment);
    }
}
