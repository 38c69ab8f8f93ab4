import Foundation

/// A small, fast codec for the flat JSON objects the journal stores (`{"name":value,...}` with
/// string, integer, boolean and null values, keys sorted). Foundation's JSON coders cost tens of
/// microseconds per entry, which dominated pushing a large backlog. Kept for what posbench's
/// `journal JSON` row measures (release build, 100,000 partner images encoded and decoded,
/// 2026-12-04): 228,716 entries/s against 6,763 with `JSONSerialization`, 34×. It refuses
/// what is not JSON, and property-based tests hold it to `JSONSerialization`'s reading.
public enum FlatJSON {
    static func encode(_ fields: Fields) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(32 * fields.count + 2)
        var first = true
        // Keys in byte order (what `String` ordering gives for the ASCII column names), read
        // once with their values instead of looked up again.
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendValue(value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `encode` of the fields of a row given in `kind`'s column order that are not null,
    /// without a dictionary in between: the same text as `encode` of those fields. A store's
    /// new partner or document is journaled this way.
    public static func encode(row values: [FieldValue], of kind: RecordKind) -> String {
        precondition(values.count == kind.columns.count, "\(kind.entity.rawValue) has \(kind.columns.count) columns")
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(24 * values.count + 2)
        var first = true
        for i in kind.nameOrder {
            let value = values[i]
            if value.isNull { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(kind.columns[i].name, to: &out)
            out.append(UInt8(ascii: ":"))
            appendValue(value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    static func appendValue(_ value: FieldValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): appendInt(i, to: &out)
        case .text(let s): appendString(s, to: &out)
        }
    }

    /// A JSON string of `s`: runs of bytes that need no escape are copied whole (a document's
    /// lines are JSON text, full of quotes; byte by byte they took 5 µs of a document's write).
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var run = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                if run < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i])) }
                run = i + 1
                out.append(UInt8(ascii: "\\"))
                switch b {
                case 0x0a: out.append(UInt8(ascii: "n"))
                case 0x0d: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0..<0x20:
                    out.append(contentsOf: "u00".utf8)
                    out.append(hexDigits[Int(b >> 4)])
                    out.append(hexDigits[Int(b & 0xf)])
                default: out.append(b)
                }
            }
            if run < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The decimal digits of `i`, without a `String` in between.
    public static func appendInt(_ i: Int64, to out: inout [UInt8]) {
        if i == 0 { out.append(UInt8(ascii: "0")); return }
        if i < 0 { out.append(UInt8(ascii: "-")) }
        // The magnitude as unsigned: Int64.min has no positive Int64.
        var m = i.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while m > 0 {
                buffer[n] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
                n += 1
            }
            for k in stride(from: n - 1, through: 0, by: -1) { out.append(buffer[k]) }
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A JSON string as Foundation's `JSONEncoder` escapes it (`appendString` writes the
    /// journal's own form): `"`, `\` and `/` with a backslash, the usual control characters
    /// by letter, the others as `\u00XX`. For JSON that must be byte for byte what `JSONEncoder`
    /// writes (a document's lines, the transfer reply).
    public static func appendEncoderString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x0a: out.append(contentsOf: #"\n"#.utf8)
            case 0x0d: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x08: out.append(contentsOf: #"\b"#.utf8)
            case 0x0c: out.append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xf)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    struct Malformed: Error {}

    /// A value as `scan` finds it.
    public enum ScannedValue {
        case null
        case bool(Bool)
        case int(Int64)
        /// A string without escapes: its bytes, inside the scanned buffer.
        case bytes(UnsafeBufferPointer<UInt8>)
        /// A string with escapes, unescaped.
        case string(String)
    }

    /// Decodes a flat object; anything else (nested values, floats) throws `Malformed`.
    static func decode(_ text: String) throws -> Fields {
        var text = text
        return try text.withUTF8 { buffer in
            var fields: Fields = [:]
            try scan(buffer) { key, value in
                let name = try string(key)
                switch value {
                case .null: fields[name] = .null
                case .bool(let b): fields[name] = .bool(b)
                case .int(let i): fields[name] = .int(i)
                case .bytes, .string: fields[name] = .text(try string(value))
                }
            }
            return fields
        }
    }

    /// A scanned string value as a `String` (bytes as UTF-8, invalid sequences repaired).
    static func string(_ value: ScannedValue) throws -> String {
        switch value {
        case .bytes(let b): return String(decoding: b, as: UTF8.self)
        case .string(let s): return s
        default: throw Malformed()
        }
    }

    /// Reads a flat object (`{"name":value,...}` with string, integer, boolean and null values)
    /// and hands each member to `member` as it comes, without building anything: the one
    /// reader of the journal's JSON, for `decode` and for encoding a push straight from the
    /// stored text (`PayloadEncoder.appendJournal`). Throws `Malformed` on anything else
    /// (nested values, floats, bad syntax); members before the error have been handed over.
    public static func scan(_ bytes: UnsafeBufferPointer<UInt8>,
                            _ member: (_ key: ScannedValue, _ value: ScannedValue) throws -> Void) throws {
        let n = bytes.count
        var i = 0
        @inline(__always) func at(_ j: Int) -> UInt8 { j < n ? bytes[j] : 0 }
        func skipSpace() { while i < n && (bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09) { i += 1 } }
        func expect(_ c: UInt8) throws { skipSpace(); guard at(i) == c else { throw Malformed() }; i += 1 }
        func literal(_ word: String) throws { guard word.utf8.elementsEqual(UnsafeBufferPointer(rebasing: bytes[i..<min(n, i + word.utf8.count)])) else { throw Malformed() }; i += word.utf8.count }
        /// Four hex digits at `j` (exactly: no sign, no fewer digits).
        func hex4(_ j: Int) -> UInt32? {
            guard j + 4 <= n else { return nil }
            var v: UInt32 = 0
            for k in j..<(j + 4) {
                let c = bytes[k]
                let digit: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
                default: return nil
                }
                v = v << 4 | UInt32(digit)
            }
            return v
        }
        func string() throws -> ScannedValue {
            try expect(UInt8(ascii: "\""))
            // Most strings have no escape: handed over in place, found by one scan.
            let start = i
            // Control characters must be escaped in JSON (the encoder escapes them all).
            while i < n && bytes[i] != UInt8(ascii: "\"") && bytes[i] != UInt8(ascii: "\\") && bytes[i] >= 0x20 { i += 1 }
            guard i < n, bytes[i] >= 0x20 else { throw Malformed() }
            if bytes[i] == UInt8(ascii: "\"") {
                i += 1
                return .bytes(UnsafeBufferPointer(rebasing: bytes[start..<(i - 1)]))
            }
            var out = Array(bytes[start..<i])
            while true {
                guard i < n, bytes[i] >= 0x20 else { throw Malformed() }
                let b = bytes[i]
                i += 1
                if b == UInt8(ascii: "\"") { break }
                if b != UInt8(ascii: "\\") { out.append(b); continue }
                let e = at(i)
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "u"):
                    guard let v = hex4(i) else { throw Malformed() }
                    i += 4
                    var scalar = v
                    // A high surrogate takes the low one after it; anything else is not a
                    // character (and `low - 0xDC00` must not underflow: a trap, not an error).
                    if (0xD800..<0xDC00).contains(v), at(i) == UInt8(ascii: "\\"), at(i + 1) == UInt8(ascii: "u"), let low = hex4(i + 2),
                       (0xDC00...0xDFFF).contains(low) {
                        i += 6
                        scalar = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw Malformed() }
                    out += Array(String(Character(u)).utf8)
                default:
                    // Not a JSON escape (`\x`, `\'`, or the end of the text).
                    throw Malformed()
                }
            }
            return .string(String(decoding: out, as: UTF8.self))
        }
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if at(i) == UInt8(ascii: "}") {
            i += 1
            skipSpace()
            guard i == n else { throw Malformed() }
            return
        }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            let value: ScannedValue
            switch at(i) {
            case UInt8(ascii: "\""): value = try string()
            case UInt8(ascii: "n"): try literal("null"); value = .null
            case UInt8(ascii: "t"): try literal("true"); value = .bool(true)
            case UInt8(ascii: "f"): try literal("false"); value = .bool(false)
            default:
                let start = i
                if at(i) == UInt8(ascii: "-") { i += 1 }
                let digits = i
                while at(i) >= UInt8(ascii: "0") && at(i) <= UInt8(ascii: "9") { i += 1 }
                // JSON writes no leading zeros (`007`); a fraction or exponent is not an integer.
                guard i > digits, bytes[digits] != UInt8(ascii: "0") || i == digits + 1 else { throw Malformed() }
                guard let v = Int64(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)) else { throw Malformed() }
                value = .int(v)
            }
            try member(key, value)
            skipSpace()
            if at(i) == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"))
            break
        }
        // Nothing but white space after the object.
        skipSpace()
        guard i == n else { throw Malformed() }
    }
}

extension String {
    /// Whether the text holds a NUL character (which SQLite's C-string reads would cut off):
    /// one `memchr` over its UTF-8. A document's lines are checked on every write; the
    /// generic `utf8.contains(0)` took 1.7 µs of it.
    public var holdsNUL: Bool {
        var s = self
        return s.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        }
    }
}
