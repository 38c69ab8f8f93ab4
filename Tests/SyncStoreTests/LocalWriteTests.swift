import Foundation
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

@Suite("What a local write stores")
struct LocalWriteTests {
    @Test("a new partner's journal entry leaves out its null fields, and the row is the same when the entry is applied")
    func newPartnerImageWithoutNulls() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let saved = try fixture.store.addPartner(anna())
        let entry = try #require(fixture.store.pendingJournal().first)
        #expect(!entry.change.fields.values.contains(.null))
        #expect(entry.change.fields["salutation"] == nil && entry.change.fields["last_name"] == .text("Nowak"))
        #expect(try Partner(fields: entry.change.fields) == saved)
    }

    @Test("no partner index takes a page for a column nobody searches by")
    func noUnusedPartnerIndexes() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let indexes = try fixture.store.pool.read {
            try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'partner' AND sql IS NOT NULL ORDER BY name")
        }
        #expect(indexes == ["partner_nip"])
    }
}
