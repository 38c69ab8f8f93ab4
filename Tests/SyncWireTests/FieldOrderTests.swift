import Foundation
import SyncModel
@testable import SyncWire
import Testing

@Suite("Field order")
struct FieldOrderTests {
    @Test("the precomputed rank of every known field name orders them as their UTF-8 bytes do")
    func ranksMatchNameOrder() {
        let names = BatchFormat.fieldNames
        for a in names.indices {
            for b in names.indices where a != b {
                let byName = names[a].utf8.lexicographicallyPrecedes(names[b].utf8)
                let byRank = BatchFormat.fieldRanks[a] < BatchFormat.fieldRanks[b]
                #expect(byName == byRank, "\(names[a]) vs \(names[b])")
            }
        }
    }

    @Test("known and other field names mixed are written in the order of their UTF-8 bytes")
    func mixedNamesInByteOrder() throws {
        // Other names before, between and after the known ones, and names that are prefixes.
        let names = ["aaa", "amount_minor", "category", "code", "customer_category", "kind", "lines", "lowest", "zeta", "名前", "", "code_x"]
        var fields: Fields = [:]
        for name in names { fields[name] = .text("<\(name)>") }
        var encoder = PayloadEncoder(headerNode: "N")
        encoder.append(Change(seq: 1, hlc: .zero, node: "N", entity: .partner, key: "K", op: .insert, fields: fields))
        let bytes = encoder.bytes
        func offset(_ marker: String) -> Int? {
            let m = Array(marker.utf8)
            return bytes.indices.first { i in i + m.count <= bytes.count && Array(bytes[i..<(i + m.count)]) == m }
        }
        let written = try names.map { name in (name, try #require(offset("<\(name)>"), "\(name)")) }.sorted { $0.1 < $1.1 }.map(\.0)
        #expect(written == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    }
}
