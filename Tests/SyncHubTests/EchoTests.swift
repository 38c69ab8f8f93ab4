import Foundation
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting
import SyncWire

@Suite("Pulls leave out what the node sent itself")
struct EchoTests {
    @Test("a node's own new rows are not sent back; other nodes get them; edits, merges and renames are sent back")
    func ownRowsSkipped() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        // Both stores were online once (bootstrapped); a first snapshot sends everything.
        try await world.sync("A")
        try await world.sync("B")
        _ = try a.addPartner(consumer("1001"))
        _ = try a.addAddress(Address(partnerCode: "1001", site: "WAW", seq: 1, street: "Prosta 1"))
        _ = try a.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 1999, currency: "PLN")
        let first = try await world.sync("A")
        #expect(first.pushedEntries == 3)
        #expect(first.pulledChanges == 0, "A's own three rows came back")
        let atB = try await world.sync("B")
        #expect(atB.pulledChanges == 3)

        // B edits A's partner: the merged image goes to A.
        try b.updatePartner(code: "1001", changes: ["phone": .text("+48 600 100 200")])
        try await world.sync("B")
        let back = try await world.sync("A")
        #expect(back.pulledChanges == 1)
        #expect(try a.partner(code: "1001")?.phone == "+48 600 100 200")

        // A's own edit is merged by the hub (not a new row as sent): it comes back.
        try a.updatePartner(code: "1001", changes: ["email": .text("anna@shop.pl")])
        let edit = try await world.sync("A")
        #expect(edit.pulledChanges == 1)

        // A clash: B's 2002 reached the hub first, A's is stored as K1-2002 and comes back renamed.
        _ = try b.addPartner(consumer("2002", first: "Bea"))
        try await world.sync("B")
        _ = try a.addPartner(consumer("2002", first: "Ala"))
        let clash = try await world.sync("A")
        #expect(clash.renames.map(\.newCode) == ["K1-2002"])
        #expect(try a.partner(code: "K1-2002")?.firstName == "Ala")
        #expect(try a.partner(code: "2002")?.firstName == "Bea")
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("a store that holds fewer of its own entries than the hub applied (restored from a backup) gets them back")
    func restoredNodeGetsItsRows() throws {
        let world = try World()
        var p = consumer("3003").fields
        p["origin_node"] = .text("A")
        try world.push("A", [change("A", 1, hlc: 1 << 16, .partner, "3003", .insert, p)])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 1)).changes.isEmpty)
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 0)).changes.map(\.key) == ["3003"])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("B", 5)).changes.map(\.key) == ["3003"])
        // The skipped row still moves the cursor.
        let page = try world.hub.feed(after: 0, limit: 100, own: ("A", 1))
        #expect(page.nextCursor > 0 && !page.more)
    }
}

@Suite("Pulls leave out a store's own edits the hub took as sent")
struct EditEchoTests {
    @Test("edits of a row the store holds exactly as the hub does are not sent back; after another store's change they are")
    func ownEditsSkipped() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        try await world.sync("A")
        try await world.sync("B")
        // Created and edited in one push, then edited again in a later push.
        _ = try a.addPartner(consumer("1001"))
        _ = try a.updatePartner(code: "1001", changes: ["phone": .text("+48 600 100 200")])
        #expect(try await world.sync("A").pulledChanges == 0)
        _ = try a.updatePartner(code: "1001", changes: ["email": .text("anna@shop.pl")])
        #expect(try await world.sync("A").pulledChanges == 0)
        #expect(try await world.sync("B").pulledChanges == 1)

