import Foundation
import SyncModel
import SyncWire

typealias SplitMix64 = SeededRandom

enum Fixtures {
    static let node = "S01"
    static let baseHLC = HLC(millis: 1_732_521_600_000, counter: 0)

    /// A small, varied set: unicode, negative and extreme ints, nulls, bools, unknown field
    /// names, entries from other nodes, empty keys and fields, non-monotonic seq and hlc.
    static func varied() -> [Change] {
        [
            Change(seq: 41, hlc: baseHLC, node: node, entity: .partner, key: "S01-000041", op: .insert, fields: [
                "code": .text("S01-000041"), "kind": .text("consumer"), "salutation": .text("Pani"),
                "first_name": .text("Zażółć"), "last_name": .text("Gęślą-Jaźń"), "name": .null,
                "birth_date": .text("1984-02-29"), "reverse_charge": .bool(false), "lowest_price": .bool(true),
                "deleted": .bool(false), "currency": .text("PLN"), "email": .text("zofia@example.pl"),
            ]),
            Change(seq: 42, hlc: HLC(millis: 1_732_521_600_000, counter: 1), node: node, entity: .address,
                   key: "S01-000041|WAW|0", op: .insert, fields: [
                "partner_code": .text("S01-000041"), "site": .text("WAW"), "seq": .int(0),
                "street": .text("ul. Świętokrzyska 12/3"), "city": .text("Warszawa"), "postal_code": .text("00-916"),
                "country": .text("PL"), "label": .null,
            ]),
            Change(seq: 43, hlc: HLC(millis: 1_732_521_601_234, counter: 0), node: node, entity: .document,
                   key: "S01-R000007", op: .insert, fields: [
                "id": .text("S01-R000007"), "kind": .text("receipt"), "amount_minor": .int(-12_345),
                "address_seq": .int(0), "currency": .text("EUR"), "status": .text("open"),
                "min": .int(Int64.min), "max": .int(Int64.max), "minus_one": .int(-1), "zero": .int(0),
            ]),
            // From another node (hub feed), unknown and odd field names, emoji, CJK, combining marks.
            Change(seq: 7, hlc: HLC(rawValue: 3), node: "KRK-02", entity: .partner, key: "客户-😀", op: .update, fields: [
                "loyalty_tier": .text("gold 🥇"), "名前": .text("山田 太郎"), "": .text("empty name"),
                "note": .text("e\u{301} vs é, 👩‍👩‍👧, \u{0}nul, tab\tnew\nline"), "flag": .bool(true), "gone": .null,
            ]),
            Change(seq: 8, hlc: HLC(rawValue: UInt64.max), node: "", entity: .move, key: "", op: .delete, fields: [:]),
            Change(seq: -5, hlc: .zero, node: "München-Ost", entity: .move, key: "move-1", op: .insert, fields: [
                "current_code": .text("S01-000041"), "current_seq": .int(41), "new_code": .null,
                "new_seq": .int(-9_223_372_036_854_775_807), "from_site": .text("WAW"), "reason": .text("Umzug nach München"),
            ]),
            Change(seq: Int64.max, hlc: HLC(rawValue: 1 << 63), node: node, entity: .address, key: "k", op: .delete, fields: [
                "partner_code": .text("S01-000041"), "site": .text("WAW"), "seq": .int(3),
            ]),
        ]
    }

    private static let firstNames = ["Anna", "Piotr", "Katarzyna", "Tomasz", "Małgorzata", "Jürgen", "Sabine", "Łukasz", "Agnieszka", "Michał", "Ewa", "Krzysztof"]
    private static let lastNames = ["Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamińska", "Müller", "Schmidt", "Lewandowski", "Zieliński", "Szymańska"]
    private static let companies = ["Budimex", "Hurtownia Kowalski", "Auto-Serwis Nowak", "Piekarnia Złoty Kłos", "Stahlbau Meier GmbH", "Zakład Usług Remontowych", "Apteka Pod Lipami"]
    private static let cities = [("Warszawa", "00-"), ("Kraków", "30-"), ("Wrocław", "50-"), ("Poznań", "60-"), ("Gdańsk", "80-"), ("Łódź", "90-")]
    private static let streets = ["ul. Marszałkowska", "ul. Długa", "al. Jerozolimskie", "ul. Piotrkowska", "ul. Floriańska", "ul. Świdnicka"]

