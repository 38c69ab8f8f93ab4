import Foundation
import SyncModel

/// Reads the body of `POST /v1/external/customers`, a JSON array of transfer items, and writes
/// its reply.
///
/// Foundation's `JSONDecoder` took 10 % of the hub's time in the back-office transfer row
/// (perf with DWARF call graphs of `poshub serve`, 100,000 customers in batches of 1,000),
/// about 8 µs per item of ten string fields. The usual item is a flat object of strings, so
/// such an item is read with the journal's scanner (`FlatJSON.scan`); every other element (an
/// item with an invoice or an order, a number where a string belongs, a repeated name, not an
/// object at all) is read by `JSONDecoder` on its own bytes, so its result and its error
/// (the field named) are exactly what decoding the whole array gives. A body that is not
/// valid UTF-8 or not an array of JSON values goes to `JSONDecoder` whole.
enum TransferDecoding {
    struct NotAnArray: Error {}
    /// An element the flat reading leaves to `JSONDecoder`.
    struct NotFlat: Error {}

    /// The items of `body`, each a transfer item or the error naming its field; throws
    /// `NotAnArray` for a body that is not a JSON array.
    static func items(_ body: UnsafeRawBufferPointer) throws -> [LenientItem<TransferItem>] {
        let bytes = body.bindMemory(to: UInt8.self)
        guard String(validating: bytes, as: UTF8.self) != nil, let ranges = elements(bytes) else { return try whole(body) }
        var items: [LenientItem<TransferItem>] = []
        items.reserveCapacity(ranges.count)
        for (n, r) in ranges.enumerated() {
            let element = UnsafeBufferPointer(rebasing: bytes[r])
            if let item = flat(element) {
                items.append(LenientItem(item))
            } else {
                // An element that is not valid JSON (a lone surrogate `\ud800`, a number too
                // large for any type) refuses that item only, naming it.
                do { items.append(try JSONDecoder().decode(LenientItem<TransferItem>.self, from: Data(buffer: element))) } catch {
                    items.append(LenientItem(failure: TransferError(field: "item", message: "item \(n + 1) is not a valid JSON object (\(Self.reason(error)))")))
                }
            }
        }
        return items
    }

    /// What was wrong with an element, without echoing its text.
    static func reason(_ error: Error) -> String {
        guard case DecodingError.dataCorrupted(let c) = error else { return "unreadable" }
        let text = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? c.debugDescription
        return text.isEmpty ? "unreadable" : String(text.prefix(120))
    }

    static func whole(_ body: UnsafeRawBufferPointer) throws -> [LenientItem<TransferItem>] {
        do { return try JSONDecoder().decode([LenientItem<TransferItem>].self, from: Data(body)) } catch { throw NotAnArray() }
    }

    /// The item of a flat object whose known members are strings or null, each once; nil for
    /// anything else (`JSONDecoder` then reads the element).
    static func flat(_ element: UnsafeBufferPointer<UInt8>) -> TransferItem? {
        guard element.first == UInt8(ascii: "{") else { return nil }
        var item = TransferItem(externalCustomerID: nil, externalAddressID: nil, trigger: nil, firstName: nil, lastName: nil)
        var seen: UInt16 = 0
        do {
            try FlatJSON.scan(element) { key, value in
                guard case .bytes(let name) = key, let member = Member(name) else {
                    // A name with escapes or one the item does not have: its value is ignored,
                    // as `JSONDecoder` ignores it, unless that value is one of ours in disguise.
                    if case .string(let s) = key, Member(s) != nil { throw NotFlat() }
                    return
                }
                guard seen & member.bit == 0 else { throw NotFlat() }
                seen |= member.bit
                let text: String?
                switch value {
                case .null: text = nil
                case .bytes(let b): text = String(decoding: b, as: UTF8.self)
                case .string(let s): text = s
                case .bool, .int:
                    throw NotFlat()
                }
                guard member.set(&item, text) else { throw NotFlat() }
            }
        } catch {
            return nil
        }
        return item
    }

    /// A member of a transfer item by its JSON name.
    struct Member {
        let index: Int
        var bit: UInt16 { 1 << UInt16(index) }
        /// The string members, then the two documents (`invoice`, `order`).
        static let names = ([.externalCustomerID, .externalAddressID, .trigger, .firstName, .lastName, .institution, .street, .city, .country,
                             .postalCode, .debtorNumber, .email, .phone, .invoice, .order] as [TransferItem.CodingKeys]).map(\.stringValue)
        static let strings: [WritableKeyPath<TransferItem, String?> & Sendable] = [
            \.externalCustomerID, \.externalAddressID, \.trigger, \.firstName, \.lastName, \.institution, \.street,
            \.city, \.country, \.postalCode, \.debtorNumber, \.email, \.phone,
        ]
        static let utf8 = names.map { Array($0.utf8) }