        // B changes the row: A's next edit lands on B's image, so the merged row comes back.
        _ = try b.updatePartner(code: "1001", changes: ["salutation": .text("Pani")])
        try await world.sync("B")
        _ = try a.updatePartner(code: "1001", changes: ["phone": .text("+48 600 999 999")])
        let merged = try await world.sync("A")
        #expect(merged.pulledChanges == 1)
        #expect(try a.partner(code: "1001")?.salutation == "Pani")
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("hand-made pushes: an edit as sent keeps A's own row A's; after B's edit, or when the hub renamed the row, it comes back")
    func handMadePushes() throws {
        let world = try World()
        func partner(_ code: String) -> Fields {
            var p = consumer(code).fields
            p["origin_node"] = .text("A")
            return p
        }
        try world.push("A", [change("A", 1, hlc: 300 << 16, .partner, "4004", .insert, partner("4004")),
                             change("A", 2, hlc: 301 << 16, .partner, "4004", .update, ["phone": .text("1")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 2)).changes.isEmpty)
        try world.push("A", [change("A", 3, hlc: 302 << 16, .partner, "4004", .update, ["email": .text("a@b.pl")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes.isEmpty)
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("B", 0)).changes.first?.fields["email"] == .text("a@b.pl"))

        try world.push("B", [change("B", 1, hlc: 400 << 16, .partner, "4004", .update, ["salutation": .text("Pan")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes.map(\.key) == ["4004"])
        try world.push("A", [change("A", 4, hlc: 500 << 16, .partner, "4004", .update, ["phone": .text("2")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 4)).changes.map(\.key) == ["4004"])

        // B's 5005 came first: A's is stored as K1-5005 and A's edit (of "5005") is mapped onto it.
        var b5005 = consumer("5005").fields
        b5005["origin_node"] = .text("B")
        try world.push("B", [change("B", 2, hlc: 600 << 16, .partner, "5005", .insert, b5005)])
        let reply = try world.push("A", [change("A", 5, hlc: 700 << 16, .partner, "5005", .insert, partner("5005")),
                                         change("A", 6, hlc: 701 << 16, .partner, "5005", .update, ["phone": .text("3")])])
        #expect(reply.results.first?.newCode == "K1-5005")
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 6)).changes.map(\.key).contains("K1-5005"))
    }
}

@Suite("A store whose edit the hub refused or outvoted gets the hub's row back")
struct RefusedEditTests {
    func partner(_ code: String, phone: String) -> Fields {
        var p = consumer(code).fields
        p["origin_node"] = .text("A")
        p["phone"] = .text(phone)
        return p
    }

    @Test("an edit that loses every field to a newer value is sent back, and A's next edit does not hide it")
    func outvotedEdit() throws {
        let world = try World()
        try world.push("A", [change("A", 1, hlc: 100 << 16, .partner, "P1", .insert, partner("P1", phone: "111")),
                             change("A", 2, hlc: 150 << 16, .partner, "P1", .update, ["phone": .text("222")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 2)).changes.isEmpty)
        // B sets the value the hub already has, with a newer clock: no change, but the field's clock moves.
        try world.push("B", [change("B", 1, hlc: 300 << 16, .partner, "P1", .update, ["phone": .text("222")])])
        // A's older edit loses; A holds 333 and must get 222 back.
        try world.push("A", [change("A", 3, hlc: 200 << 16, .partner, "P1", .update, ["phone": .text("333")])])
        let back = try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes
        #expect(back.map(\.key) == ["P1"])
        #expect(back.first?.fields["phone"] == .text("222"))
        try world.push("A", [change("A", 4, hlc: 400 << 16, .partner, "P1", .update, ["email": .text("a@b.pl")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 4)).changes.map(\.key) == ["P1"])
    }

    @Test("an address or document sent again unchanged does not feed its row again")
    func unchangedResendQuiet() async throws {
        let world = try World()
        let a = world.store("A")
        _ = try a.addPartner(consumer("P3"))
        let address = try a.addAddress(Address(partnerCode: "P3", site: "WAW", seq: 1, street: "Prosta 1"))
        let doc = try a.addDocument(kind: .receipt, partnerCode: "P3", amountMinor: 100, currency: "PLN")
        try await world.sync("A")
        let end = try world.hub.feed(after: 0, limit: 100).nextCursor
        let seq = try world.hub.node("A").lastSeq
        let later = (HLC.nowMillis + 60_000) << 16
        try world.push("A", [change("A", seq + 1, hlc: later, .address, address.key, .update, address.fields),
                             change("A", seq + 2, hlc: later + 1, .document, doc.id, .insert, doc.fields)])
        let fed = try world.hub.feed(after: end, limit: 100).changes
        #expect(fed.isEmpty, "\(fed.map { "\($0.entity) \($0.key) \($0.fields)" })")
    }

    @Test("a refused edit of an existing row is sent back, and A's next accepted edit does not hide it")
    func refusedEdit() throws {
        let world = try World()
        try world.push("A", [change("A", 1, hlc: 100 << 16, .partner, "P2", .insert, partner("P2", phone: "111"))])
        let reply = try world.push("A", [change("A", 2, hlc: 200 << 16, .partner, "P2", .update, ["first_name": .text("")])])
        #expect(reply.results.first?.outcome == .rejected)
        let back = try world.hub.feed(after: 0, limit: 100, own: ("A", 2)).changes
        #expect(back.first?.fields["first_name"] == .text("Anna"))
        try world.push("A", [change("A", 3, hlc: 300 << 16, .partner, "P2", .update, ["phone": .text("222")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes.map(\.key) == ["P2"])
    }
}

@Suite("Push batches stay inside the hub's size limits")
struct BatchSizeTests {
    @Test("entries with long texts are split into batches below the hub's compressed limit; every entry is applied")
    func longTextsSplit() async throws {
        let world = try World()
        let a = world.store("A")
        try await world.sync("A")
        // Random-looking text compresses badly: 40 partners with about 1.5 KB of attributes each against a 16 KiB limit.
        var rng = SeededRandom(seed: 3)
        for i in 1...40 {
            let noise = String((0..<1500).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &rng)! })
            _ = try a.addPartner(Partner(code: "L\(i)", kind: .business, name: "L\(i)", attributes: ["note": noise], country: "PL"))
        }
        let limits = BatchLimits(maxCompressedBytes: 16 << 10, maxUncompressedBytes: 1 << 20, maxEntries: 1000)
        let transport = InProcessHubTransport(hub: world.hub, node: try world.hub.node("A"), limits: limits)
        let summary = try await SyncRound(store: a, transport: transport, limits: limits).run()
        #expect(summary.pushedEntries == 40)
        #expect(summary.applied == 40)
        #expect(summary.pushedBatches >= 5, "40 × 1.5 KB in batches of at most 8 KiB")
        #expect(try world.hub.partnerExists(code: "L40"))
    }
}

/// Passes calls to the hub but fails the `failAt`-th snapshot page, like a connection cut mid-snapshot.
final class SnapshotCut: HubTransport, @unchecked Sendable {
    let inner: InProcessHubTransport
    let failAt: Int
    private let lock = NSLock()
    private var snapshots = 0

    init(_ inner: InProcessHubTransport, failAt: Int) { self.inner = inner; self.failAt = failAt }

    func push(batch: [UInt8], renamesApplied: Int64, pendingAfter: Int) async throws -> PushReply {
        try await inner.push(batch: batch, renamesApplied: renamesApplied, pendingAfter: pendingAfter)
    }
    func pull(cursor: Int64, maxEntries: Int, ownThrough: Int64) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try await inner.pull(cursor: cursor, maxEntries: maxEntries, ownThrough: ownThrough)
    }
    func snapshot(cursor: Int64, maxEntries: Int) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        let n = lock.withLock { snapshots += 1; return snapshots }
        if n == failAt { throw CancellationError() }
        return try await inner.snapshot(cursor: cursor, maxEntries: maxEntries)
    }
}

@Suite("Snapshot cut off part-way")
struct SnapshotResumeTests {
    @Test("a new store's first snapshot is cut after one page: the next round resumes it and the store gets its own rows back")
    func resumesAsSnapshot() async throws {
        let world = try World()
        let a = world.store("A"), c = world.store("C")
        for i in 1...4 { try a.addPartner(consumer("A\(i)")) }
        try await world.sync("A")
        // C sold offline before its first sync: its rows reach the hub after A's, so they sit on later pages.
        for i in 1...3 { try c.addPartner(consumer("C\(i)")) }
        try c.addDocument(kind: .receipt, partnerCode: "C1", amountMinor: 500, currency: "PLN")
        let inner = InProcessHubTransport(hub: world.hub, node: try world.hub.node("C"))
        await #expect(throws: CancellationError.self) {
            try await SyncRound(store: c, transport: SnapshotCut(inner, failAt: 2), pullBatchEntries: 3).run()
        }
        #expect(try c.config().bootstrapped == false, "a cut snapshot must not count as a bootstrap")
        let resumed = try await SyncRound(store: c, transport: inner, pullBatchEntries: 3).run()
        #expect(resumed.bootstrapped)
        #expect(try c.config().bootstrapped)
        for code in ["A1", "A4", "C1", "C2", "C3"] { #expect(try c.partner(code: code) != nil, "\(code) missing") }
        #expect(try c.documents(partnerCode: "C1").count == 1)
        #expect(try c.stateHash() == world.hub.stateHash())
    }
}

@Suite("Hub node list")
struct HubNodeListTests {
    @Test("the node list shows last push and last pull; a pull is recorded at most once a minute")
    func lastSeen() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("7001"))
        try await world.sync("A")
        let a = try #require(try world.hub.nodes().first { $0.node == "A" })
        #expect(a.lastPushAt != nil)
        #expect(a.lastPullAt == nil, "pulls are recorded by the HTTP handler")
        try world.hub.markPulled(node: "A")
        #expect(try world.hub.nodes().first { $0.node == "A" }?.lastPullAt != nil)
        #expect(try world.hub.nodes().first { $0.node == "B" }?.lastPushAt == nil)
        func setPull(_ value: String) throws {
            try world.hub.pool.write { try $0.execute(sql: "UPDATE hub_node SET last_pull_at = ? WHERE node_id = 'A'", arguments: [value]) }
        }
        try setPull("2000-01-01T00:00:00Z")
        try world.hub.markPulled(node: "A")
        #expect(try world.hub.nodes().first { $0.node == "A" }?.lastPullAt != "2000-01-01T00:00:00Z")
        // Within the same minute (here: a value from the future) nothing is written.
        try setPull("2999-01-01T00:00:00Z")
        try world.hub.markPulled(node: "A")
        #expect(try world.hub.nodes().first { $0.node == "A" }?.lastPullAt == "2999-01-01T00:00:00Z")
    }
}
