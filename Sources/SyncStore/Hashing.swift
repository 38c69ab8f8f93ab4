import Crypto

/// The state hash and token hashes use swift-crypto's SHA-256; these add what they feed it.
extension SHA256 {
    public mutating func update(_ string: String) { update(data: Array(string.utf8)) }
    public mutating func update(_ bytes: [UInt8]) { update(data: bytes) }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits a byte.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for b in self { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0x0f)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