        init?(_ name: UnsafeBufferPointer<UInt8>) {
            guard let i = Self.utf8.firstIndex(where: { $0.elementsEqual(name) }) else { return nil }
            index = i
        }

        init?(_ name: String) {
            guard let i = Self.names.firstIndex(of: name) else { return nil }
            index = i
        }

        /// Sets the member; false for `invoice` and `order` with a value (objects, read by `JSONDecoder`).
        func set(_ item: inout TransferItem, _ text: String?) -> Bool {
            guard index < Self.strings.count else { return text == nil }
            item[keyPath: Self.strings[index]] = text
            return true
        }
    }

    /// The byte ranges of the elements of a JSON array (white space around them left out), or
    /// nil when `bytes` is not an array of values separated by commas. Each element is checked
    /// by whoever reads it; here only strings, brackets and commas are followed.
    static func elements(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>]? {
        let n = bytes.count
        var i = 0
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09 }
        func skipSpace() { while i < n && isSpace(bytes[i]) { i += 1 } }
        /// Past the string that starts at `i`; false if it does not end.
        func skipString() -> Bool {
            i += 1
            while i < n {
                switch bytes[i] {
                case UInt8(ascii: "\""): i += 1; return true
                case UInt8(ascii: "\\"): i += 2
                default: i += 1
                }
            }
            return false
        }
        /// Past the value that starts at `i`: a string, an object or array whose brackets
        /// match, or a scalar up to the next comma, bracket or white space.
        func skipValue() -> Bool {
            guard i < n else { return false }
            switch bytes[i] {
            case UInt8(ascii: "\""): return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var open: [UInt8] = []
                repeat {
                    guard i < n else { return false }
                    let b = bytes[i]
                    switch b {
                    case UInt8(ascii: "\""): guard skipString() else { return false }; continue
                    case UInt8(ascii: "{"): open.append(UInt8(ascii: "}"))
                    case UInt8(ascii: "["): open.append(UInt8(ascii: "]"))
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        guard open.last == b else { return false }
                        open.removeLast()
                    default: break
                    }
                    i += 1
                } while !open.isEmpty
                return true
            default:
                let start = i
                while i < n, !isSpace(bytes[i]), bytes[i] != UInt8(ascii: ","), bytes[i] != UInt8(ascii: "]"), bytes[i] != UInt8(ascii: "}") { i += 1 }
                return i > start
            }
        }

        skipSpace()
        guard i < n, bytes[i] == UInt8(ascii: "[") else { return nil }
        i += 1
        skipSpace()
        var ranges: [Range<Int>] = []
        if i < n && bytes[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            while true {
                skipSpace()
                let start = i
                guard skipValue(), i > start else { return nil }
                ranges.append(start..<i)
                skipSpace()
                guard i < n else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                guard bytes[i] == UInt8(ascii: "]") else { return nil }
                i += 1
                break
            }
        }
        skipSpace()
        return i == n ? ranges : nil
    }
}

extension TransferDecoding {
    /// The reply's JSON, `{"results":[...]}`, byte for byte what `JSONEncoder` with sorted keys
    /// writes (`TransferReplyTests` compares them). `JSONEncoder` took 3.9 % of the hub's
    /// time in the back-office transfer row.
    static func reply(_ results: [TransferResult]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + results.count * 80)
        out += Array(#"{"results":["#.utf8)
        for (n, r) in results.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            var first = true
            func key(_ k: String) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(UInt8(ascii: "\""))
                out += k.utf8
                out += Array("\":".utf8)
            }
            if let v = r.action { key("action"); FlatJSON.appendEncoderString(v, to: &out) }
            if let v = r.code { key("code"); FlatJSON.appendEncoderString(v, to: &out) }
            if let v = r.documents {
                key("documents")
                out.append(UInt8(ascii: "["))
                for (i, d) in v.enumerated() { if i > 0 { out.append(UInt8(ascii: ",")) }; FlatJSON.appendEncoderString(d, to: &out) }
                out.append(UInt8(ascii: "]"))
            }
            if let e = r.error {
                key("error")
                out.append(UInt8(ascii: "{"))
                if let code = e.code {
                    out += Array(#""code":"#.utf8)
                    FlatJSON.appendEncoderString(code, to: &out)
                    out.append(UInt8(ascii: ","))
                }
                out += Array(#""field":"#.utf8)
                FlatJSON.appendEncoderString(e.field, to: &out)
                out += Array(#","message":"#.utf8)
                FlatJSON.appendEncoderString(e.message, to: &out)
                out.append(UInt8(ascii: "}"))
            }
            if let v = r.externalAddressID { key("external_address_id"); FlatJSON.appendEncoderString(v, to: &out) }
            if let v = r.institution { key("institution"); FlatJSON.appendEncoderString(v, to: &out) }
            if let v = r.institutionCreated { key("institution_created"); out += Array((v ? "true" : "false").utf8) }
            out.append(UInt8(ascii: "}"))
        }
        out += Array("]}".utf8)
        return out
    }
}
