import Foundation

/// A small, fast codec for the flat JSON objects the journal stores (`{"name":value,...}` with
/// string, integer, boolean and null values, keys sorted). Foundation's JSON coders cost tens of
/// microseconds per entry, which dominated pushing a large backlog.
enum FlatJSON {
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
            switch value {
            case .null: out.append(contentsOf: "null".utf8)
            case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
            case .int(let i): out.append(contentsOf: String(i).utf8)
            case .text(let s): appendString(s, to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most values need no escape: copy them whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: s.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
            case 0x0a: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0d: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xf)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    struct Malformed: Error {}

    /// Decodes a flat object; anything else (nested values, floats) throws `Malformed`.
    static func decode(_ text: String) throws -> Fields {
        var bytes = Array(text.utf8)
        bytes.append(0)
        var i = 0
        func skipSpace() { while bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 } }
        func expect(_ c: UInt8) throws { skipSpace(); guard bytes[i] == c else { throw Malformed() }; i += 1 }
        func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            // Most strings have no escape: one copy of their bytes, found by one scan.
            let start = i
            while bytes[i] != UInt8(ascii: "\"") && bytes[i] != UInt8(ascii: "\\") && bytes[i] != 0 { i += 1 }
            if bytes[i] == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: bytes[start..<(i - 1)], as: UTF8.self)
            }
            var out = Array(bytes[start..<i])
            while true {
                let b = bytes[i]
                if b == 0 { throw Malformed() }
                i += 1
                if b == UInt8(ascii: "\"") { break }
                if b != UInt8(ascii: "\\") { out.append(b); continue }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count - 1, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else { throw Malformed() }
                    i += 4
                    var scalar = v
                    if (0xD800..<0xDC00).contains(v), bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                       let low = UInt32(String(decoding: bytes[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16) {
                        i += 6
                        scalar = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw Malformed() }
                    out += Array(String(Character(u)).utf8)
                default: out.append(e)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
        var fields: Fields = [:]
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if bytes[i] == UInt8(ascii: "}") { return fields }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            switch bytes[i] {
            case UInt8(ascii: "\""): fields[key] = .text(try string())
            case UInt8(ascii: "n"): guard bytes[i..<(i + 4)].elementsEqual("null".utf8) else { throw Malformed() }; i += 4; fields[key] = .null
            case UInt8(ascii: "t"): guard bytes[i..<(i + 4)].elementsEqual("true".utf8) else { throw Malformed() }; i += 4; fields[key] = .bool(true)
            case UInt8(ascii: "f"): guard bytes[i..<(i + 5)].elementsEqual("false".utf8) else { throw Malformed() }; i += 5; fields[key] = .bool(false)
            default:
                let start = i
                if bytes[i] == UInt8(ascii: "-") { i += 1 }
                while bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") { i += 1 }
                guard let v = Int64(String(decoding: bytes[start..<i], as: UTF8.self)) else { throw Malformed() }
                fields[key] = .int(v)
            }
            skipSpace()
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"))
            return fields
        }
    }
}
