import Foundation

/// Which hard limit a batch ran into.
public enum BatchLimitKind: String, Sendable, Equatable, CustomStringConvertible {
    case compressedBytes = "compressed size"
    case uncompressedBytes = "uncompressed size"
    case entries = "entry count"

    public var description: String { rawValue }
}

/// Which end of the batch's sequence range disagrees with its entries.
public enum SequenceBound: String, Sendable, Equatable {
    case first
    case last
}

/// Why a batch was refused (decoding) or could not be built (encoding).
///
/// Decoding is all-or-nothing: any of these means no change of the batch was returned.
/// `description` is a sentence meant for operators and logs.
public enum BatchError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    // MARK: header checks (in the order they are made)

    /// The first bytes are not the magic "POSB". `found` holds up to the first 4 bytes.
    case badMagic(found: [UInt8])
    /// The input ends inside the header.
    case truncatedHeader(needed: Int, available: Int)
    /// The header's format version is not one this build reads.
    case unsupportedVersion(found: UInt16, supported: UInt16)
    /// The header's own CRC32 does not match its bytes.
    case headerChecksumMismatch(stored: UInt32, computed: UInt32)
    /// Flags bits are set that this version does not define.
    case unsupportedFlags(UInt16)
    /// A header field is inconsistent (node id length, padding, UTF-8, empty-batch rules).
    case invalidHeader(reason: String)
    /// The header declares a size or count over the receiver's limit.
    case limitExceeded(BatchLimitKind, found: Int, limit: Int)
    /// The header's compressed length differs from the bytes actually following the header.
    case bodyLengthMismatch(header: UInt32, actual: Int)

    // MARK: body checks

    /// The body inflates past `cap` = min(declared uncompressed length, limit); inflation stopped there.
    case inflatedSizeExceeded(cap: Int, declared: UInt32, limit: Int)
    /// The body is not a valid zlib stream.
    case inflateFailed(reason: String)
    /// The body inflated to fewer bytes than the header declares.
    case uncompressedLengthMismatch(header: UInt32, actual: Int)
    /// CRC32 of the inflated payload differs from the header's.
    case payloadChecksumMismatch(header: UInt32, computed: UInt32)
    /// An entry cannot be decoded (truncated, unknown entity/op/type byte, bad UTF-8...).
    case malformedEntry(index: Int, offset: Int, reason: String)
    /// The payload holds a different number of entries than the header declares.
    case entryCountMismatch(header: UInt32, found: Int)
    /// Bytes that do not form entries follow the declared entries.
    case trailingPayload(entries: Int, bytes: Int)
    /// The header's first/last sequence differs from the first/last entry's.
    case sequenceMismatch(SequenceBound, header: Int64, found: Int64)

    // MARK: encoding

    /// The node id is longer than the header's node field allows.
    case nodeIdTooLong(bytes: Int, limit: Int)
    /// More entries than the 32-bit count field can hold.
    case tooManyEntries(Int)
    /// The payload is larger than the 32-bit length field can hold.
    case payloadTooLarge(bytes: Int)
    /// zlib refused to compress.
    case compressionFailed(reason: String)

    public var description: String {
        switch self {
        case .badMagic(let found):
            return "batch refused: bad magic \(hex(found)) (expected \"POSB\" 0x504f5342); not a sync batch, nothing applied"
        case .truncatedHeader(let needed, let available):
            return "batch refused: truncated header (\(needed) bytes needed, \(available) present); nothing applied"
        case .unsupportedVersion(let found, let supported):
            return "batch refused: format version \(found) is not supported (this build reads versions \(BatchFormat.readableVersions.lowerBound) to \(supported)); nothing applied"
        case .headerChecksumMismatch(let stored, let computed):
            return "batch refused: header CRC32 mismatch (stored \(hex32(stored)), computed \(hex32(computed))); header damaged, nothing applied"
        case .unsupportedFlags(let flags):
            return "batch refused: unknown header flags 0x\(String(format: "%04x", flags)) (no version defines any); nothing applied"
        case .invalidHeader(let reason):
            return "batch refused: invalid header (\(reason)); nothing applied"
        case .limitExceeded(let kind, let found, let limit):
            if kind == .entries {
                return "batch refused: \(found) entries exceed the limit of \(limit) entries; nothing applied"
            }
            return "batch refused: \(kind) \(found) bytes exceeds the limit of \(limit) bytes; nothing applied"
        case .bodyLengthMismatch(let header, let actual):
            if actual < Int(header) {
                return "batch refused: truncated body (header declares \(header) compressed bytes, \(actual) present); nothing applied"
            }
            return "batch refused: \(actual - Int(header)) unexpected bytes after the body (header declares \(header) compressed bytes, \(actual) present); nothing applied"
        case .inflatedSizeExceeded(let cap, let declared, let limit):
            return "batch refused: body inflates past \(cap) bytes (header declares \(declared), limit \(limit)); decompression stopped at the cap (possible decompression bomb), nothing applied"
        case .inflateFailed(let reason):
            return "batch refused: body does not inflate (\(reason)); nothing applied"
        case .uncompressedLengthMismatch(let header, let actual):
            return "batch refused: body inflates to \(actual) bytes but the header declares \(header); nothing applied"
        case .payloadChecksumMismatch(let header, let computed):
            return "batch refused: CRC32 mismatch (header \(hex32(header)), payload \(hex32(computed))); nothing applied"
        case .malformedEntry(let index, let offset, let reason):
            return "batch refused: entry #\(index) is malformed at payload offset \(offset) (\(reason)); nothing applied"
        case .entryCountMismatch(let header, let found):
            return "batch refused: header declares \(header) entries, payload holds \(found); nothing applied"
        case .trailingPayload(let entries, let bytes):
            return "batch refused: \(bytes) undecodable payload bytes follow the \(entries) declared entries; nothing applied"
        case .sequenceMismatch(let bound, let header, let found):
            return "batch refused: header \(bound.rawValue) sequence is \(header) but the \(bound.rawValue) entry has sequence \(found); nothing applied"
        case .nodeIdTooLong(let bytes, let limit):
            return "batch not built: node id is \(bytes) bytes of UTF-8, the limit is \(limit)"
        case .tooManyEntries(let n):
            return "batch not built: \(n) entries do not fit the 32-bit entry count"
        case .payloadTooLarge(let bytes):
            return "batch not built: payload of \(bytes) bytes does not fit the 32-bit length field"
        case .compressionFailed(let reason):
            return "batch not built: compression failed (\(reason))"
        }
    }

    public var errorDescription: String? { description }
}

private func hex32(_ v: UInt32) -> String { "0x" + String(format: "%08x", v) }
private func hex(_ bytes: [UInt8]) -> String {
    bytes.isEmpty ? "(empty)" : "0x" + bytes.map { String(format: "%02x", $0) }.joined()
}
