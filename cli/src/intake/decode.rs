//! Turns the bytes of a CSV file into text, whatever Windows wrote them as: Get-WindowsAutopilotInfo
//! under Windows PowerShell 5.1 writes UTF-16LE with a BOM, PowerShell 7 writes UTF-8 without one,
//! and the portal's own template is ANSI (Windows-1252) (graph-behaviour §14).
//!
//! Not for: CSV structure; `autopilot.rs` and `hr.rs` read the text.

use encoding_rs::{UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// The encoding a file turned out to be in, reported to the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEncoding {
    /// Valid UTF-8 without a BOM (what PowerShell 7 writes).
    Utf8,
    /// UTF-8 with a BOM.
    Utf8Bom,
    /// UTF-16LE with a BOM (what Windows PowerShell 5.1's `Out-File` writes, graph-behaviour §14).
    Utf16LeBom,
    /// UTF-16BE with a BOM.
    Utf16BeBom,
    /// Not valid UTF-8 and no BOM: read as Windows-1252, what "ANSI" means on a Western Windows.
    Windows1252,
}

impl SourceEncoding {
    /// The name reports and `--output json` carry: stable, and what an admin would call it.
    pub fn name(self) -> &'static str {
        match self {
            SourceEncoding::Utf8 => "utf-8",
            SourceEncoding::Utf8Bom => "utf-8 with BOM",
            SourceEncoding::Utf16LeBom => "utf-16le with BOM",
            SourceEncoding::Utf16BeBom => "utf-16be with BOM",
            SourceEncoding::Windows1252 => "windows-1252 (ANSI)",
        }
    }
}

/// The file's bytes cannot be turned into text; nothing in it is read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes after the BOM are not valid in the encoding it names (whose name this holds),
    /// e.g. a UTF-16 file cut in the middle of a code unit.
    #[error("the file is {0} with invalid byte sequences; save it again as UTF-8 or UTF-16")]
    Malformed(&'static str),
}

/// Decodes a whole file. A BOM decides; without one, valid UTF-8 is UTF-8 and anything else is
/// Windows-1252 (which maps every byte, so ANSI files always decode).
pub fn decode_text(bytes: &[u8]) -> Result<(String, SourceEncoding), DecodeError> {
    let (encoding, found, bom_len) = match encoding_rs::Encoding::for_bom(bytes) {
        Some((enc, len)) if enc == UTF_16LE => (enc, SourceEncoding::Utf16LeBom, len),
        Some((enc, len)) if enc == UTF_16BE => (enc, SourceEncoding::Utf16BeBom, len),
        Some((enc, len)) => (enc, SourceEncoding::Utf8Bom, len),
        None if std::str::from_utf8(bytes).is_ok() => (UTF_8, SourceEncoding::Utf8, 0),
        None => (WINDOWS_1252, SourceEncoding::Windows1252, 0),
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
    if had_errors {
        return Err(DecodeError::Malformed(encoding.name()));
    }
    Ok((text.into_owned(), found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_with_bom(s: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        for unit in s.encode_utf16() {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out
    }

    #[test]
    fn utf16le_with_bom_as_windows_powershell_writes_it() {
        let (text, enc) =
            decode_text(&utf16le_with_bom("Device Serial Number\r\nPF1\r\n")).unwrap();
        assert_eq!(enc, SourceEncoding::Utf16LeBom);
        assert_eq!(text, "Device Serial Number\r\nPF1\r\n");
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let (text, enc) = decode_text(b"\xEF\xBB\xBFa,b").unwrap();
        assert_eq!((text.as_str(), enc), ("a,b", SourceEncoding::Utf8Bom));
        let (text, enc) = decode_text("Zoë,b".as_bytes()).unwrap();
        assert_eq!((text.as_str(), enc), ("Zoë,b", SourceEncoding::Utf8));
    }

    #[test]
    fn ansi_bytes_fall_back_to_windows_1252() {
        // 0xEB is ë in Windows-1252 and invalid on its own in UTF-8.
        let (text, enc) = decode_text(b"Zo\xEB,b").unwrap();
        assert_eq!((text.as_str(), enc), ("Zoë,b", SourceEncoding::Windows1252));
    }

    #[test]
    fn truncated_utf16_is_reported_not_guessed() {
        let mut bytes = utf16le_with_bom("ab");
        bytes.push(0x41); // half a code unit
        assert!(decode_text(&bytes).is_err());
    }
}