    /// `count` realistic journal entries of one store node: partners, their addresses,
    /// documents, and partner updates, with gapless sequences and increasing HLCs.
    static func realistic(count: Int, node: String = "S01", seed: UInt64 = 2024) -> [Change] {
        var rng = SplitMix64(seed: seed)
        var changes: [Change] = []
        var partners: [String] = []
        var millis = baseHLC.millis
        var documentNumber = 0
        let iso = ISO8601DateFormatter()
        changes.reserveCapacity(count)
        for i in 0..<count {
            let seq = Int64(i + 1)
            millis += UInt64.random(in: 0...4_000, using: &rng)
            let hlc = HLC(millis: millis, counter: UInt16.random(in: 0...1, using: &rng))
            let roll = partners.isEmpty ? 0 : Int.random(in: 0..<10, using: &rng)
            switch roll {
            case 0, 1:
                let code = node + "-" + String(format: "%06d", partners.count + 1)
                partners.append(code)
                let business = Bool.random(using: &rng)
                let first = firstNames.randomElement(using: &rng)!
                let last = lastNames.randomElement(using: &rng)!
                let company = companies.randomElement(using: &rng)!
                let birth = String(format: "19%02d-%02d-%02d", Int.random(in: 40...99, using: &rng),
                                   Int.random(in: 1...12, using: &rng), Int.random(in: 1...28, using: &rng))
                let fields: Fields = [
                    "code": .text(code), "kind": .text(business ? "business" : "consumer"),
                    "salutation": business ? .null : .text(Bool.random(using: &rng) ? "Pan" : "Pani"),
                    "first_name": business ? .null : .text(first), "last_name": business ? .null : .text(last),
                    "name": business ? .text(company + " Sp. z o.o.") : .null,
                    "birth_date": business ? .null : .text(birth),
                    "vat_id": business ? .text("PL" + String(Int.random(in: 1_000_000_000...9_999_999_999, using: &rng))) : .null,
                    "issued_by": .null,
                    "phone": .text("+48 " + String(Int.random(in: 500_000_000...899_999_999, using: &rng))),
                    "email": .text("\(first.lowercased()).\(last.lowercased())@example.pl"),
                    "attributes": .null,
                    "consents": Bool.random(using: &rng) ? .text("{\"marketing\":\"2024-11-25T08:00:00Z\"}") : .null,
                    "reverse_charge": .bool(false), "country": .text("PL"), "national_id": .null,
                    "trade_register": business ? .text("KRS " + String(Int.random(in: 100_000...999_999, using: &rng))) : .null,
                    "id_document": .null, "currency": .text("PLN"), "corporate_customer": .null,
                    "lowest_price": .bool(business), "deleted": .bool(false), "origin_node": .text(node),
                ]
                changes.append(Change(seq: seq, hlc: hlc, node: node, entity: .partner, key: code, op: .insert, fields: fields))
            case 2, 3:
                let code = partners.randomElement(using: &rng)!
                let (city, zip) = cities.randomElement(using: &rng)!
                let addressSeq = Int64.random(in: 0...2, using: &rng)
                let street = streets.randomElement(using: &rng)! + " " + String(Int.random(in: 1...200, using: &rng))
                let postal = zip + String(format: "%03d", Int.random(in: 0...999, using: &rng))
                changes.append(Change(seq: seq, hlc: hlc, node: node, entity: .address, key: "\(code)|WAW|\(addressSeq)", op: .insert, fields: [
                    "partner_code": .text(code), "site": .text("WAW"), "seq": .int(addressSeq),
                    "label": addressSeq == 0 ? .null : .text("Dostawa \(addressSeq)"),
                    "street": .text(street), "city": .text(city), "postal_code": .text(postal), "country": .text("PL"),
                ]))
            case 4, 5, 6, 7:
                documentNumber += 1
                let kind = ["receipt", "invoice", "order", "receivable"].randomElement(using: &rng)!
                let id = node + "-" + kind.prefix(1).uppercased() + String(format: "%06d", documentNumber)
                changes.append(Change(seq: seq, hlc: hlc, node: node, entity: .document, key: id, op: .insert, fields: [
                    "id": .text(id), "kind": .text(kind), "partner_code": .text(partners.randomElement(using: &rng)!),
                    "address_seq": .int(Int64.random(in: 0...2, using: &rng)), "site": .text("WAW"),
                    "amount_minor": .int(Int64.random(in: -5_000...250_000, using: &rng)), "currency": .text("PLN"),
                    "status": .text(Bool.random(using: &rng) ? "open" : "settled"),
                    "issued_at": .text(iso.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))),
                    "node": .text(node),
                ]))
            default:
                let code = partners.randomElement(using: &rng)!
                changes.append(Change(seq: seq, hlc: hlc, node: node, entity: .partner, key: code, op: .update, fields: [
                    "phone": .text("+48 " + String(Int.random(in: 500_000_000...899_999_999, using: &rng))),
                    "email": .text("kontakt" + String(Int.random(in: 1...999, using: &rng)) + "@example.pl"),
                ]))
            }
        }
        return changes
    }

    /// Builds a batch around a hand-made payload, with a correct header CRC and, unless
    /// overridden, correct lengths and payload CRC.
    static func assemble(node: String = node, firstSeq: Int64, lastSeq: Int64, count: UInt32, payload: [UInt8],
                         declaredLength: UInt32? = nil, crc: UInt32? = nil, body: [UInt8]? = nil) throws -> [UInt8] {
        let body = try body ?? Zlib.compress(payload)
        let header = BatchHeader(node: node, firstSeq: firstSeq, lastSeq: lastSeq, count: count,
                                 uncompressedLength: declaredLength ?? UInt32(payload.count),
                                 crc32: crc ?? Zlib.crc32(payload), compressedLength: UInt32(body.count))
        return try header.encoded() + body
    }

    /// Replaces the header of `batch` with `transform(header)` (re-computing the header CRC).
    static func rewriteHeader(_ batch: [UInt8], _ transform: (inout BatchHeader) -> Void) throws -> [UInt8] {
        var header = try BatchCodec.decodeHeader(batch)
        transform(&header)
        return try header.encoded() + batch[BatchHeader.size...]
    }

    /// The zlib body of a valid batch, inflated.
    static func payload(of batch: [UInt8]) throws -> [UInt8] {
        try Zlib.decompress(Array(batch[BatchHeader.size...]), limit: 1 << 30)
    }
}

extension Array where Element == UInt8 {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
