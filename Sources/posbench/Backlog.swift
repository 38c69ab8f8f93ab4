import Foundation
import GRDB
import SyncModel
import SyncStore

/// Deterministic offline workload for a node: partner creates, edits of earlier partners,
/// and receipts, written through the node's real write path in shared transactions.
enum Backlog {
    struct Mix { var creates = 0, edits = 0, receipts = 0 }

    static func partner(_ i: Int) -> Partner {
        i % 3 == 0
            ? Partner(code: "B\(i)", kind: .business, name: "Hurtownia \(i) Sp. z o.o.", vatID: nil, phone: "+48 22 \(100_000 + i)",
                      email: "biuro\(i)@hurtownia.pl", country: "PL")
            : Partner(code: "C\(i)", kind: .consumer, firstName: ["Anna", "Jan", "Ewa", "Piotr"][i % 4],
                      lastName: ["Nowak", "Kowalski", "Wiśniewska", "Wójcik"][i % 4] + "\(i)", phone: "+48 600 \(100_000 + i)",
                      email: "klient\(i)@poczta.pl", country: "PL")
    }

    /// Writes `count` changes to `store` (40 % creates, 30 % edits, 30 % receipts).
    @discardableResult
    static func write(_ store: NodeStore, count: Int, seed: UInt64 = 1, progress: (Int) -> Void = { _ in }) throws -> Mix {
        var rng = SeededRandom(seed: seed)
        var mix = Mix()
        var codes: [String] = []
        var done = 0
        while done < count {
            let chunk = min(10_000, count - done)
            try store.transaction { tx in
                for _ in 0..<chunk {
                    let roll = Int(rng.next() % 10)
                    if roll < 4 || codes.isEmpty {
                        let p = partner(mix.creates + 1)
                        try tx.addPartner(p)
                        codes.append(p.code)
                        mix.creates += 1
                    } else if roll < 7 {
                        let code = codes[Int(rng.next() % UInt64(codes.count))]
                        try tx.updatePartner(code: code, changes: ["phone": .text("+48 700 \(rng.next() % 1_000_000)")])
                        mix.edits += 1
                    } else {
                        let code = codes[Int(rng.next() % UInt64(codes.count))]
                        try tx.addDocument(kind: .receipt, partnerCode: code, amountMinor: Int64(rng.next() % 50_000) + 100, currency: "PLN")
                        mix.receipts += 1
                    }
                }
            }
            done += chunk
            progress(done)
        }
        return mix
    }
}
