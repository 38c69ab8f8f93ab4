// The seed corpus of the fuzz targets, made the way a store makes its pushes: journal entries
// as the store keeps them (fields as canonical JSON text), put into batches by `BatchWriter`
// straight from that text, as `SyncRound` does. `POSNODE_FUZZ_SEEDS=DIR fuzz-X` writes the
// seeds of target X into DIR and exits (Scripts/fuzz.sh does this before each run).
import Foundation
@testable import SyncModel
@testable import SyncWire

enum Seeds {
    /// Journal entries of one store: partners (consumers and businesses), addresses,
    /// documents, updates, deletions, a move; texts with escapes, non-Latin letters, emoji.
    static func journal(node: String, count: Int, seed: UInt64) -> [(seq: Int64, hlc: HLC, entity: Entity, op: ChangeOp, key: String, json: String)] {
        var rng = SeededRandom(seed: seed)
        var out: [(Int64, HLC, Entity, ChangeOp, String, String)] = []
        var partners: [String] = []
        var millis: UInt64 = 1_764_000_000_000
        let names = ["Anna", "Zażółć", "Gęślą \"Jaźń\"", "Müller\\Schmidt", "山田 太郎", "Zoë 😀", "tab\there", "line\nbreak"]
        for i in 0..<count {
            millis += UInt64.random(in: 0...3_000, using: &rng)
            let seq = Int64(i + 1), hlc = HLC(millis: millis, counter: UInt16.random(in: 0...2, using: &rng))
            let roll = partners.isEmpty ? 0 : Int.random(in: 0..<12, using: &rng)
            var fields: Fields
            switch roll {
            case 0, 1, 2:
                let code = "\(node)-\(partners.count + 1)"
                partners.append(code)
                let business = Bool.random(using: &rng)
                fields = ["code": .text(code), "kind": .text(business ? "business" : "consumer"),
                          "first_name": business ? .null : .text(names.randomElement(using: &rng)!),
                          "last_name": business ? .null : .text(names.randomElement(using: &rng)!),
                          "name": business ? .text("Firma " + names.randomElement(using: &rng)!) : .null,
                          "vat_id": business ? .text("PL" + String(Int.random(in: 1_000_000_000...9_999_999_999, using: &rng))) : .null,
                          "national_id": business ? .null : .text(String(Int.random(in: 10_000_000_000...99_999_999_999, using: &rng))),
                          "country": .text("PL"), "lowest_price": .bool(business), "deleted": .bool(false),
                          "consents": .text("{\"marketing\":\"2026-11-25T08:00:00Z\"}"), "origin_node": .text(node)]
                out.append((seq, hlc, .partner, .insert, code, FlatJSON.encode(fields)))
            case 3, 4:
                let code = partners.randomElement(using: &rng)!, n = Int64.random(in: 0...3, using: &rng)
                fields = ["partner_code": .text(code), "site": .text("WAW"), "seq": .int(n), "street": .text("ul. Świętokrzyska \(n + 1)/3"),
                          "city": .text("Warszawa"), "postal_code": .text("00-916"), "country": .text("PL"), "label": n == 0 ? .null : .text("Dostawa")]
                out.append((seq, hlc, .address, .insert, "\(code)|WAW|\(n)", FlatJSON.encode(fields)))
            case 5, 6, 7:
                let id = "\(node)-R\(i)"
                fields = ["id": .text(id), "kind": .text(["receipt", "invoice", "order"].randomElement(using: &rng)!),
                          "partner_code": .text(partners.randomElement(using: &rng)!), "address_seq": .int(0),
                          "amount_minor": .int(Int64.random(in: -99_999_999_999...99_999_999_999, using: &rng)), "currency": .text("PLN"),
                          "status": .text("open"), "issued_at": .text("2026-12-03T10:00:00Z"), "node": .text(node)]
                out.append((seq, hlc, .document, .insert, id, FlatJSON.encode(fields)))
            case 8, 9:
                let code = partners.randomElement(using: &rng)!
                fields = ["phone": .text("+48 \(Int.random(in: 500_000_000...899_999_999, using: &rng))"), "email": .null,
                          "attributes": .text("{\"tier\":\"gold\"}")]
                out.append((seq, hlc, .partner, .update, code, FlatJSON.encode(fields)))
            case 10:
                out.append((seq, hlc, .partner, .delete, partners.randomElement(using: &rng)!, FlatJSON.encode(["deleted": .bool(true)])))
            default:
                let code = partners.randomElement(using: &rng)!
                fields = ["current_code": .text(code), "current_seq": .int(seq - 1), "new_code": .text("\(code)-M"), "new_seq": .int(seq),
                          "from_site": .text("KRK")]
                out.append((seq, hlc, .move, .insert, "move-\(i)", FlatJSON.encode(fields)))
            }
        }
        return out
    }

    /// Batches of several sizes from several stores, as their pushes carry them.
    static func batches() throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        for (i, size) in [1, 2, 3, 5, 8, 13, 40, 120].enumerated() {
            let node = ["WAW1", "KRK-02", "GDA_3", "München-Ost"][i % 4]
            var writer = BatchWriter(node: node)
            for e in journal(node: node, count: size, seed: UInt64(i + 1)) {
                try Array(e.json.utf8).withUnsafeBufferPointer {
                    try writer.appendJournal(seq: e.seq, hlc: e.hlc, node: node, entity: e.entity, op: e.op, key: e.key, fieldsJSON: $0)
                }
            }
            out.append(try writer.finish())
        }
        return out
    }

    static func write(_ seeds: [[UInt8]], to dir: String) {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (i, s) in seeds.enumerated() {
            _ = FileManager.default.createFile(atPath: "\(dir)/seed-\(i)", contents: Data(s))
        }
    }

    /// Writes the seeds of `target` when `POSNODE_FUZZ_SEEDS` names a folder, then exits.
    static func writeIfAsked(_ target: (_ batches: [[UInt8]]) throws -> [[UInt8]]) {
        guard let dir = ProcessInfo.processInfo.environment["POSNODE_FUZZ_SEEDS"] else { return }
        do { write(try target(batches()), to: dir) } catch {
            FileHandle.standardError.write(Data("seeds not written: \(error)\n".utf8))
            exit(1)
        }
        exit(0)
    }
}
