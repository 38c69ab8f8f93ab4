import Foundation
import Testing
@testable import SyncModel

@Suite("The columns validation reads")
struct CheckedColumnsTests {
    @Test("changing any column outside PartnerValidator.checkedColumns never changes a partner's problems")
    func otherColumnsDoNotMatter() throws {
        let partners = [
            Partner(code: "1001", kind: .consumer, firstName: "Anna", lastName: "Nowak", country: "PL"),
            Partner(code: "B7", kind: .business, name: "Hurt Sp. z o.o.", vatID: "5260250274", country: "PL"),
            Partner(code: "X1", kind: .consumer, firstName: " ", email: "broken@", country: "pl", nationalID: "123"),
            Partner(code: "Y2", kind: .business, birthDate: "1984-13-40", country: "DE", currency: "eu"),
        ]
        let texts: [FieldValue] = [.null, .text(""), .text(" "), .text("x@"), .text("PL"), .text("12345678901"), .text("1984-05-14"),
                                   .text("{\"a\":\"b\"}"), .text("ż"), .bool(true), .bool(false), .int(7)]
        for partner in partners {
            let before = PartnerValidator.problems(partner)
            for (i, column) in Partner.columns.enumerated() where !PartnerValidator.checkedColumns.contains(column) {
                for value in texts {
                    var values = partner.columnValues
                    values[i] = value
                    let changed = try Partner(columnValues: values)
                    #expect(PartnerValidator.problems(changed) == before, "\(column) = \(value) changed the problems of \(partner.code)")
                }
            }
        }
    }
}
