import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

@Suite("Dates")
struct DateTests {
    @Test("ISO dates match Foundation's formatter across eras, leap days and the end of a year")
    func isoMatchesFoundation() {
        let formatter = ISO8601DateFormatter()
        for millis: UInt64 in [0, 951_782_400_000, 1_709_164_800_000, 1_735_689_599_999, 1_795_595_560_829, 4_102_444_800_000] {
            #expect(AuditRecord.iso(millis: millis) == formatter.string(from: Date(timeIntervalSince1970: Double(millis / 1000))))
        }
    }
}
