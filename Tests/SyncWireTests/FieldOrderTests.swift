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
}
